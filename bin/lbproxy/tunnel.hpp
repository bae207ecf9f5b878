// CONNECT host:port: a byte tunnel between the client and the server,
// balanced by host name like any request (a representative name chooses a
// real server), with backpressure both ways, half-close passed on, and an
// inactivity limit (--idle-timeout). One history row when it ends.
#pragma once
#include <cstdint>
#include <string>

#include "dialer.hpp"
#include "http/request_target.hpp"
#include "http/stream.hpp"

namespace lbproxy {

class TunnelOwner {
public:
    virtual http::Stream& client() = 0;
    virtual const std::string& client_name() const = 0;
    // The tunnel is over (recorded); answered: an error answer waits in the
    // client output, to be flushed before closing; wait_reap: a server
    // choice is outstanding, reap() follows. Last thing the tunnel does.
    virtual void tunnel_done(bool answered, bool wait_reap) = 0;
    virtual void reap() = 0;

protected:
    ~TunnelOwner() = default;
};

class Tunnel final : public DialerUser, public http::UpstreamUser {
public:
    Tunnel(Context& ctx, TunnelOwner& owner);
    ~Tunnel();
    Tunnel(const Tunnel&) = delete;
    Tunnel& operator=(const Tunnel&) = delete;

    // The CONNECT head (head_size bytes) is at the front of the client input.
    void begin(const http::Target& t, std::string_view url, std::size_t head_size);
    void client_readable() { pump(); }
    void client_drained() { pump(); }
    void client_event(short what);
    // As Relay::abandon.
    bool abandon(const std::string& why);

private:
    void dialed(http::UpstreamConn* conn) override;
    void dial_failed(int status, const std::string& sentence) override;
    void dial_abandoned() override { owner_.reap(); }
    void upstream_readable(http::UpstreamConn&) override { pump(); }
    void upstream_drained(http::UpstreamConn&) override { pump(); }
    void upstream_event(http::UpstreamConn&, short what) override;

    void pump();
    void end(const std::string& error, bool answered);
    static void idle_cb(evutil_socket_t, short, void* arg);

    Context& ctx_;
    TunnelOwner& owner_;
    Dialer dialer_;
    http::UpstreamConn* upstream_ = nullptr;
    std::string url_;
    bool open_ = false;
    bool active_ = false;
    bool client_eof_ = false, server_eof_ = false;
    bool client_shut_ = false, server_shut_ = false;  // our write side closed
    bool in_flight_ = false;
    int status_ = 0;
    int64_t start_ms_ = 0, bytes_in_ = 0, bytes_out_ = 0, last_active_ms_ = 0;
    lbkit::ev::EventPtr idle_;
};

}  // namespace lbproxy
