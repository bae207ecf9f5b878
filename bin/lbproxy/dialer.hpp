// The route of the running proxy (route.hpp), shared by relayed requests
// and CONNECT tunnels. A representative name goes through
// Chooser::choose; a server whose connect fails is marked suspect and
// another one is chosen, excluding every server already tried. Any other
// host is connected to as it is (DIRECT). Pooled keep-alive connections are
// used when the caller allows.
#pragma once
#include <string>
#include <string_view>

#include "context.hpp"
#include "route.hpp"

namespace lbproxy {

class Dialer final : public Route, public http::UpstreamUser {
public:
    Dialer(Context& ctx, RouteUser& user) : ctx_(ctx), user_(user) {}
    ~Dialer();
    Dialer(const Dialer&) = delete;
    Dialer& operator=(const Dialer&) = delete;

    // Context::make_route of the running proxy.
    static std::unique_ptr<Route> make(Context& ctx, RouteUser& user);

    void start(std::string_view host, uint16_t port, bool pooled) override;
    void redial_same() override;
    bool redial_other(const std::string& why) override;
    std::string give_up(const std::string& why) override;
    void cancel() override;

    bool is_group() const override { return !group_.empty(); }
    const std::string& group() const override { return group_; }
    const std::string& server() const override { return server_; }
    ServerId server_id() const override { return id_; }
    const lbkit::HostPort& target() const override { return target_; }
    const std::string& upstream_proxy() const override { return hop_.name; }
    void reset();

private:
    void choose();
    void on_choice(Choice c);
    void connect();
    void note_failure(const std::string& why);
    std::string unreachable() const;
    // For a name that did not resolve while no state has arrived: it may be
    // a representative name that the proxy does not know yet.
    std::string unresolved_note(http::ConnectFailure kind) const;
    void upstream_connected(http::UpstreamConn& conn) override;
    void upstream_failed(http::UpstreamConn& conn, http::ConnectFailure kind, const std::string& why) override;

    Context& ctx_;
    RouteUser& user_;
    std::string group_, server_;
    lbkit::HostPort target_;
    UpstreamHop hop_;
    ServerId id_ = no_server;
    ServerIds tried_;
    std::string failures_;  // "server: why" of each server tried, "; " between
    bool last_timeout_ = false;
    bool pooled_ = true;
    ChoiceHandle choice_;
    http::UpstreamConn* connecting_ = nullptr;
};

}  // namespace lbproxy
