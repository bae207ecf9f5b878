// The connections of an httpd::Server under its Limits: a deadline for
// each request (from the accept, or from the first byte after a keep-alive
// pause), one for a connection idle between requests, and the connection
// cap. evhttp's own timeouts restart at every byte, so a client sending
// one byte a second would hold a connection for ever; these do not.

#include "clock.hpp"
#include "error.hpp"
#include "httpd.hpp"
#include "httpd_records.hpp"
#include "log.hpp"

namespace lbkit::httpd {
namespace {

// Header timeouts and the connection limit come in bursts (a slow-client
// attack, a stuck script): the first is logged at once, the rest at most
// once a minute, with their number.
constexpr int64_t log_every_ms = 60000;

}  // namespace


void Server::init_limits()
{
    // evhttp's inactivity timeout still bounds an answer the client does not
    // read; the deadlines below end slow requests and idle connections first.
    const Limits& l = options_.limits;
    timeval tv = to_timeval(std::max(l.header_timeout, l.idle_timeout));
    evhttp_set_timeout_tv(http_.get(), &tv);
    evhttp_set_bevcb(http_.get(), &Server::accepted_cb, this);
    adopt_.reset(event_new(loop_.base(), -1, 0, &Server::adopt_cb, this));
    if (!adopt_)
        throw Error(EX_OSERR, "http server: cannot create an event");
    connections_ = &metrics_.gauge("lbkit_api_connections", "Control API connections open");
    metrics_.gauge("lbkit_api_max_connections", "Control API connection limit (" + l.flag_prefix + "max-connections)")
        .set(static_cast<double>(l.max_connections));
    limit_reached_total_ = &metrics_.counter(
        "lbkit_api_connection_limit_reached_total",
        "Times the control API reached its connection limit and stopped accepting until one closed");
    header_timeouts_total_ = &metrics_.counter(
        "lbkit_api_header_timeouts_total", "Control API connections closed for a request not received in time");
}

// evhttp asks for the bufferevent of each connection it accepts: the one
// place it tells us of a new connection. Its own connection object is made
// just after this returns, so adopt_cb, activated here, finds it before the
// loop reads anything from the socket.
bufferevent* Server::accepted_cb(event_base* base, void* arg)
{
    auto* self = static_cast<Server*>(arg);
    bufferevent* bev = bufferevent_socket_new(base, -1, 0);
    if (!bev)
        return nullptr;  // evhttp makes its own; that connection goes untracked
    auto c = std::make_unique<Conn>();
    c->server = self;
    c->bev = bev;
    c->deadline.reset(evtimer_new(base, &Server::deadline_cb, c.get()));
    if (!c->deadline) {
        bufferevent_free(bev);
        return nullptr;
    }
    evbuffer_add_cb(bufferevent_get_input(bev), &Server::input_cb, c.get());
    self->unadopted_.push_back(c.get());
    self->conns_.emplace(c.get(), std::move(c));
    self->connections_->set(static_cast<double>(self->conns_.size()));
    event_active(self->adopt_.get(), 0, 0);
    if (self->conns_.size() >= self->options_.limits.max_connections)
        self->pause_accepting();
    return bev;
}

void Server::adopt_cb(evutil_socket_t, short, void* arg)
{
    auto* self = static_cast<Server*>(arg);
    for (Conn* c : self->unadopted_) {
        // evhttp makes its connection object the argument of the
        // bufferevent's callbacks: that is how we find it.
        void* evcon = nullptr;
        bufferevent_getcb(c->bev, nullptr, nullptr, nullptr, &evcon);
        c->evcon = static_cast<evhttp_connection*>(evcon);
        evhttp_connection_set_closecb(c->evcon, &Server::conn_closed_cb, c);
        self->by_evhttp_.emplace(c->evcon, c);
        self->expect_request(*c, self->options_.limits.header_timeout);
    }
    self->unadopted_.clear();
}

void Server::expect_request(Conn& c, Millis within)
{
    timeval tv = to_timeval(within);
    evtimer_add(c.deadline.get(), &tv);
}

Server::Conn* Server::conn_of(evhttp_request* req)
{
    auto it = by_evhttp_.find(evhttp_request_get_connection(req));
    return it == by_evhttp_.end() ? nullptr : it->second;
}

// The first byte after an idle pause starts the next request's deadline.
void Server::input_cb(evbuffer*, const evbuffer_cb_info* info, void* arg)
{
    auto* c = static_cast<Conn*>(arg);
    if (info->n_added == 0 || c->phase != Conn::Phase::idle || !c->evcon)
        return;
    c->phase = Conn::Phase::request;
    c->server->expect_request(*c, c->server->options_.limits.header_timeout);
}

void Server::handling(evhttp_request* req)
{
    if (Conn* c = conn_of(req)) {
        c->phase = Conn::Phase::handling;
        evtimer_del(c->deadline.get());
    }
}

void Server::answered_cb(evhttp_request* req, void* arg)
{
    static_cast<Server*>(arg)->answered(req);
}

// The answer is sent: a pipelined request already waiting starts its
// deadline now, else the connection is idle.
void Server::answered(evhttp_request* req)
{
    Conn* c = conn_of(req);
    if (!c)
        return;
    if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0) {
        c->phase = Conn::Phase::request;
        expect_request(*c, options_.limits.header_timeout);
    } else {
        c->phase = Conn::Phase::idle;
        expect_request(*c, options_.limits.idle_timeout);
    }
}

void Server::deadline_cb(evutil_socket_t, short, void* arg)
{
    auto* c = static_cast<Conn*>(arg);
    c->server->expire(*c);
}

void Server::expire(Conn& c)
{
    if (c.phase == Conn::Phase::request) {
        header_timeouts_total_->inc();
        ++timeouts_unlogged_;
        const int64_t now = lbkit::monotonic_ms();
        if (timeouts_logged_ms_ == 0 || now - timeouts_logged_ms_ >= log_every_ms) {
            log::warn(options_.service, " API: closed ", timeouts_unlogged_, " connection",
                      timeouts_unlogged_ == 1 ? "" : "s", " whose request did not arrive within ",
                      format_duration(options_.limits.header_timeout), " (", options_.limits.flag_prefix,
                      "header-timeout)");
            timeouts_logged_ms_ = now;
            timeouts_unlogged_ = 0;
        }
    }
    // Frees the Conn through conn_closed_cb.
    evhttp_connection_free(c.evcon);
}

void Server::conn_closed_cb(evhttp_connection*, void* arg)
{
    auto* c = static_cast<Conn*>(arg);
    c->server->closed(*c);
}

void Server::closed(Conn& c)
{
    if (c.waiter)
        forget(c.waiter);
    evbuffer_remove_cb(bufferevent_get_input(c.bev), &Server::input_cb, &c);
    by_evhttp_.erase(c.evcon);
    conns_.erase(&c);
    connections_->set(static_cast<double>(conns_.size()));
    if (paused_ && conns_.size() < options_.limits.max_connections)
        resume_accepting();
}

void Server::pause_accepting()
{
    if (paused_)
        return;
    for (evconnlistener* l : listeners_)
        evconnlistener_disable(l);
    paused_ = true;
    paused_since_ms_ = lbkit::monotonic_ms();
    limit_reached_total_->inc();
    // At the limit under a steady load, every close lets one connection in
    // and the next accept pauses again: one line a minute says it all.
    ++pauses_unlogged_;
    if (limit_logged_ms_ == 0 || paused_since_ms_ - limit_logged_ms_ >= log_every_ms) {
        log::warn(options_.service, " API: ", conns_.size(), " connections open, the limit (",
                  options_.limits.flag_prefix, "max-connections); new ones wait until one closes",
                  pauses_unlogged_ > 1 ? " (reached " + std::to_string(pauses_unlogged_) + " times since the last report)" : "");
        limit_logged_ms_ = paused_since_ms_;
        pauses_unlogged_ = 0;
    }
}

void Server::resume_accepting()
{
    for (evconnlistener* l : listeners_)
        evconnlistener_enable(l);
    paused_ = false;
    log::debug(options_.service, " API: accepting connections again after ",
              format_duration(Millis(lbkit::monotonic_ms() - paused_since_ms_)), " at the limit");
}

// The server goes: evhttp frees the connections after this, and must not
// call back into records that are gone.
void Server::forget_connections()
{
    for (auto& [c, owned] : conns_) {
        evbuffer_remove_cb(bufferevent_get_input(c->bev), &Server::input_cb, c);
        if (c->evcon)
            evhttp_connection_set_closecb(c->evcon, nullptr, nullptr);
    }
    unadopted_.clear();
    by_evhttp_.clear();
    conns_.clear();
}

}  // namespace lbkit::httpd
