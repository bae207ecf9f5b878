// Step "resolve target, connect" of the request path, shared by relayed
// requests and CONNECT tunnels. A representative name goes through
// Chooser::choose; a server whose connect fails is marked suspect and
// another one is chosen, excluding every server already tried. Any other
// host is connected to as it is (DIRECT). Pooled keep-alive connections are
// used when the caller allows.
#pragma once
#include <string>
#include <string_view>

#include "context.hpp"

namespace lbproxy {

class DialerUser {
public:
    // A connection to server() is ready (fresh or from the pool). May be
    // called from inside Dialer::start.
    virtual void dialed(http::UpstreamConn* conn) = 0;
    // No connection: status 502, 503 or 504 and the sentence for the client.
    virtual void dial_failed(int status, const std::string& sentence) = 0;

protected:
    ~DialerUser() = default;
};

class Dialer final : public http::UpstreamUser {
public:
    Dialer(Context& ctx, DialerUser& user) : ctx_(ctx), user_(user) {}
    ~Dialer();
    Dialer(const Dialer&) = delete;
    Dialer& operator=(const Dialer&) = delete;

    void start(std::string_view host, uint16_t port, bool pooled);
    // The connection from dialed() failed before any response byte.
    // redial_same: a new connection to the same server (a pooled one went
    // stale). redial_other: another server of the group; false when the
    // host is not a representative name or none is left to try.
    void redial_same();
    bool redial_other(const std::string& why);
    // The exchange gives up on server() for why: the 502 sentence, naming
    // every server tried and why it failed.
    std::string give_up(const std::string& why);
    // Stops whatever is in progress: a connection being opened is closed, an
    // outstanding choice is cancelled (its answer is dropped).
    void cancel();

    bool is_group() const { return !group_.empty(); }
    const std::string& group() const { return group_; }
    const std::string& server() const { return server_; }  // chosen server or "host:port"
    ServerId server_id() const { return id_; }              // no_server when the host is no group
    const lbkit::HostPort& target() const { return target_; }
    const std::string& upstream_proxy() const { return hop_.name; }
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
    DialerUser& user_;
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
