#include "client_conn.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "http/error_page.hpp"
#include "log.hpp"

namespace lbproxy {

namespace {

// After an error answer the client gets this long to read it and hang up.
constexpr timeval linger_tv{2, 0};

}  // namespace

void ClientRegistry::add(ClientConn* c) { conns_.insert(c); }
void ClientRegistry::remove(ClientConn* c)
{
    conns_.erase(c);
    if (on_remove_) on_remove_();
}

void ClientRegistry::retire(event_base* base, std::unique_ptr<http::Relay> relay)
{
    if (!reaper_)
        reaper_.reset(event_new(base, -1, 0, &reap_cb, this));
    retired_.push_back(std::move(relay));
    if (reaper_)
        event_active(reaper_.get(), EV_TIMEOUT, 0);
}

void ClientRegistry::reap_cb(evutil_socket_t, short, void* arg)
{
    auto* self = static_cast<ClientRegistry*>(arg);
    // A Relay's destructor releases nothing more (its close() did), so
    // clearing cannot retire another one meanwhile.
    std::vector<std::unique_ptr<http::Relay>> dead;
    dead.swap(self->retired_);
}

void ClientRegistry::close_all()
{
    std::vector<ClientConn*> all(conns_.begin(), conns_.end());
    for (auto* c : all)
        c->close_now();
}

void ClientConn::open(Context& ctx, ClientRegistry& registry, evutil_socket_t fd, const sockaddr* peer, bool allowed)
{
    auto* c = new ClientConn(ctx, registry, fd, peer);
    if (!c->stream_->ok() || !c->timer_) {
        lbkit::log::error("client ", c->name_, ": cannot set up the connection");
        return c->destroy();
    }
    if (!allowed) {
        lbkit::log::info("client ", c->name_, ": refused, not in --allow");
        return c->refuse(403, "client " + lbkit::sockaddr_ip(peer) + " is not allowed to use this proxy (see --allow)");
    }
    c->arm(ctx.relay.limits.idle_tv);
}

ClientConn::ClientConn(Context& ctx, ClientRegistry& registry, evutil_socket_t fd, const sockaddr* peer)
    : ctx_(ctx), registry_(registry),
      stream_(std::make_unique<http::Stream>(ctx.relay.base, fd)),
      timer_(evtimer_new(ctx.relay.base, &timer_cb, this)),
      name_(lbkit::sockaddr_str(peer))
{
    registry_.add(this);
    ctx_.metrics.client_connections.inc();
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    stream_->set_callbacks(&read_cb, &write_cb, &event_cb, this);
    // Reading stops by itself when this much waits unread (a head must fit).
    stream_->set_read_limit(input_limit());
    // A client that stops reading its answer is dropped after --idle-timeout.
    stream_->set_timeouts(nullptr, &ctx.relay.limits.idle_tv);
    stream_->enable(EV_READ | EV_WRITE);
}

ClientConn::~ClientConn()
{
    registry_.remove(this);
    ctx_.metrics.client_connections.inc(-1);
}

void ClientConn::arm(const timeval& tv)
{
    event_add(timer_.get(), &tv);
}

void ClientConn::read_cb(http::Stream&, void* arg)
{
    auto* self = static_cast<ClientConn*>(arg);
    switch (self->state_) {
    case State::head: return self->read_head();
    case State::relay: return self->relay_->client_readable();
    case State::tunnel: return self->tunnel_->client_readable();
    case State::lingering: {
        evbuffer* in = self->stream_->in();
        evbuffer_drain(in, evbuffer_get_length(in));
        return;
    }
    }
}

void ClientConn::write_cb(http::Stream&, void* arg)
{
    auto* self = static_cast<ClientConn*>(arg);
    switch (self->state_) {
    case State::relay: return self->relay_->client_drained();
    case State::tunnel: return self->tunnel_->client_drained();
    case State::lingering: return self->linger();
    default: return;
    }
}

void ClientConn::event_cb(http::Stream&, short what, void* arg)
{
    auto* self = static_cast<ClientConn*>(arg);
    if (what & BEV_EVENT_EOF)
        self->eof_ = true;
    switch (self->state_) {
    case State::relay: return self->relay_->client_event(what);
    case State::tunnel: return self->tunnel_->client_event(what);
    case State::head:
        // An EOF read before pipelined_cb: the requests sent before it
        // are answered first (read_head() lingers once they are done).
        if (self->next_waiting_ && what == (BEV_EVENT_EOF | BEV_EVENT_READING))
            return;
        return self->destroy();
    default: return self->destroy();
    }
}

void ClientConn::timer_cb(evutil_socket_t, short, void* arg)
{
    auto* self = static_cast<ClientConn*>(arg);
    if (self->state_ == State::head && self->head_started_)
        return self->refuse(408, "the request head did not arrive within "
                                     + lbkit::format_duration(self->ctx_.config.header_timeout)
                                     + " (--header-timeout)");
    if (self->state_ == State::head || self->state_ == State::lingering)
        self->destroy();  // idle keep-alive connection, or a client that does not hang up
}

// Step 1 of the request path: a complete head, parsed in one piece.
void ClientConn::read_head()
{
    evbuffer* in = stream_->in();
    // Blank lines before a request line are allowed (RFC 9112 2.2).
    std::size_t len;
    while ((len = evbuffer_get_length(in)) != 0 && !head_started_) {
        char c = *reinterpret_cast<const char*>(evbuffer_pullup(in, 1));
        if (c != '\r' && c != '\n')
            break;
        evbuffer_drain(in, 1);
    }
    if (len == 0) {
        if (eof_)
            linger();  // after a half-close nothing more will come
        return;
    }
    std::size_t limit = ctx_.config.max_header;
    std::size_t lim = std::min(len, limit);
    auto* p = reinterpret_cast<const char*>(evbuffer_pullup(in, ssize_t(lim)));
    std::size_t end = http::find_head_end(p, lim, scanned_);
    if (end == 0) {
        if (len >= limit)
            return refuse(431, "the request head is larger than " + std::to_string(limit) + " bytes (--max-header)");
        if (eof_)
            return refuse(400, "the connection was closed in the middle of a request head");
        // Only a head that comes in pieces needs --header-timeout; the
        // usual one, whole in one read, costs no timer change.
        if (!head_started_) {
            head_started_ = true;
            arm(ctx_.relay.limits.header_tv);
        }
        return;
    }
    scanned_ = 0;
    head_started_ = false;
    // The timer stays as it is: timer_cb ignores it while a request is
    // relayed, and next_request() arms it anew for the idle time.
    if (const char* err = parser_.parse_head(p, end, head_))
        return refuse(parser_.refusal_status(), err);
    dispatch(head_);
}

void ClientConn::dispatch(const http::Head& req)
{
    ctx_.metrics.requests.inc();
    http::Target t;
    if (req.method == HTTP_CONNECT) {
        if (const char* err = http::parse_authority(req.target, t))
            return refuse(400, err);
        if (!ctx_.config.connect_port_ok(t.port))
            return refuse(403, "CONNECT to port " + std::to_string(t.port) + " is not allowed (--connect-ports "
                                   + ctx_.config.connect_ports_text() + ")");
        state_ = State::tunnel;
        tunnel_ = std::make_unique<http::Tunnel>(ctx_.relay, *this);
        return tunnel_->begin(t, req.target, req.size);
    }
    if (const char* err = http::parse_absolute(req.target, t))
        return refuse(400, err);
    if (t.port == ctx_.config.listen.port && lbkit::is_loopback(std::string(t.host)))
        return refuse(508, "the request is addressed to this proxy itself (loop)");
    state_ = State::relay;
    relay_ = std::make_unique<http::Relay>(ctx_.relay, *this, parser_);
    relay_->begin(req, t);
}

// lbproxy answers by itself and closes: bad request, not allowed, timeout.
void ClientConn::refuse(int status, const std::string& sentence)
{
    ctx_.metrics.refused(status);
    lbkit::log::debug("client ", name_, ": ", status, " ", sentence);
    http::write_error(stream_->out(), ctx_.relay.tool, {status, sentence, true, false});
    linger();
}

// Lingering close: flush the answer, send FIN, read and drop what the
// client still sends until it hangs up (or linger_tv passes). Closing with
// unread input would send a reset that can destroy the answer in flight.
void ClientConn::linger()
{
    if (state_ != State::lingering) {
        state_ = State::lingering;
        event_del(timer_.get());
        arm(linger_tv);
        evbuffer* in = stream_->in();
        evbuffer_drain(in, evbuffer_get_length(in));
        stream_->enable(EV_READ);
    }
    if (evbuffer_get_length(stream_->out()) != 0)
        return;  // write_cb comes back here
    if (!shut_) {
        shut_ = true;
        stream_->shutdown_write();
    }
    if (eof_)
        destroy();
}

void ClientConn::exchange_over(http::Ending how)
{
    if (closing_)
        return;
    if (relay_)
        registry_.retire(ctx_.relay.base, std::move(relay_));
    switch (how) {
    case http::Ending::keep: return next_request();
    case http::Ending::linger: return linger();
    case http::Ending::drop: return destroy();
    }
}

// Runs inside the calls of the exchange that just ended, and an answer
// lbproxy makes at once (no server up) ends it inside read_head(): reading
// the next pipelined request from here nested one call chain per request
// in the input (~2,000 in 80 KiB). It is read from the loop instead. The
// answer before went out whole (Ending::keep), so the client's output is
// empty: requests are still read only as their answers are taken.
void ClientConn::next_request()
{
    state_ = State::head;
    head_ = {};  // its header vector, freed rather than kept for a connection that may stay idle
    arm(ctx_.relay.limits.idle_tv);
    if (evbuffer_get_length(stream_->in()) == 0 && !eof_)
        return;  // read_cb reads the next request when it comes
    // Made on the first pipelined request: an idle connection holds none.
    if (!pipelined_)
        pipelined_.reset(event_new(ctx_.relay.base, -1, 0, &pipelined_cb, this));
    if (!pipelined_) {
        lbkit::log::error("client ", name_, ": cannot read its next request (out of memory)");
        return destroy();
    }
    next_waiting_ = true;
    event_active(pipelined_.get(), EV_TIMEOUT, 0);
}

void ClientConn::pipelined_cb(evutil_socket_t, short, void* arg)
{
    auto* self = static_cast<ClientConn*>(arg);
    self->next_waiting_ = false;
    // read_cb may have read the request meanwhile, and its exchange be on.
    if (self->state_ == State::head)
        self->read_head();
}

// The exchange in progress, if any, ends with the connection (a server
// choice still outstanding is cancelled): nothing outlives it.
void ClientConn::destroy()
{
    closing_ = true;
    if (state_ == State::relay && relay_)
        relay_->close("client connection closed", http::Ending::drop);
    else if (state_ == State::tunnel && tunnel_)
        tunnel_->close("client connection closed", http::Ending::drop);
    delete this;
}

void ClientConn::close_now()
{
    destroy();
}

}  // namespace lbproxy
