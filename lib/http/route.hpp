// Step "resolve target, connect" of the request path as the relay and the
// tunnel see it: a Route gets them a connection to a server of the host the
// client named, tries another when one fails, and says which server it
// ended on. The tool plugs in its own (lbproxy: Dialer, choosing among a
// group's servers, bin/lbproxy/dialer.hpp), made per exchange through
// RelayContext::make_route, so a test can give its own.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "addr.hpp"
#include "http/server_id.hpp"
#include "http/upstream.hpp"
#include "http/upstream_hop.hpp"

namespace lbkit::http {

class RouteUser {
public:
    // A connection to server() is ready (fresh or from the pool). May be
    // called from inside Route::start.
    virtual void dialed(UpstreamConn* conn) = 0;
    // No connection: status 502, 503 or 504 and the sentence for the client.
    virtual void dial_failed(int status, const std::string& sentence) = 0;

protected:
    ~RouteUser() = default;
};

class Route {
public:
    virtual ~Route() = default;

    // pooled: an idle keep-alive connection to the server may be taken.
    virtual void start(std::string_view host, uint16_t port, bool pooled) = 0;
    // The connection from dialed() failed before any response byte.
    // redial_same: a new connection to the same server (a pooled one went
    // stale). redial_other: another server of the group; false when the
    // host is not a representative name or none is left to try.
    virtual void redial_same() = 0;
    virtual bool redial_other(const std::string& why) = 0;
    // The exchange gives up on server() for why: the 502 sentence, naming
    // every server tried and why it failed.
    virtual std::string give_up(const std::string& why) = 0;
    // Stops whatever is in progress: a connection being opened is closed, an
    // outstanding choice is cancelled (its answer is dropped).
    virtual void cancel() = 0;

    virtual bool is_group() const = 0;
    virtual const std::string& group() const = 0;
    virtual const std::string& server() const = 0;  // chosen server or "host:port"
    virtual ServerId server_id() const = 0;         // no_server when the host is no group
    virtual const HostPort& target() const = 0;
    // DIRECT, or the upstream proxy the connection goes through.
    virtual const UpstreamHop& hop() const = 0;
};

}  // namespace lbkit::http
