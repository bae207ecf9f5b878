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

Tunnel::Tunnel(Context& ctx, ExchangeOwner& owner)
    : ctx_(ctx), owner_(owner), record_(ctx), route_(ctx.make_route(ctx, *this))
{
}

Tunnel::~Tunnel()
{
    ctx_.pool.release(upstream_, false);
}

void Tunnel::begin(const http::Target& t, std::string_view url, std::size_t head_size)
{
    record_.open("CONNECT", url, int64_t(head_size));
    last_active_ms_ = ctx_.now_ms();
    std::string host(t.host);  // t's views end with the head drained here
    evbuffer_drain(owner_.client().in(), head_size);
    ctx_.metrics.tunnels.inc();
    // Tunnels never share a server connection: no pool.
    route_->start(host, t.port, false);
}

void Tunnel::dialed(http::UpstreamConn* conn)
{
    upstream_ = conn;
    conn->set_user(this);
    // A tunnel may stay quiet for long: only --idle-timeout limits it.
    conn->stream().set_timeouts(nullptr, nullptr);
    record_.in_flight(*route_);
    if (route_->is_group())
        ctx_.chooser.server_ok(route_->server_id());  // a tunnel's only answer is the connect
    record_.answered(200);
    open_ = true;
    evbuffer_add(owner_.client().out(), established, sizeof established - 1);
    record_.add_out(int64_t(sizeof established - 1));
    idle_.reset(event_new(ctx_.base, -1, 0, &idle_cb, this));
    event_add(idle_.get(), &ctx_.idle_tv);
    pump();  // bytes the client sent right after its CONNECT
}

void Tunnel::dial_failed(int status, const std::string& sentence)
{
    record_.answered(status);
    write_error(owner_.client().out(), {status, sentence, true, false});
    close(sentence, Ending::linger);
}

void Tunnel::pump()
{
    if (!open_)
        return;
    http::Stream& client = owner_.client();
    std::size_t up = shovel(client.in(), upstream_->out());
    std::size_t down = shovel(upstream_->in(), client.out());
    record_.add_in(int64_t(up));
    record_.add_out(int64_t(down));
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
        close({}, Ending::drop);
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
    close(std::string("client went away") + (err ? ": " + lbkit::errno_text(err) : ""), Ending::drop);
}

void Tunnel::upstream_event(http::UpstreamConn& conn, short what)
{
    if (what == (BEV_EVENT_EOF | BEV_EVENT_READING)) {
        server_eof_ = true;
        return pump();
    }
    int err = conn.stream().error();
    ctx_.metrics.upstream_error(UpstreamError::reset);
    close("server " + route_->server() + " connection failed" + (err ? ": " + lbkit::errno_text(err) : ""),
          Ending::drop);
}

void Tunnel::idle_cb(evutil_socket_t, short, void* arg)
{
    auto* self = static_cast<Tunnel*>(arg);
    int64_t idle_ms = self->ctx_.config.idle_timeout.count();
    int64_t quiet = self->ctx_.now_ms() - self->last_active_ms_;
    if (quiet >= idle_ms)
        return self->close("tunnel idle for " + lbkit::format_duration(self->ctx_.config.idle_timeout),
                           Ending::drop);
    timeval tv = lbkit::to_timeval(lbkit::Millis(idle_ms - quiet));
    event_add(self->idle_.get(), &tv);
}

void Tunnel::close(const std::string& why, Ending how)
{
    if (!record_.is_open())
        return;
    if (!why.empty())
        record_.error(why);
    open_ = false;
    route_->cancel();
    record_.close(*route_, owner_.client_name(), client_shut_);
    owner_.exchange_over(how);
}

}  // namespace lbproxy
