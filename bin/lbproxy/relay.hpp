// One request/response exchange of a client connection, as clear steps:
//   parse (done by ClientConn) -> resolve target (representative name?
//   SelectionState::choose; else DIRECT) -> [session headers: later] ->
//   [upstream proxy choice: later, "DIRECT" today] -> connect/relay ->
//   [body filter, e.g. charset: later] -> history record.
// Bodies stream both ways (Content-Length, chunked, until-close) through
// bounded buffers: a side is read only while the other side's output has
// room, so memory per connection does not depend on the body size.
#pragma once
#include <cstdint>
#include <string>

#include "dialer.hpp"
#include "http/body_pump.hpp"
#include "http/http_parse.hpp"
#include "http/request_target.hpp"
#include "http/stream.hpp"

namespace lbproxy {

class RelayOwner {
public:
    virtual http::Stream& client() = 0;
    virtual const std::string& client_name() const = 0;
    // The exchange is over and recorded; keep: the client connection may
    // carry the next request. Always the last thing the relay does.
    virtual void relay_done(bool keep) = 0;
    // The exchange broke: close the client connection, after flushing what
    // waits for it when flush (a cut response: the client sees it end
    // early). Always the last thing the relay does.
    virtual void relay_aborted(bool flush) = 0;
    // After abandon() returned true: the outstanding choice has come back.
    virtual void reap() = 0;

protected:
    ~RelayOwner() = default;
};

class Relay final : public DialerUser, public http::UpstreamUser {
public:
    Relay(Context& ctx, RelayOwner& owner, http::Parser& request_parser);
    ~Relay();
    Relay(const Relay&) = delete;
    Relay& operator=(const Relay&) = delete;

    // req was parsed from the front of the client's input (its views point
    // there) and t from its target. Consumes the head from the input.
    void begin(const http::Head& req, const http::Target& t);

    void client_readable();
    void client_drained();
    void client_event(short what);
    // The client connection goes away now. Records the exchange; returns
    // true when a server choice is outstanding (the owner then waits for reap()).
    bool abandon(const std::string& why);
    bool active() const { return active_; }

private:
    enum class Resp { head, body, done };

    // DialerUser
    void dialed(http::UpstreamConn* conn) override;
    void dial_failed(int status, const std::string& sentence) override;
    void dial_abandoned() override { owner_.reap(); }
    // UpstreamUser
    void upstream_readable(http::UpstreamConn&) override { pump_response(); }
    void upstream_drained(http::UpstreamConn&) override { pump_request_body(); }
    void upstream_event(http::UpstreamConn&, short what) override;

    void send_request_head();
    void pump_request_body();
    void pump_response();
    bool read_response_head();
    void pump_response_body();
    void response_complete();
    void upstream_lost(UpstreamError kind, const std::string& why);
    void bad_response(const char* why);
    void server_failed();
    void fail(int status, const std::string& sentence);
    void cut(const std::string& why);
    void abort(const std::string& why, bool flush = false);
    void wait_delivery();
    void delivered();
    void release_upstream(bool reusable);
    void record(bool delivered);
    evbuffer* client_in() const { return owner_.client().in(); }
    evbuffer* client_out() const { return owner_.client().out(); }
    // Where answer bytes go: the stage while the client's output is empty
    // (then written at once, see Stream::send), else behind that output.
    evbuffer* client_sink() const { return evbuffer_get_length(client_out()) ? client_out() : stage_.get(); }
    void flush_client() { owner_.client().send(stage_.get()); }

    Context& ctx_;
    RelayOwner& owner_;
    http::Parser& req_parser_;
    Dialer dialer_;
    http::UpstreamConn* upstream_ = nullptr;
    lbkit::ev::BufferPtr stage_{evbuffer_new()};

    // The request, kept for the history row and for a retry elsewhere.
    int method_ = 0;
    std::string method_name_, url_, host_, authority_;
    uint16_t port_ = 80;
    std::string req_line_, req_rest_, host_line_;
    bool req_is_10_ = false, req_keep_alive_ = true;
    http::Framing req_framing_ = http::Framing::none;
    uint64_t req_remaining_ = 0;
    bool req_body_done_ = true;
    bool body_moved_ = false;  // request body bytes went to a server: no retry
    bool client_eof_ = false;

    // The response.
    http::Parser resp_parser_{HTTP_RESPONSE};
    http::Head resp_head_;
    std::string resp_buf_;
    std::size_t resp_scanned_ = 0;
    Resp resp_ = Resp::head;
    http::Framing resp_framing_ = http::Framing::none;
    uint64_t resp_remaining_ = 0;
    bool resp_dechunk_ = false;
    bool resp_started_ = false;  // a byte came from the server
    bool head_sent_ = false;     // a final head (or error answer) went to the client
    bool upstream_eof_ = false;
    std::string upstream_error_;
    bool close_client_ = false;

    bool active_ = false;
    bool in_flight_ = false;     // request_started() called for dialer_.server()
    bool retried_ = false, stale_retried_ = false;
    bool waiting_delivery_ = false;
    int status_ = 0;
    int64_t start_ms_ = 0, bytes_in_ = 0, bytes_out_ = 0;
    std::string error_;
};

}  // namespace lbproxy
