// lbproxy's route (lib/http/route.hpp), shared by relayed requests
// and CONNECT tunnels. A representative name goes through
// Chooser::choose; a server whose connect fails is marked suspect and
// another one is chosen, excluding every server already tried. Any other
// host is the server itself. The server's host then goes through the
// upstream stage: straight (DIRECT) or through an upstream proxy, and a
// proxy whose connect fails is left for the next one of its rule without
// blaming the server. Pooled keep-alive connections (per server, or per
// proxy) are used when the caller allows.
#pragma once
#include <string>
#include <string_view>

#include "context.hpp"
#include "http/route.hpp"

namespace lbproxy {

class Dialer final : public http::Route, public http::UpstreamUser {
public:
    Dialer(Context& ctx, http::RouteUser& user) : ctx_(ctx), user_(user) {}
    ~Dialer();
    Dialer(const Dialer&) = delete;
    Dialer& operator=(const Dialer&) = delete;

    // The engine's RelayContext::make_route, for the proxy of ctx.
    static http::RouteFactory factory(Context& ctx);

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
    const http::UpstreamHop& hop() const override { return hop_; }
    void reset();

private:
    void choose();
    void on_choice(Choice c);
    void reach();
    void connect();
    void proxy_failed(http::ConnectFailure kind, const std::string& why);
    void note_failure(const std::string& why);
    std::string unreachable() const;
    // For a name that did not resolve while no state has arrived: it may be
    // a representative name that the proxy does not know yet.
    std::string unresolved_note(http::ConnectFailure kind) const;
    void upstream_connected(http::UpstreamConn& conn) override;
    void upstream_failed(http::UpstreamConn& conn, http::ConnectFailure kind, const std::string& why) override;

    Context& ctx_;
    http::RouteUser& user_;
    std::string group_, server_;
    lbkit::HostPort target_;
    http::UpstreamHop hop_;
    std::string proxy_key_;   // the pool's key for connections through hop_
    http::TriedProxies tried_proxies_;
    ServerId id_ = no_server;
    ServerIds tried_;
    std::string failures_;  // "server: why" of each server tried, "; " between
    bool last_timeout_ = false;
    bool pooled_ = true;
    ChoiceHandle choice_;
    http::UpstreamConn* connecting_ = nullptr;
};

}  // namespace lbproxy
