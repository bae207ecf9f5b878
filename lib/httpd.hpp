// The JSON control API server every daemon runs (evhttp): a route table whose
// rows say which requests change state, so the token check cannot be
// forgotten; body size limits; JSON error sentences; GET /metrics and
// GET /v1/health built in; requests that wait for a change (long polling).
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ev.hpp"
#include "loop.hpp"
#include "metrics.hpp"

namespace lbkit::httpd {

using Json = nlohmann::json;

struct Request {
    evhttp_request* raw = nullptr;
    std::string method;                         // "GET", "POST", ...
    std::string path;                           // decoded, without the query
    std::map<std::string, std::string> query;   // decoded query parameters
    std::vector<std::string> params;            // the "{}" segments of the route
    std::string body;
    std::string peer;                           // client IP
    bool authenticated = false;                 // a valid token was presented

    std::optional<std::string> arg(const std::string& name) const;
    // A whole-number argument, dflt when absent; otherwise throws HttpError
    // 400 ("query parameter limit '0': not a whole number from 1 to 100000").
    int64_t int_arg(const std::string& name, int64_t dflt, int64_t min, int64_t max) const;
    std::string header(const char* name) const;
    // The body as a JSON object; throws BadInput("body is not JSON: ...").
    Json json_object() const;
};

struct Response;

// A request that cannot be answered yet (long polling): the server answers
// it with answer() as soon as a Server::notify() finds ready() true, or when
// `wait` has passed. A client that goes away meanwhile is forgotten.
struct Deferred {
    Millis wait{0};
    std::function<bool()> ready;
    std::function<Response()> answer;
};

struct Response {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
    std::shared_ptr<Deferred> deferred;  // set by later(): no answer yet

    static Response json(const Json& j, int status = 200);
    static Response error(int status, const std::string& sentence);
    static Response text(std::string body, const char* type = "text/plain; charset=utf-8", int status = 200);
    static Response no_content() { Response r; r.status = 204; r.content_type.clear(); return r; }
    static Response later(Deferred d);
};

// Throw from a handler to answer with a status and a JSON error sentence.
struct HttpError : std::runtime_error {
    HttpError(int status, const std::string& sentence) : std::runtime_error(sentence), status(status) {}
    int status;
};

using Handler = std::function<Response(Request&)>;

struct Route {
    const char* method;
    const char* pattern;  // "/v1/servers/{}/pin": "{}" matches one path segment
    bool mutating;        // needs the token when one is configured
    Handler handler;
};

// What one listener grants its clients, so that slow or idle ones cannot
// hold it (the flags: httpd_flags.hpp; lbstated(8), lbproxy(8) --admin-*).
struct Limits {
    // A request, head and body, from its first byte (or the accept) to its
    // last: the API's bodies are small, one deadline covers both.
    Millis header_timeout{10000};
    // A keep-alive connection with no request; also the longest an answer
    // may stay unread.
    Millis idle_timeout{60000};
    // Open connections; at the limit the server stops accepting (new ones
    // wait in the kernel's queue) until one closes, as haproxy's maxconn.
    std::size_t max_connections = 512;
    std::string flag_prefix = "--";  // names the flags in log lines ("--admin-")
};

struct Options {
    std::string token;              // empty: no token configured
    std::size_t max_body = 1 << 20;
    Limits limits;
    std::string service = "lbkit";  // used in /v1/health and metric names
    std::size_t max_waiting = 1024;  // deferred requests at once; beyond, 503
};

class Server {
public:
    Server(Loop& loop, Metrics& metrics, Options options);
    ~Server();
    void add(Route route);
    void add(std::vector<Route> routes) { for (auto& r : routes) add(std::move(r)); }
    // "127.0.0.1:7400", "[::1]:7400", ":7400" (all addresses: needs a token).
    // Throws Error(EX_CONFIG) for a non-loopback address without a token,
    // Error(EX_UNAVAILABLE) when the address cannot be bound.
    void listen(const std::string& addr);
    // The port actually bound (useful with port 0).
    uint16_t bound_port() const { return bound_port_; }
    // Extra fields for GET /v1/health.
    void on_health(std::function<Json()> fn) { health_ = std::move(fn); }
    // Answers every deferred request whose ready() is now true; the owner
    // calls it after each change a deferred request may wait for.
    void notify();
    std::size_t waiting() const { return waiters_.size(); }
    // Connections open now (those the limits apply to).
    std::size_t connections() const { return conns_.size(); }

private:
    struct Waiter;
    struct Conn;
    // The life of a connection under the limits (httpd_conns.cpp).
    static bufferevent* accepted_cb(event_base* base, void* arg);
    static void adopt_cb(evutil_socket_t, short, void* arg);
    static void input_cb(evbuffer* buf, const evbuffer_cb_info* info, void* arg);
    static void deadline_cb(evutil_socket_t, short, void* arg);
    static void answered_cb(evhttp_request* req, void* arg);
    static void conn_closed_cb(evhttp_connection* conn, void* arg);
    void init_limits();
    void forget_connections();
    Conn* conn_of(evhttp_request* req);
    void expect_request(Conn& c, Millis within);
    void handling(evhttp_request* req);
    void answered(evhttp_request* req);
    void expire(Conn& c);
    void closed(Conn& c);
    void pause_accepting();
    void resume_accepting();
    static void dispatch_cb(evhttp_request* req, void* arg);
    static void timeout_cb(evutil_socket_t, short, void* arg);
    static void hangup_cb(evutil_socket_t fd, short, void* arg);
    void dispatch(evhttp_request* req);
    Response handle(Request& req);
    Response route(Request& req);
    void send(evhttp_request* req, Response&& resp);
    void park(evhttp_request* req, std::shared_ptr<Deferred> deferred);
    std::unique_ptr<Waiter> unpark(Waiter* w);
    void forget(Waiter* w);  // its connection closed
    void answer(Waiter* w);

    Loop& loop_;
    Metrics& metrics_;
    Options options_;
    ev::HttpPtr http_;
    std::vector<Route> routes_;
    std::function<Json()> health_;
    uint16_t bound_port_ = 0;
    Series* requests_total_ = nullptr;
    Series* rejected_total_ = nullptr;
    Series* waiting_ = nullptr;
    std::map<Waiter*, std::unique_ptr<Waiter>> waiters_;
    std::map<Conn*, std::unique_ptr<Conn>> conns_;
    std::map<evhttp_connection*, Conn*> by_evhttp_;
    std::vector<Conn*> unadopted_;  // accepted; evhttp's connection not made yet
    ev::EventPtr adopt_;
    std::vector<evconnlistener*> listeners_;  // owned by http_
    bool paused_ = false;
    int64_t paused_since_ms_ = 0;
    int64_t limit_logged_ms_ = 0;
    uint64_t pauses_unlogged_ = 0;
    int64_t timeouts_logged_ms_ = 0;
    uint64_t timeouts_unlogged_ = 0;
    Series* connections_ = nullptr;
    Series* limit_reached_total_ = nullptr;
    Series* header_timeouts_total_ = nullptr;
};

// GET of a versioned document with ?since=N&wait=D (long polling, as lbctl
// status --watch does): answer() at once when version() is not N (a newer
// one, or an older one after a restart), else as soon as a Server::notify()
// finds another version, or after D with the version then. Without since, or with since and no wait, answer() at once. A since
// that is not a whole number, a bad duration, a D over max_wait or a wait
// without since throw HttpError(400).
Response versioned(const Request& req, std::function<uint64_t()> version, std::function<Response()> answer,
                   Millis max_wait = Millis(60000));

// Percent-decodes one URL path segment or query value.
std::string url_decode(const std::string& s);
std::string url_encode(const std::string& s);

}  // namespace lbkit::httpd
