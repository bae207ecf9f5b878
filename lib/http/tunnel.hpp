// CONNECT host:port: a byte tunnel between the client and the server,
// reached through the route like any request (a representative name
// chooses a real server), with backpressure both ways, half-close passed
// on, and an inactivity limit (RelayLimits::idle_timeout). Through an
// upstream proxy the CONNECT is chained: the proxy is asked for the server
// and the tunnel opens on its 2xx (proxy_connect.hpp). One row
// (exchange_row.hpp) when it ends.
#pragma once
#include <cstdint>
#include <string>

#include "http/exchange.hpp"
#include "http/relay_context.hpp"
#include "http/request_target.hpp"
#include "http/route.hpp"
#include "http/stream.hpp"

namespace lbkit::http {

class Tunnel final : public RouteUser, public UpstreamUser {
public:
    Tunnel(RelayContext& ctx, ExchangeOwner& owner);
    ~Tunnel();
    Tunnel(const Tunnel&) = delete;
    Tunnel& operator=(const Tunnel&) = delete;

    // The CONNECT head (head_size bytes) is at the front of the client input.
    void begin(const Target& t, std::string_view url, std::size_t head_size);
    void client_readable() { pump(); }
    void client_drained() { pump(); }
    void client_event(short what);
    // As Relay::close; the row says delivered when the server's side ended
    // and all it sent reached the client.
    void close(const std::string& why, Ending how);

private:
    void dialed(UpstreamConn* conn) override;
    void dial_failed(int status, const std::string& sentence) override;
    void upstream_readable(UpstreamConn&) override { asking_proxy_ ? proxy_answered() : pump(); }
    void upstream_drained(UpstreamConn&) override { pump(); }
    void upstream_event(UpstreamConn&, short what) override;

    void ask_proxy();
    void proxy_answered();
    void open_tunnel();
    void pump();
    static void idle_cb(evutil_socket_t, short, void* arg);

    RelayContext& ctx_;
    ExchangeOwner& owner_;
    ExchangeRecord record_;
    std::unique_ptr<Route> route_;
    UpstreamConn* upstream_ = nullptr;
    bool open_ = false;
    bool asking_proxy_ = false;  // a chained CONNECT waits for the proxy's answer
    bool client_eof_ = false, server_eof_ = false;
    bool client_shut_ = false, server_shut_ = false;  // our write side closed
    int64_t last_active_ms_ = 0;
    ev::EventPtr idle_;
};

}  // namespace lbkit::http
