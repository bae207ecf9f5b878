// One request/response exchange of a client connection, as clear steps:
//   parse (done by the tool's front, the ExchangeOwner) -> resolve target
//   (the Route the tool plugs in; lbproxy chooses a server of a group, a
//   choice close() cancels; else the host itself) ->
//   upstream stage (DIRECT, or an upstream proxy: the request line then in
//   absolute form) -> connect -> session stage (its header
//   lines) -> relay -> body stage (a filter of the response body, none
//   today: the body moves as it came) -> record (ExchangeRecord) ->
//   close(), the one way an exchange ends.
// Bodies stream both ways (Content-Length, chunked, until-close) through
// bounded buffers: a side is read only while the other side's output has
// room, so memory per connection does not depend on the body size.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "http/body_filter.hpp"
#include "http/body_pump.hpp"
#include "http/exchange.hpp"
#include "http/head_rewrite.hpp"
#include "http/http_parse.hpp"
#include "http/relay_context.hpp"
#include "http/request_target.hpp"
#include "http/route.hpp"
#include "http/stream.hpp"

namespace lbkit::http {

class Relay final : public RouteUser, public UpstreamUser {
public:
    Relay(RelayContext& ctx, ExchangeOwner& owner, Parser& request_parser);
    ~Relay();
    Relay(const Relay&) = delete;
    Relay& operator=(const Relay&) = delete;

    // req was parsed from the front of the client's input (its views point
    // there) and t from its target. Consumes the head from the input.
    void begin(const Head& req, const Target& t);

    void client_readable();
    void client_drained();
    void client_event(short what);
    // The one way an exchange ends: whatever is in progress stops (an
    // outstanding choice is cancelled), the row is recorded with why (the
    // first cause given wins), and the owner hears how the client
    // connection goes on. Does nothing when no exchange is open.
    void close(const std::string& why, Ending how, bool delivered = false);

private:
    enum class Resp { head, body, done };

    // RouteUser
    void dialed(UpstreamConn* conn) override;
    void dial_failed(int status, const std::string& sentence) override;
    // UpstreamUser
    void upstream_readable(UpstreamConn&) override { pump_response(); }
    void upstream_drained(UpstreamConn&) override { pump_request_body(); }
    void upstream_event(UpstreamConn&, short what) override;

    void send_request_head();
    void pump_request_body();
    void pump_response();
    bool read_response_head();
    ResponsePlan response_plan(bool body_follows);
    void pump_response_body();
    void response_complete();
    void upstream_lost(UpstreamError kind, const std::string& why);
    void bad_response(std::string_view why);
    void server_failed();
    void fail(int status, const std::string& sentence);
    void cut(const std::string& why);
    void wait_delivery();
    void delivered();
    void release_upstream(bool reusable);
    evbuffer* client_in() const { return owner_.client().in(); }
    evbuffer* client_out() const { return owner_.client().out(); }
    // Where answer bytes go: the stage while the client's output is empty
    // (then written at once, see Stream::send), else behind that output.
    evbuffer* client_sink() const { return evbuffer_get_length(client_out()) ? client_out() : stage_.get(); }
    void flush_client() { owner_.client().send(stage_.get()); }

    RelayContext& ctx_;
    ExchangeOwner& owner_;
    ExchangeRecord record_;
    Parser& req_parser_;
    std::unique_ptr<Route> route_;
    UpstreamConn* upstream_ = nullptr;
    ev::BufferPtr stage_{evbuffer_new()};

    // The request, kept for the row and for a retry elsewhere.
    int method_ = 0;
    std::string method_name_, url_, host_, authority_;
    uint16_t port_ = 80;
    std::string req_line_, req_rest_, host_line_, session_lines_;
    std::string proxy_line_;  // req_line_ in absolute form, for an upstream proxy
    bool req_is_10_ = false, req_keep_alive_ = true;
    Framing req_framing_ = Framing::none;
    uint64_t req_remaining_ = 0;
    bool req_body_done_ = true;
    bool body_moved_ = false;  // request body bytes went to a server: no retry

    // The response.
    Parser resp_parser_{HTTP_RESPONSE};
    Head resp_head_;
    std::string resp_buf_;
    std::size_t resp_scanned_ = 0;
    Resp resp_ = Resp::head;
    Framing resp_framing_ = Framing::none;
    uint64_t resp_remaining_ = 0;
    bool resp_dechunk_ = false;
    std::optional<FilterPump> resp_filter_;  // the body stage's filter, if it gave one
    bool head_sent_ = false;     // a final head (or error answer) went to the client
    bool upstream_eof_ = false;
    std::string upstream_error_;
    bool close_client_ = false;

    bool retried_ = false, stale_retried_ = false;
    bool waiting_delivery_ = false;
};

}  // namespace lbkit::http
