// CONNECT host:port: a byte tunnel between the client and the server,
// balanced by host name like any request (a representative name chooses a
// real server), with backpressure both ways, half-close passed on, and an
// inactivity limit (--idle-timeout). One history row when it ends.
#pragma once
#include <cstdint>
#include <string>

#include "route.hpp"
#include "exchange.hpp"
#include "http/request_target.hpp"
#include "http/stream.hpp"

namespace lbproxy {

class Tunnel final : public RouteUser, public http::UpstreamUser {
public:
    Tunnel(Context& ctx, ExchangeOwner& owner);
    ~Tunnel();
    Tunnel(const Tunnel&) = delete;
    Tunnel& operator=(const Tunnel&) = delete;

    // The CONNECT head (head_size bytes) is at the front of the client input.
    void begin(const http::Target& t, std::string_view url, std::size_t head_size);
    void client_readable() { pump(); }
    void client_drained() { pump(); }
    void client_event(short what);
    // As Relay::close; the row says delivered when the server's side ended
    // and all it sent reached the client.
    void close(const std::string& why, Ending how);

private:
    void dialed(http::UpstreamConn* conn) override;
    void dial_failed(int status, const std::string& sentence) override;
    void upstream_readable(http::UpstreamConn&) override { pump(); }
    void upstream_drained(http::UpstreamConn&) override { pump(); }
    void upstream_event(http::UpstreamConn&, short what) override;

    void pump();
    static void idle_cb(evutil_socket_t, short, void* arg);

    Context& ctx_;
    ExchangeOwner& owner_;
    ExchangeRecord record_;
    std::unique_ptr<Route> route_;
    http::UpstreamConn* upstream_ = nullptr;
    bool open_ = false;
    bool client_eof_ = false, server_eof_ = false;
    bool client_shut_ = false, server_shut_ = false;  // our write side closed
    int64_t last_active_ms_ = 0;
    lbkit::ev::EventPtr idle_;
};

}  // namespace lbproxy
