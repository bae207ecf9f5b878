#include "http/tunnel.hpp"

#include <algorithm>

#include "error.hpp"
#include "http/error_page.hpp"
#include "http/proxy_connect.hpp"
#include "log.hpp"
#include "loop.hpp"

namespace lbkit::http {

namespace {

constexpr char established[] = "HTTP/1.1 200 Connection established\r\n\r\n";

// Moves what fits from one side to the other; returns the bytes moved.
std::size_t shovel(evbuffer* from, evbuffer* to)
{
    std::size_t queued = evbuffer_get_length(to);
    if (queued >= relay_buffer_limit)
        return 0;
    std::size_t n = std::min(evbuffer_get_length(from), relay_buffer_limit - queued);
    if (n)
        evbuffer_remove_buffer(from, to, n);
    return n;
}

}  // namespace

Tunnel::Tunnel(RelayContext& ctx, ExchangeOwner& owner)
    : ctx_(ctx), owner_(owner), record_(ctx), route_(ctx.make_route(*this))
{
}

Tunnel::~Tunnel()
{
    ctx_.pool.release(upstream_, false);
}

void Tunnel::begin(const Target& t, std::string_view url, std::size_t head_size)
{
    record_.open("CONNECT", url, int64_t(head_size));
    last_active_ms_ = cached_unix_ms(ctx_.base);
    std::string host(t.host);  // t's views end with the head drained here
    evbuffer_drain(owner_.client().in(), head_size);
    ctx_.events.tunnel_requested();
    // Tunnels never share a server connection: no pool.
    route_->start(host, t.port, false);
}

void Tunnel::dialed(UpstreamConn* conn)
{
    upstream_ = conn;
    conn->set_user(this);
    if (route_->hop().via)
        return ask_proxy();
    open_tunnel();
}

// Chained: the upstream proxy is asked for the server, within
// the server timeout (the pool's on its connection), and the tunnel
// opens on its 2xx.
void Tunnel::ask_proxy()
{
    asking_proxy_ = true;
    std::string request = proxy_connect_request(route_->target());
    ev::BufferPtr out(evbuffer_new());
    evbuffer_add(out.get(), request.data(), request.size());
    upstream_->stream().send(out.get());
}

void Tunnel::proxy_answered()
{
    ProxyConnectAnswer a = read_proxy_connect_answer(upstream_->in(), ctx_.limits.max_header);
    if (a.kind == ProxyConnectAnswer::incomplete)
        return;
    const UpstreamHop& hop = route_->hop();
    std::string asked = "upstream proxy " + hop.name + " ";
    if (a.kind == ProxyConnectAnswer::refused) {
        ctx_.stages.upstream.failed(hop, "refused");
        return dial_failed(502, asked + "refused CONNECT " + route_->target().str() + ": " + a.what);
    }
    if (a.kind == ProxyConnectAnswer::bad) {
        ctx_.stages.upstream.failed(hop, "bad_response");
        return dial_failed(502, asked + "sent a bad answer to CONNECT: " + a.what);
    }
    asking_proxy_ = false;
    open_tunnel();
}

void Tunnel::open_tunnel()
{
    // A tunnel may stay quiet for long: only the idle limit ends it.
    upstream_->stream().set_timeouts(nullptr, nullptr);
    record_.in_flight(*route_);
    if (route_->is_group())
        ctx_.events.server_ok(route_->server_id());  // a tunnel's only answer is the connect
    record_.answered(200);
    open_ = true;
    evbuffer_add(owner_.client().out(), established, sizeof established - 1);
    record_.add_out(int64_t(sizeof established - 1));
    idle_.reset(event_new(ctx_.base, -1, 0, &idle_cb, this));
    event_add(idle_.get(), &ctx_.limits.idle_tv);
    pump();  // bytes the client sent right after its CONNECT
}

void Tunnel::dial_failed(int status, const std::string& sentence)
{
    record_.answered(status);
    write_error(owner_.client().out(), ctx_.tool, {status, sentence, true, false});
    close(sentence, Ending::linger);
}

void Tunnel::pump()
{
    if (!open_)
        return;
    Stream& client = owner_.client();
    std::size_t up = shovel(client.in(), upstream_->out());
    std::size_t down = shovel(upstream_->in(), client.out());
    record_.add_in(int64_t(up));
    record_.add_out(int64_t(down));
    if (up || down)
        last_active_ms_ = cached_unix_ms(ctx_.base);
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
    close(std::string("client went away") + (err ? ": " + errno_text(err) : ""), Ending::drop);
}

void Tunnel::upstream_event(UpstreamConn& conn, short what)
{
    if (asking_proxy_) {
        const UpstreamHop& hop = route_->hop();
        ctx_.stages.upstream.failed(hop, "reset");
        if (what & BEV_EVENT_TIMEOUT)
            return dial_failed(504, "upstream proxy " + hop.name + " did not answer CONNECT within " +
                                        format_duration(ctx_.limits.server_timeout));
        int err = conn.stream().error();
        return dial_failed(502, "upstream proxy " + hop.name + " closed the connection before answering CONNECT" +
                                    (err ? ": " + errno_text(err) : ""));
    }
    if (what == (BEV_EVENT_EOF | BEV_EVENT_READING)) {
        server_eof_ = true;
        return pump();
    }
    int err = conn.stream().error();
    ctx_.events.upstream_error(UpstreamError::reset);
    close("server " + route_->server() + " connection failed" + (err ? ": " + errno_text(err) : ""),
          Ending::drop);
}

void Tunnel::idle_cb(evutil_socket_t, short, void* arg)
{
    auto* self = static_cast<Tunnel*>(arg);
    int64_t idle_ms = self->ctx_.limits.idle_timeout.count();
    int64_t quiet = cached_unix_ms(self->ctx_.base) - self->last_active_ms_;
    if (quiet >= idle_ms)
        return self->close("tunnel idle for " + format_duration(self->ctx_.limits.idle_timeout),
                           Ending::drop);
    timeval tv = to_timeval(Millis(idle_ms - quiet));
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

}  // namespace lbkit::http
