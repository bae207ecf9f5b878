#include "http/relay.hpp"

#include <algorithm>

#include "error.hpp"
#include "http/body_pump.hpp"
#include "http/error_page.hpp"
#include "http/head_rewrite.hpp"
#include "log.hpp"

namespace lbkit::http {

namespace {

// Safe to send twice (RFC 9110 9.2.2): only these are retried elsewhere.
bool idempotent(int method)
{
    switch (method) {
    case HTTP_GET: case HTTP_HEAD: case HTTP_OPTIONS: case HTTP_TRACE: case HTTP_PUT: case HTTP_DELETE:
        return true;
    default:
        return false;
    }
}

}  // namespace

Relay::Relay(RelayContext& ctx, ExchangeOwner& owner, Parser& request_parser)
    : ctx_(ctx), owner_(owner), record_(ctx), req_parser_(request_parser), route_(ctx.make_route(*this))
{
}

Relay::~Relay()
{
    release_upstream(false);
}

// Step 1 (parse) is done by the caller; this takes the request over.
void Relay::begin(const Head& req, const Target& t)
{
    record_.open(req.method_name, req.target, int64_t(req.size));
    method_ = req.method;
    method_name_.assign(req.method_name);
    url_.assign(req.target);
    host_.assign(t.host);
    authority_.assign(t.authority);
    port_ = t.port;
    req_is_10_ = req.is_10();
    req_keep_alive_ = req.keep_alive;
    req_framing_ = req.framing;
    req_remaining_ = req.content_length;
    req_body_done_ = req.complete || req.framing == Framing::none;
    body_moved_ = false;
    build_request_line(req, t, req_line_);
    build_request_rest(req, ctx_.tool, req_rest_);

    resp_scanned_ = 0;
    resp_ = Resp::head;
    head_sent_ = upstream_eof_ = close_client_ = false;
    upstream_error_.clear();
    retried_ = stale_retried_ = waiting_delivery_ = false;
    evbuffer_drain(client_in(), req.size);  // req's views end here

    // Resolve the target (a representative name is chosen among its
    // servers), through the upstream stage (DIRECT or a proxy), then connect;
    // the session stage adds its headers as the request goes out.
    route_->start(host_, port_, true);
}

// Step 5: connected; the request goes out, then its body as it comes.
void Relay::dialed(UpstreamConn* conn)
{
    upstream_ = conn;
    conn->set_user(this);
    send_request_head();
    record_.in_flight(*route_);
    pump_request_body();
}

void Relay::send_request_head()
{
    host_line_.clear();
    if (route_->is_group() && ctx_.limits.host_of_server)
        append_host_line(host_line_, route_->target().host, route_->target().port);
    else
        host_line_.append("Host: ").append(authority_).append("\r\n");
    evbuffer* out = stage_.get();
    if (route_->hop().via) {
        // An upstream proxy takes the absolute form, naming the server chosen.
        build_proxy_request_line(req_line_, route_->target().host, route_->target().port, proxy_line_);
        evbuffer_add(out, proxy_line_.data(), proxy_line_.size());
    } else {
        evbuffer_add(out, req_line_.data(), req_line_.size());
    }
    evbuffer_add(out, host_line_.data(), host_line_.size());
    session_lines_.clear();
    ctx_.stages.session.add_headers(route_->server(), session_lines_);
    evbuffer_add(out, session_lines_.data(), session_lines_.size());
    evbuffer_add(out, req_rest_.data(), req_rest_.size());
    upstream_->stream().send(out);
}

void Relay::dial_failed(int status, const std::string& sentence)
{
    fail(status, sentence);
}

void Relay::pump_request_body()
{
    if (req_body_done_ || !upstream_)
        return;
    BodyPump pump{req_framing_, req_remaining_, req_parser_};
    evbuffer* sink = evbuffer_get_length(upstream_->out()) ? upstream_->out() : stage_.get();
    auto r = pump.move(client_in(), sink, false);
    upstream_->stream().send(stage_.get());
    record_.add_in(int64_t(r.moved));
    body_moved_ = body_moved_ || r.moved > 0;
    if (r.error) {
        // The head already went to the server: this connection is spoiled
        // and closed; the client hears why if no answer has started.
        ctx_.events.refused(400);
        close_client_ = true;
        return fail(400, std::string("bad request body: ") + r.error);
    }
    req_body_done_ = r.done;
}

void Relay::pump_response()
{
    if (!upstream_)
        return;
    if (resp_ == Resp::head && !read_response_head())
        return;
    if (resp_ == Resp::body)
        pump_response_body();
}

// Step 6: the body stage may give a filter, which changes the body's
// length: the body is then framed anew (chunked, or until close for
// HTTP/1.0).
ResponsePlan Relay::response_plan(bool body_follows)
{
    resp_filter_.reset();
    if (body_follows)
        if (auto filter = ctx_.stages.body.response_filter(route_->server(), resp_head_))
            resp_filter_.emplace(std::move(filter), !req_is_10_);
    ResponsePlan plan;
    plan.new_length = resp_filter_.has_value();
    plan.chunked = !req_is_10_ && (plan.new_length || resp_framing_ == Framing::chunked);
    plan.dechunk = req_is_10_ && resp_framing_ == Framing::chunked;
    close_client_ = close_client_ || !req_keep_alive_ || !req_body_done_
                    || resp_framing_ == Framing::until_close || plan.dechunk
                    || (plan.new_length && req_is_10_);
    plan.close_client = close_client_;
    plan.keep_alive_10 = req_is_10_ && !close_client_;
    return plan;
}

// Reads 1xx heads and the final head. Returns true when the body follows.
bool Relay::read_response_head()
{
    evbuffer* in = upstream_->in();
    for (;;) {
        std::size_t len = evbuffer_get_length(in);
        if (len == 0) {
            if (upstream_eof_)
                upstream_lost(UpstreamError::reset, upstream_error_.empty()
                                  ? "closed the connection before answering"
                                  : "connection lost before answering: " + upstream_error_);
            else
                flush_client();  // a 1xx, if one came
            return false;
        }
        std::size_t lim = std::min(len, ctx_.limits.max_header);
        auto* p = reinterpret_cast<const char*>(evbuffer_pullup(in, ssize_t(lim)));
        std::size_t end = find_head_end(p, lim, resp_scanned_);
        if (end == 0) {
            if (len >= ctx_.limits.max_header)
                bad_response("response head larger than " + std::to_string(ctx_.limits.max_header) + " bytes");
            else if (upstream_eof_)
                bad_response("connection closed in the middle of the response head");
            else
                flush_client();
            return false;
        }
        resp_scanned_ = 0;
        if (const char* err = resp_parser_.parse_head(p, end, resp_head_, method_ == HTTP_HEAD)) {
            bad_response(err);
            return false;
        }
        int st = resp_head_.status;
        if (st >= 100 && st < 200) {
            if (st == 101) {
                bad_response("101 Switching Protocols, though no upgrade was asked for");
                return false;
            }
            // 100 Continue and friends: an HTTP/1.0 client would not understand.
            if (!req_is_10_) {
                build_response_head(resp_head_, ResponsePlan{}, ctx_.tool, resp_buf_);
                evbuffer_add(client_sink(), resp_buf_.data(), resp_buf_.size());
                record_.add_out(int64_t(resp_buf_.size()));
            }
            evbuffer_drain(in, end);
            continue;
        }
        if (st >= 500)
            server_failed();
        else if (route_->is_group())
            ctx_.events.server_ok(route_->server_id());
        resp_framing_ = resp_head_.framing;
        bool body_follows = !resp_head_.complete && resp_framing_ != Framing::none;
        ResponsePlan plan = response_plan(body_follows);
        build_response_head(resp_head_, plan, ctx_.tool, resp_buf_);
        evbuffer_add(client_sink(), resp_buf_.data(), resp_buf_.size());
        record_.add_out(int64_t(resp_buf_.size()));
        record_.answered(st);
        head_sent_ = true;
        resp_dechunk_ = plan.dechunk;
        resp_remaining_ = resp_head_.content_length;
        evbuffer_drain(in, end);
        if (resp_head_.complete || resp_framing_ == Framing::none) {
            response_complete();
            return false;
        }
        resp_ = Resp::body;
        return true;
    }
}

void Relay::pump_response_body()
{
    BodyPump pump{resp_framing_, resp_remaining_, resp_parser_};
    evbuffer* in = upstream_->in();
    auto r = resp_filter_ ? resp_filter_->move(pump, in, client_sink())
                          : pump.move(in, client_sink(), resp_dechunk_);
    record_.add_out(int64_t(r.written));
    if (r.error)
        return bad_response(r.error);
    if (r.done)
        return response_complete();
    if (upstream_eof_ && evbuffer_get_length(in) == 0) {
        if (resp_framing_ == Framing::until_close) {
            if (resp_filter_)
                record_.add_out(int64_t(resp_filter_->finish(client_sink())));
            return response_complete();
        }
        ctx_.events.upstream_error(UpstreamError::reset);
        return cut("server " + route_->server() + " closed the connection in the middle of the response"
                   + (upstream_error_.empty() ? "" : ": " + upstream_error_));
    }
    flush_client();
}

void Relay::upstream_event(UpstreamConn&, short what)
{
    if (what & BEV_EVENT_TIMEOUT) {
        ctx_.events.upstream_error(UpstreamError::timeout);
        if (!head_sent_)
            server_failed();
        std::string why = "server " + route_->server() + " did not answer within "
                          + format_duration(ctx_.limits.server_timeout);
        return head_sent_ ? cut(why) : fail(504, why);
    }
    // EOF or error: what was read before still counts.
    upstream_eof_ = true;
    if (what & BEV_EVENT_ERROR)
        upstream_error_ = errno_text(upstream_->stream().error());
    upstream_->stream().disable(EV_READ | EV_WRITE);
    pump_response();
}

void Relay::response_complete()
{
    flush_client();
    resp_ = Resp::done;
    bool reusable = req_body_done_ && resp_head_.keep_alive && !upstream_eof_
                    && resp_framing_ != Framing::until_close;
    if (!req_body_done_)
        close_client_ = true;  // the rest of the request body will never be read
    release_upstream(reusable);
    wait_delivery();
}

// The server went away before a byte of the answer reached the client.
void Relay::upstream_lost(UpstreamError kind, const std::string& why)
{
    bool reused = upstream_ && upstream_->reused();
    release_upstream(false);
    bool retryable = idempotent(method_) && !body_moved_;
    resp_scanned_ = 0;
    upstream_eof_ = false;
    upstream_error_.clear();
    // A kept-alive connection may have been closed by the server meanwhile:
    // that is no fault of the server, try a fresh connection to it.
    if (retryable && reused && !stale_retried_) {
        stale_retried_ = true;
        return route_->redial_same();
    }
    ctx_.events.upstream_error(kind);
    if (route_->hop().via)
        ctx_.stages.upstream.failed(route_->hop(), "reset");
    server_failed();
    if (retryable && !retried_ && route_->redial_other(why)) {
        retried_ = true;
        log::debug("retrying ", method_name_, " ", url_, " elsewhere: ", route_->server(), ": ", why);
        return;
    }
    fail(502, route_->give_up(why));
}

void Relay::bad_response(std::string_view why)
{
    ctx_.events.upstream_error(UpstreamError::bad_response);
    std::string sentence = "server " + route_->server() + " sent a bad response: ";
    sentence.append(why);
    if (head_sent_)
        return cut(sentence);
    server_failed();
    fail(502, sentence);
}

// A 5xx or no answer from a server of a group: passive ejection counts it.
// A response cut after its head was counted by its status already.
void Relay::server_failed()
{
    if (route_->is_group())
        ctx_.events.server_failed(route_->server_id());
}

// The relay answers itself: the sentence goes to the client.
void Relay::fail(int status, const std::string& sentence)
{
    if (head_sent_)
        return cut(sentence);
    flush_client();  // a 1xx may wait there
    release_upstream(false);
    log::debug(owner_.client_name(), " ", method_name_, " ", url_, ": ", status, " ", sentence);
    record_.answered(status);
    record_.error(sentence);
    head_sent_ = true;
    resp_ = Resp::done;
    close_client_ = close_client_ || !req_body_done_ || !req_keep_alive_;
    write_error(stage_.get(), ctx_.tool, {status, sentence, close_client_, method_ == HTTP_HEAD});
    record_.add_out(int64_t(evbuffer_get_length(stage_.get())));
    flush_client();
    wait_delivery();
}

// The answer is broken after it started: the client learns it from the
// connection closing before the announced end.
void Relay::cut(const std::string& why)
{
    log::debug(owner_.client_name(), " ", method_name_, " ", url_, ": ", why);
    flush_client();
    close(why, Ending::linger);
}

void Relay::close(const std::string& why, Ending how, bool delivered)
{
    if (!record_.is_open())
        return;
    if (!why.empty())
        record_.error(why);
    waiting_delivery_ = false;
    evbuffer_drain(stage_.get(), evbuffer_get_length(stage_.get()));
    release_upstream(false);
    route_->cancel();
    record_.close(*route_, owner_.client_name(), delivered);
    owner_.exchange_over(how);
}

void Relay::client_readable()
{
    pump_request_body();
}

void Relay::client_drained()
{
    if (waiting_delivery_)
        return delivered();
    if (resp_ == Resp::body)
        pump_response();
}

void Relay::client_event(short what)
{
    if (what == (BEV_EVENT_EOF | BEV_EVENT_READING)) {
        // The client will send nothing more (it may still read: a
        // half-close). Without the whole request the exchange cannot
        // complete; with it, the answer still goes out, and requests
        // pipelined before the EOF are answered after it.
        if (!req_body_done_)
            return close("client closed the connection before sending the whole request", Ending::drop);
        return;
    }
    if (what & BEV_EVENT_TIMEOUT)
        return close("client did not read the response within " + format_duration(ctx_.limits.idle_timeout),
                     Ending::drop);
    int err = owner_.client().error();
    close(std::string("client went away") + (err ? ": " + errno_text(err) : ""), Ending::drop);
}

void Relay::wait_delivery()
{
    if (evbuffer_get_length(client_out()) == 0)
        return delivered();
    waiting_delivery_ = true;
}

// Step 7: the last byte was handed to the client socket.
void Relay::delivered()
{
    close({}, close_client_ ? Ending::linger : Ending::keep, true);
}

void Relay::release_upstream(bool reusable)
{
    record_.landed();
    if (upstream_) {
        upstream_->set_user(nullptr);
        ctx_.pool.release(upstream_, reusable);
        upstream_ = nullptr;
    }
}

}  // namespace lbkit::http
