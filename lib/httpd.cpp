#include "httpd.hpp"
#include "httpd_records.hpp"

#include <event2/keyvalq_struct.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdint>

#include "addr.hpp"
#include "api.hpp"
#include "auth.hpp"
#include "clock.hpp"
#include "config.h"
#include "error.hpp"
#include "log.hpp"

namespace lbkit::httpd {
namespace {

// A large body (lbproxy's history answer can be tens of MB) is handed to
// libevent without a copy on the loop: the buffer frees the string once sent.
void add_body(evbuffer* buf, std::string&& text)
{
    if (text.size() < 65536) {
        evbuffer_add(buf, text.data(), text.size());
        return;
    }
    auto* owned = new std::string(std::move(text));
    auto release = [](const void*, size_t, void* arg) { delete static_cast<std::string*>(arg); };
    if (evbuffer_add_reference(buf, owned->data(), owned->size(), release, owned) != 0) {
        evbuffer_add(buf, owned->data(), owned->size());
        delete owned;
    }
}

std::vector<std::string> split_path(const std::string& path)
{
    std::vector<std::string> out;
    std::size_t i = 0;
    while (i < path.size()) {
        while (i < path.size() && path[i] == '/') ++i;
        std::size_t j = path.find('/', i);
        if (j == std::string::npos) j = path.size();
        if (j > i) out.push_back(path.substr(i, j - i));
        i = j;
    }
    return out;
}

// Matches "/v1/servers/{}/pin" against the request path; fills params.
bool match(const char* pattern, const std::vector<std::string>& segs, std::vector<std::string>& params)
{
    auto pat = split_path(pattern);
    if (pat.size() != segs.size())
        return false;
    std::vector<std::string> found;
    for (std::size_t i = 0; i < pat.size(); ++i) {
        if (pat[i] == "{}")
            found.push_back(url_decode(segs[i]));
        else if (pat[i] != segs[i])
            return false;
    }
    params = std::move(found);
    return true;
}

const char* method_name(evhttp_cmd_type cmd)
{
    switch (cmd) {
    case EVHTTP_REQ_GET: return "GET";
    case EVHTTP_REQ_POST: return "POST";
    case EVHTTP_REQ_PUT: return "PUT";
    case EVHTTP_REQ_DELETE: return "DELETE";
    case EVHTTP_REQ_HEAD: return "HEAD";
    default: return "OTHER";
    }
}

}  // namespace

std::string url_decode(const std::string& s)
{
    std::size_t n = 0;
    char* d = evhttp_uridecode(s.c_str(), 1, &n);
    if (!d)
        return s;
    std::string out(d, n);
    free(d);
    return out;
}

std::string url_encode(const std::string& s)
{
    char* e = evhttp_uriencode(s.c_str(), static_cast<ev_ssize_t>(s.size()), 0);
    if (!e)
        return s;
    std::string out(e);
    free(e);
    return out;
}

std::optional<std::string> Request::arg(const std::string& name) const
{
    auto it = query.find(name);
    if (it == query.end())
        return std::nullopt;
    return it->second;
}

int64_t Request::int_arg(const std::string& name, int64_t dflt, int64_t min, int64_t max) const
{
    auto v = arg(name);
    if (!v)
        return dflt;
    int64_t n = 0;
    auto [end, err] = std::from_chars(v->data(), v->data() + v->size(), n);
    if (v->empty() || err != std::errc() || end != v->data() + v->size() || n < min || n > max)
        throw HttpError(400, "query parameter " + name + " '" + *v + "': not a whole number from " +
                                 std::to_string(min) + " to " + std::to_string(max));
    return n;
}

std::string Request::header(const char* name) const
{
    const char* v = evhttp_find_header(evhttp_request_get_input_headers(raw), name);
    return v ? v : "";
}

Json Request::json_object() const
{
    if (body.empty())
        throw BadInput("body: missing (expected a JSON object)");
    Json j = Json::parse(body, nullptr, false);
    if (j.is_discarded())
        throw BadInput("body is not valid JSON");
    if (!j.is_object())
        throw BadInput("body: must be a JSON object");
    return j;
}

Response Response::json(const Json& j, int status)
{
    Response r;
    r.status = status;
    r.body = api::dump(j) + "\n";
    return r;
}

Response Response::error(int status, const std::string& sentence)
{
    return json(Json{{"error", sentence}}, status);
}

Response Response::text(std::string body, const char* type, int status)
{
    Response r;
    r.status = status;
    r.content_type = type;
    r.body = std::move(body);
    return r;
}

Response Response::later(Deferred d)
{
    Response r;
    r.deferred = std::make_shared<Deferred>(std::move(d));
    return r;
}


Server::Server(Loop& loop, Metrics& metrics, Options options)
    : loop_(loop), metrics_(metrics), options_(std::move(options)), http_(evhttp_new(loop.base()))
{
    if (!http_)
        throw Error(EX_OSERR, "http server: cannot create");
    evhttp_set_allowed_methods(http_.get(), EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                                                EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD);
    // evhttp answers bodies over this hard cap itself (HTML 413, connection
    // closed) without buffering them; bodies between the API limit and the
    // cap reach dispatch() and get the JSON 413.
    evhttp_set_max_body_size(http_.get(), static_cast<ev_ssize_t>(options_.max_body * 4 + 65536));
    evhttp_set_max_headers_size(http_.get(), 32 * 1024);
    init_limits();
    evhttp_set_gencb(http_.get(), &Server::dispatch_cb, this);
    requests_total_ = &metrics_.counter("lbkit_api_requests_total", "Control API requests answered");
    rejected_total_ = &metrics_.counter("lbkit_api_rejected_total", "Control API requests answered with 4xx");
    waiting_ = &metrics_.gauge("lbkit_api_waiting_requests", "Control API requests waiting for a change (long polling)");
    const int64_t started = lbkit::unix_ms();
    add({"GET", "/metrics", false, [this](Request&) {
             return Response::text(metrics_.render(), "text/plain; version=0.0.4; charset=utf-8");
         }});
    add({"GET", "/v1/health", false, [this, started](Request&) {
             Json j = {{"status", "ok"}, {"service", options_.service}, {"version", PACKAGE_VERSION},
                       {"started_ms", started}, {"pid", static_cast<int>(getpid())}};
             if (health_)
                 j.update(health_());
             // A load balancer's or a script's health check reads the code.
             return Response::json(j, j["status"] == "ok" ? 200 : 503);
         }});
}

Server::~Server()
{
    // evhttp_free (http_, destroyed after this body) frees the waiting
    // requests with their connections; their close callbacks must not find
    // a Waiter or a connection record that is gone.
    forget_connections();
    waiters_.clear();
}

void Server::add(Route route)
{
    routes_.push_back(std::move(route));
}

void Server::listen(const std::string& addr)
{
    HostPort hp;
    try {
        hp = parse_host_port(!addr.empty() && addr[0] == ':' ? "0.0.0.0" + addr : addr, 0);
    } catch (const BadInput& e) {
        throw Error(EX_USAGE, "listen " + addr + ": " + e.what());
    }
    if (!is_loopback(hp.host) && options_.token.empty())
        throw Error(EX_CONFIG, "listen " + addr + ": refusing a non-loopback address without a token (--token-file)");
    evhttp_bound_socket* sock = evhttp_bind_socket_with_handle(http_.get(), hp.host.c_str(), hp.port);
    if (!sock)
        throw Error(EX_UNAVAILABLE, "listen " + addr + ": cannot bind (address in use or not available)");
    listeners_.push_back(evhttp_bound_socket_get_listener(sock));
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    getsockname(evhttp_bound_socket_get_fd(sock), reinterpret_cast<sockaddr*>(&ss), &len);
    bound_port_ = ntohs(ss.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                                                 : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
}

void Server::dispatch_cb(evhttp_request* req, void* arg)
{
    static_cast<Server*>(arg)->dispatch(req);
}

void Server::dispatch(evhttp_request* raw)
{
    handling(raw);
    Request req;
    req.raw = raw;
    req.method = method_name(evhttp_request_get_command(raw));
    const evhttp_uri* uri = evhttp_request_get_evhttp_uri(raw);
    const char* path = uri ? evhttp_uri_get_path(uri) : nullptr;
    req.path = path && *path ? path : "/";
    if (const char* q = uri ? evhttp_uri_get_query(uri) : nullptr) {
        evkeyvalq params;
        if (evhttp_parse_query_str(q, &params) == 0) {
            for (evkeyval* kv = params.tqh_first; kv; kv = kv->next.tqe_next)
                req.query.emplace(kv->key, kv->value);
        }
        evhttp_clear_headers(&params);
    }
    if (evhttp_connection* conn = evhttp_request_get_connection(raw)) {
        if (const sockaddr* sa = evhttp_connection_get_addr(conn))
            req.peer = sockaddr_ip(sa);
    }
    evbuffer* in = evhttp_request_get_input_buffer(raw);
    std::size_t len = evbuffer_get_length(in);
    Response resp;
    if (len > options_.max_body) {
        resp = Response::error(413, "body larger than " + std::to_string(options_.max_body) + " bytes");
    } else {
        req.body.resize(len);
        evbuffer_copyout(in, req.body.data(), len);
        resp = handle(req);
    }
    if (resp.deferred)
        park(raw, std::move(resp.deferred));
    else
        send(raw, std::move(resp));
}

Response Server::handle(Request& req)
{
    try {
        return route(req);
    } catch (const HttpError& e) {
        return Response::error(e.status, e.what());
    } catch (const BadInput& e) {
        return Response::error(400, e.what());
    } catch (const std::exception& e) {
        log::error(req.method, " ", req.path, ": ", e.what());
        return Response::error(500, std::string("internal error: ") + e.what());
    }
}

Response Server::route(Request& req)
{
    auto segs = split_path(req.path);
    bool path_known = false;
    const std::string method = req.method == "HEAD" ? "GET" : req.method;
    for (const auto& r : routes_) {
        std::vector<std::string> params;
        if (!match(r.pattern, segs, params))
            continue;
        path_known = true;
        if (method != r.method)
            continue;
        req.params = std::move(params);
        req.authenticated = options_.token.empty() ||
                            auth::bearer_matches(options_.token, evhttp_find_header(evhttp_request_get_input_headers(req.raw), "Authorization"));
        if (r.mutating && !req.authenticated) {
            log::warn(req.method, " ", req.path, " from ", req.peer, ": refused: missing or wrong token");
            Response resp = Response::error(401, "missing or wrong token (send Authorization: Bearer <token>)");
            resp.headers.emplace_back("WWW-Authenticate", "Bearer");
            return resp;
        }
        return r.handler(req);
    }
    if (path_known)
        return Response::error(405, "method " + req.method + " not allowed on " + req.path);
    return Response::error(404, "no such endpoint: " + req.path);
}

void Server::park(evhttp_request* req, std::shared_ptr<Deferred> deferred)
{
    evhttp_connection* conn = evhttp_request_get_connection(req);
    Conn* record = conn_of(req);
    if (waiters_.size() >= options_.max_waiting || !conn || !record) {
        Response busy = Response::error(503, "too many requests waiting for a change (" +
                                                 std::to_string(options_.max_waiting) + "); try again later");
        busy.headers.emplace_back("Retry-After", "1");
        send(req, std::move(busy));
        return;
    }
    auto w = std::make_unique<Waiter>();
    w->server = this;
    w->req = req;
    w->conn = conn;
    w->record = record;
    w->deferred = std::move(deferred);
    w->deadline.reset(evtimer_new(loop_.base(), &Server::timeout_cb, w.get()));
    // evhttp reads nothing more from the connection until the answer is
    // sent, so it would not see the client leave: watch the socket for the
    // end of file ourselves.
    evutil_socket_t fd = bufferevent_getfd(evhttp_connection_get_bufferevent(conn));
    w->hangup.reset(event_new(loop_.base(), fd, EV_READ, &Server::hangup_cb, w.get()));
    if (!w->deadline || !w->hangup) {
        send(req, Response::error(503, "cannot wait: out of memory"));
        return;
    }
    timeval tv = to_timeval(w->deferred->wait);
    evtimer_add(w->deadline.get(), &tv);
    event_add(w->hangup.get(), nullptr);
    // evhttp frees the connection with the request when it fails or the
    // server goes: closed() forgets the request then.
    record->waiter = w.get();
    Waiter* key = w.get();
    waiters_.emplace(key, std::move(w));
    waiting_->set(static_cast<double>(waiters_.size()));
}

std::unique_ptr<Server::Waiter> Server::unpark(Waiter* w)
{
    auto it = waiters_.find(w);
    if (it == waiters_.end())
        return nullptr;
    auto owned = std::move(it->second);
    waiters_.erase(it);
    owned->record->waiter = nullptr;
    waiting_->set(static_cast<double>(waiters_.size()));
    return owned;
}

void Server::forget(Waiter* w)
{
    unpark(w);
}

void Server::answer(Waiter* w)
{
    auto owned = unpark(w);
    if (!owned)
        return;
    owned->deadline.reset();
    owned->hangup.reset();
    Response resp;
    try {
        resp = owned->deferred->answer();
    } catch (const HttpError& e) {
        resp = Response::error(e.status, e.what());
    } catch (const BadInput& e) {
        resp = Response::error(400, e.what());
    } catch (const std::exception& e) {
        log::error("deferred answer: ", e.what());
        resp = Response::error(500, std::string("internal error: ") + e.what());
    }
    send(owned->req, std::move(resp));
}

void Server::notify()
{
    std::vector<Waiter*> ready;
    for (auto& [w, owned] : waiters_)
        if (owned->deferred->ready && owned->deferred->ready())
            ready.push_back(w);
    for (Waiter* w : ready)
        answer(w);
}

void Server::timeout_cb(evutil_socket_t, short, void* arg)
{
    auto* w = static_cast<Waiter*>(arg);
    w->server->answer(w);
}

void Server::hangup_cb(evutil_socket_t fd, short, void* arg)
{
    auto* w = static_cast<Waiter*>(arg);
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)))
        return;  // a pipelined request: it waits its turn; the watch ends
    // End of file or a reset: the client is gone. Freeing the connection
    // frees the request with it.
    auto owned = w->server->unpark(w);
    if (!owned)
        return;
    evhttp_connection_free(owned->conn);
}

void Server::send(evhttp_request* req, Response&& resp)
{
    requests_total_->inc();
    if (resp.status >= 400 && resp.status < 500)
        rejected_total_->inc();
    evkeyvalq* out = evhttp_request_get_output_headers(req);
    if (!resp.content_type.empty())
        evhttp_add_header(out, "Content-Type", resp.content_type.c_str());
    for (const auto& [k, v] : resp.headers)
        evhttp_add_header(out, k.c_str(), v.c_str());
    ev::BufferPtr body(evbuffer_new());
    add_body(body.get(), std::move(resp.body));
    evhttp_request_set_on_complete_cb(req, &Server::answered_cb, this);
    evhttp_send_reply(req, resp.status, nullptr, body.get());
}

Response versioned(const Request& req, std::function<uint64_t()> version, std::function<Response()> answer,
                   Millis max_wait)
{
    auto since_text = req.arg("since");
    auto wait_text = req.arg("wait");
    if (!since_text) {
        if (wait_text)
            throw HttpError(400, "query parameter wait needs since, the version you have");
        return answer();
    }
    const auto since = static_cast<uint64_t>(req.int_arg("since", 0, 0, INT64_MAX));
    Millis wait{0};
    if (wait_text) {
        try {
            wait = parse_duration(*wait_text);
        } catch (const BadInput& e) {
            throw HttpError(400, std::string("query parameter wait: ") + e.what());
        }
        if (wait > max_wait)
            throw HttpError(400, "query parameter wait '" + *wait_text + "': longer than the limit of " +
                                     format_duration(max_wait));
    }
    // Any other version is news, a smaller one too: the daemon lost its
    // state file, or the state came from a state server that did.
    if (version() != since || wait.count() == 0)
        return answer();
    return Response::later({wait, [version, since] { return version() != since; }, std::move(answer)});
}

}  // namespace lbkit::httpd
