#include "tunnel.hpp"

#include <algorithm>

#include "error.hpp"
#include "error_page.hpp"
#include "log.hpp"

namespace lbproxy {

namespace {

constexpr char established[] = "HTTP/1.1 200 Connection established\r\n\r\n";

// Moves what fits from one side to the other; returns the bytes moved.
std::size_t shovel(evbuffer* from, evbuffer* to)
{
    std::size_t queued = evbuffer_get_length(to);
    if (queued >= http::relay_buffer_limit)
        return 0;
    std::size_t n = std::min(evbuffer_get_length(from), http::relay_buffer_limit - queued);
    if (n)
        evbuffer_remove_buffer(from, to, n);
    return n;
}

}  // namespace

Tunnel::Tunnel(Context& ctx, TunnelOwner& owner) : ctx_(ctx), owner_(owner), dialer_(ctx, *this) {}

Tunnel::~Tunnel()
{
    if (in_flight_)
        ctx_.selection.request_finished(dialer_.server());
    ctx_.pool.release(upstream_, false);
}

void Tunnel::begin(const http::Target& t, std::string_view url, std::size_t head_size)
{
    active_ = true;
    start_ms_ = last_active_ms_ = ctx_.now_ms();
    url_.assign(url);
    bytes_in_ = int64_t(head_size);
    std::string host(t.host);  // t's views end with the head drained here
    evbuffer_drain(owner_.client().in(), head_size);
    ctx_.metrics.tunnels.inc();
    // Tunnels never share a server connection: no pool.
    dialer_.start(host, t.port, false);
}

void Tunnel::dialed(http::UpstreamConn* conn)
{
    upstream_ = conn;
    conn->set_user(this);
    // A tunnel may stay quiet for long: only --idle-timeout limits it.
    conn->stream().set_timeouts(nullptr, nullptr);
    if (dialer_.is_group()) {
        ctx_.selection.request_started(dialer_.server());
        ctx_.selection.server_ok(dialer_.server());  // a tunnel's only answer is the connect
        in_flight_ = true;
    }
    status_ = 200;
    open_ = true;
    evbuffer_add(owner_.client().out(), established, sizeof established - 1);
    bytes_out_ += int64_t(sizeof established - 1);
    idle_.reset(event_new(ctx_.base, -1, 0, &idle_cb, this));
    event_add(idle_.get(), &ctx_.idle_tv);
    pump();  // bytes the client sent right after its CONNECT
}

void Tunnel::dial_failed(int status, const std::string& sentence)
{
    status_ = status;
    write_error(owner_.client().out(), {status, sentence, true, false});
    end(sentence, true);
}

void Tunnel::pump()
{
    if (!open_)
        return;
    http::Stream& client = owner_.client();
    std::size_t up = shovel(client.in(), upstream_->out());
    std::size_t down = shovel(upstream_->in(), client.out());
    bytes_in_ += int64_t(up);
    bytes_out_ += int64_t(down);
    if (up || down)
        last_active_ms_ = ctx_.now_ms();
    // Half-close: once one side said EOF and all it sent is flushed, the
    // other side hears EOF too.
    if (client_eof_ && !server_shut_ && evbuffer_get_length(client.in()) == 0
        && evbuffer_get_length(upstream_->out()) == 0) {
        server_shut_ = true;
        upstream_->stream().shutdown_write();
    }
    if (server_eof_ && !client_shut_ && evbuffer_get_length(upstream_->in()) == 0
        && evbuffer_get_length(client.out()) == 0) {
        client_shut_ = true;
        client.shutdown_write();
    }
    if (client_shut_ && server_shut_)
        end({}, false);
}

void Tunnel::client_event(short what)
{
    if (what == (BEV_EVENT_EOF | BEV_EVENT_READING)) {
        // A client may send its CONNECT, its first bytes and its FIN at
        // once, so the EOF can come while the server is still being
        // dialed: it is kept, and passed on once the tunnel opens and the
        // bytes before it are through (a failed dial answers and ends).
        client_eof_ = true;
        return pump();
    }
    int err = owner_.client().error();
    end(std::string("client went away") + (err ? ": " + lbkit::errno_text(err) : ""), false);
}

void Tunnel::upstream_event(http::UpstreamConn& conn, short what)
{
    if (what == (BEV_EVENT_EOF | BEV_EVENT_READING)) {
        server_eof_ = true;
        return pump();
    }
    int err = conn.stream().error();
    ctx_.metrics.upstream_error(UpstreamError::reset);
    end("server " + dialer_.server() + " connection failed" + (err ? ": " + lbkit::errno_text(err) : ""), false);
}

void Tunnel::idle_cb(evutil_socket_t, short, void* arg)
{
    auto* self = static_cast<Tunnel*>(arg);
    int64_t idle_ms = self->ctx_.config.idle_timeout.count();
    int64_t quiet = self->ctx_.now_ms() - self->last_active_ms_;
    if (quiet >= idle_ms)
        return self->end("tunnel idle for " + lbkit::format_duration(self->ctx_.config.idle_timeout), false);
    timeval tv = http::to_timeval(lbkit::Millis(idle_ms - quiet));
    event_add(self->idle_.get(), &tv);
}

bool Tunnel::abandon(const std::string& why)
{
    if (!active_)
        return false;
    bool pending = dialer_.cancel();
    active_ = false;
    // Delivered: the server's side ended and all it sent reached the client.
    dialer_.record(start_ms_, owner_.client_name(), "CONNECT", url_,
                   {status_, bytes_in_, bytes_out_, client_shut_, why});
    return pending;
}

void Tunnel::end(const std::string& error, bool answered)
{
    bool pending = abandon(error);
    owner_.tunnel_done(answered, pending);
}

}  // namespace lbproxy
