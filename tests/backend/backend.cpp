// lbtest-backend: the HTTP/1.1 server the integration tests, the demo and
// the benchmarks put behind lbproxy. It answers with its name (body and
// X-Backend header) and does what the request path asks:
//   /                     200, body "NAME\n"
//   /slow?ms=N            the same after N ms
//   /status/NNN           that status
//   /reset                resets the connection (RST), no answer
//   /close                answers with Connection: close, then closes
//   /chunked?n=B&size=C   B bytes in chunks of C (default 1000)
//   /bytes?n=B[&chunked=1] B bytes of a fixed pattern, streamed (never buffered whole)
//   /cut?n=B              announces 2B bytes, sends B, closes
//   /bad                  a response with ambiguous framing
//   /echo                 the request line, headers and body length, as text
//   /mirror               the request body sent back as it arrives
//   /stats                "connections N\nrequests M\n" since start, then
//                         "path P K\n" for every path P requested K times
// --status NNN answers every request but /stats with that status (a failing
// server for passive ejection tests).
// Keep-alive and pipelining as HTTP/1.1 says; Expect: 100-continue answered.
// It uses libhttp-parser directly, not lbproxy's code, so a parsing bug in
// the proxy is not hidden by the same bug here.
#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <http_parser.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sysexits.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <iostream>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

namespace {

struct Server {
    event_base* base = nullptr;
    std::string name;
    int status = 0;  // --status: every answer has it
    long connections = 0, requests = 0;
    std::map<std::string, long> paths;
};

constexpr std::size_t stream_high = 1 << 20;  // output kept below this while streaming
const char pattern_chars[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
constexpr std::size_t pattern_period = sizeof pattern_chars - 1;

// 62 KiB of pattern, a whole number of periods, so blocks can follow each other.
const std::string& pattern_block()
{
    static const std::string block = [] {
        std::string s(pattern_period * 1024, ' ');
        for (std::size_t i = 0; i < s.size(); ++i)
            s[i] = pattern_chars[i % pattern_period];
        return s;
    }();
    return block;
}

long query_long(const std::string& url, const std::string& key, long def)
{
    auto q = url.find('?');
    if (q == std::string::npos)
        return def;
    std::string needle = key + "=";
    for (std::size_t pos = q + 1; pos < url.size();) {
        auto amp = url.find('&', pos);
        std::string item = url.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
        if (item.rfind(needle, 0) == 0)
            return std::atol(item.c_str() + needle.size());
        if (amp == std::string::npos)
            break;
        pos = amp + 1;
    }
    return def;
}

bool iequal(const std::string& a, const char* b)
{
    return strcasecmp(a.c_str(), b) == 0;
}

class Conn {
public:
    Conn(Server& srv, evutil_socket_t fd) : srv_(srv)
    {
        bev_ = bufferevent_socket_new(srv.base, fd, BEV_OPT_CLOSE_ON_FREE);
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        bufferevent_setcb(bev_, &read_cb, &write_cb, &event_cb, this);
        bufferevent_setwatermark(bev_, EV_READ, 0, 256 * 1024);
        bufferevent_enable(bev_, EV_READ | EV_WRITE);
        http_parser_init(&parser_, HTTP_REQUEST);
        parser_.data = this;
        timer_ = evtimer_new(srv.base, &timer_cb, this);
    }
    ~Conn()
    {
        event_free(timer_);
        bufferevent_free(bev_);
    }

private:
    static const http_parser_settings& settings()
    {
        static const http_parser_settings s = [] {
            http_parser_settings st;
            http_parser_settings_init(&st);
            st.on_message_begin = &Conn::on_begin;
            st.on_url = &Conn::on_url;
            st.on_header_field = &Conn::on_field;
            st.on_header_value = &Conn::on_value;
            st.on_headers_complete = &Conn::on_headers;
            st.on_body = &Conn::on_body;
            st.on_message_complete = &Conn::on_complete;
            return st;
        }();
        return s;
    }
    static Conn* of(http_parser* p) { return static_cast<Conn*>(p->data); }

    static int on_begin(http_parser* p)
    {
        auto* c = of(p);
        c->url_.clear();
        c->headers_.clear();
        c->body_len_ = 0;
        c->last_value_ = false;
        c->answered_ = false;
        c->mirror_ = false;
        c->done_writing_ = true;
        c->close_after_ = false;
        return 0;
    }
    static int on_url(http_parser* p, const char* at, size_t len) { of(p)->url_.append(at, len); return 0; }
    static int on_field(http_parser* p, const char* at, size_t len)
    {
        auto* c = of(p);
        if (c->last_value_ || c->headers_.empty())
            c->headers_.emplace_back();
        c->headers_.back().first.append(at, len);
        c->last_value_ = false;
        return 0;
    }
    static int on_value(http_parser* p, const char* at, size_t len)
    {
        auto* c = of(p);
        c->headers_.back().second.append(at, len);
        c->last_value_ = true;
        return 0;
    }
    static int on_headers(http_parser* p)
    {
        auto* c = of(p);
        ++c->srv_.requests;
        c->keep_alive_ = http_should_keep_alive(p);
        c->head_ = p->method == HTTP_HEAD;
        bool expect = false;
        for (auto& [k, v] : c->headers_)
            if (iequal(k, "expect") && iequal(v, "100-continue"))
                expect = true;
        std::string path = c->url_.substr(0, c->url_.find('?'));
        ++c->srv_.paths[path];
        bool forced = c->srv_.status != 0 && path != "/stats";
        if (forced || path.rfind("/status/", 0) == 0) {
            // A final answer before the body: the client may keep its body.
            c->keep_alive_ = c->keep_alive_ && !expect;
            c->answer(forced ? c->srv_.status : std::atoi(path.c_str() + 8), c->srv_.name + "\n");
            c->closing_ = !c->keep_alive_;  // the body may never come
            return 0;
        }
        if (expect)
            evbuffer_add_printf(c->out(), "HTTP/1.1 100 Continue\r\n\r\n");
        if (path == "/mirror") {
            c->mirror_ = true;
            c->answered_ = true;
            bool chunked = p->flags & F_CHUNKED;
            c->mirror_chunked_ = chunked;
            c->head_line(200, chunked ? -1 : (p->flags & F_CONTENTLENGTH ? long(p->content_length) : 0));
        }
        return 0;
    }
    static int on_body(http_parser* p, const char* at, size_t len)
    {
        auto* c = of(p);
        c->body_len_ += len;
        if (c->mirror_) {
            if (c->mirror_chunked_)
                evbuffer_add_printf(c->out(), "%zx\r\n", len);
            evbuffer_add(c->out(), at, len);
            if (c->mirror_chunked_)
                evbuffer_add(c->out(), "\r\n", 2);
        }
        return 0;
    }
    static int on_complete(http_parser* p)
    {
        auto* c = of(p);
        if (c->mirror_ && c->mirror_chunked_)
            evbuffer_add(c->out(), "0\r\n\r\n", 5);
        if (!c->answered_)
            c->route();
        // One request at a time: the next waits until this one is answered.
        http_parser_pause(p, 1);
        return 0;
    }

    evbuffer* out() { return bufferevent_get_output(bev_); }

    void route()
    {
        std::string path = url_.substr(0, url_.find('?'));
        const std::string& name = srv_.name;
        answered_ = true;
        done_writing_ = true;
        if (path == "/slow") {
            long ms = query_long(url_, "ms", 100);
            timeval tv{ms / 1000, (ms % 1000) * 1000};
            done_writing_ = false;
            evtimer_add(timer_, &tv);
        } else if (path == "/reset") {
            linger l{1, 0};
            setsockopt(bufferevent_getfd(bev_), SOL_SOCKET, SO_LINGER, &l, sizeof l);
            reset_ = true;
        } else if (path == "/close") {
            keep_alive_ = false;
            answer(200, name + "\n");
        } else if (path == "/chunked") {
            long n = query_long(url_, "n", 10000), size = std::max(1L, query_long(url_, "size", 1000));
            head_line(200, -1);
            const std::string& block = pattern_block();
            for (long sent = 0; sent < n && !head_;) {
                long k = std::min({size, n - sent, long(block.size() - std::size_t(sent) % pattern_period)});
                evbuffer_add_printf(out(), "%lx\r\n", k);
                evbuffer_add(out(), block.data() + sent % pattern_period, size_t(k));
                evbuffer_add(out(), "\r\n", 2);
                sent += k;
            }
            if (!head_)
                evbuffer_add(out(), "0\r\n\r\n", 5);
        } else if (path == "/bytes") {
            stream_left_ = query_long(url_, "n", 1 << 20);
            stream_chunked_ = query_long(url_, "chunked", 0) != 0;
            head_line(200, stream_chunked_ ? -1 : stream_left_);
            stream_pos_ = 0;
            if (head_)
                stream_left_ = 0;
            done_writing_ = false;
            stream();
        } else if (path == "/cut") {
            long n = query_long(url_, "n", 1000);
            head_line(200, 2 * n);
            evbuffer_add(out(), pattern_block().data(), size_t(std::min<long>(n, long(pattern_block().size()))));
            keep_alive_ = false;
            close_after_ = true;
        } else if (path == "/bad") {
            evbuffer_add_printf(out(), "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
                                       "5\r\nhello\r\n0\r\n\r\n");
        } else if (path == "/echo") {
            std::string b = "method " + std::string(http_method_str(http_method(parser_.method))) + "\n";
            b += "target " + url_ + "\n";
            b += "version " + std::to_string(parser_.http_major) + "." + std::to_string(parser_.http_minor) + "\n";
            for (auto& [k, v] : headers_)
                b += "header " + k + ": " + v + "\n";
            b += "body-length " + std::to_string(body_len_) + "\n";
            answer(200, b);
        } else if (path == "/stats") {
            std::string b = "connections " + std::to_string(srv_.connections) + "\nrequests "
                            + std::to_string(srv_.requests) + "\n";
            for (auto& [p, n] : srv_.paths)
                b += "path " + p + " " + std::to_string(n) + "\n";
            answer(200, b);
        } else {
            answer(200, name + "\n");
        }
    }

    // Status line and headers; length -1: chunked.
    void head_line(int status, long length)
    {
        evbuffer_add_printf(out(), "HTTP/1.1 %d %s\r\nX-Backend: %s\r\nContent-Type: text/plain\r\n", status,
                            http_status_str(http_status(status)), srv_.name.c_str());
        if (length < 0)
            evbuffer_add_printf(out(), "Transfer-Encoding: chunked\r\n");
        else
            evbuffer_add_printf(out(), "Content-Length: %ld\r\n", length);
        if (!keep_alive_)
            evbuffer_add_printf(out(), "Connection: close\r\n");
        evbuffer_add(out(), "\r\n", 2);
    }

    void answer(int status, const std::string& body)
    {
        answered_ = true;
        bool bodiless = status == 204 || status == 304 || (status >= 100 && status < 200);
        head_line(status, bodiless ? 0 : long(body.size()));
        if (!head_ && !bodiless)
            evbuffer_add(out(), body.data(), body.size());
    }

    // Adds pattern bytes while the output has room; write_cb calls again.
    void stream()
    {
        const std::string& block = pattern_block();
        while (stream_left_ > 0 && evbuffer_get_length(out()) < stream_high) {
            long k = std::min(stream_left_, long(block.size() - std::size_t(stream_pos_) % pattern_period));
            const char* from = block.data() + stream_pos_ % pattern_period;
            if (stream_chunked_)
                evbuffer_add_printf(out(), "%lx\r\n", k);
            evbuffer_add(out(), from, size_t(k));
            if (stream_chunked_)
                evbuffer_add(out(), "\r\n", 2);
            stream_left_ -= k;
            stream_pos_ += k;
        }
        if (stream_left_ == 0 && !done_writing_) {
            if (stream_chunked_ && !head_)
                evbuffer_add(out(), "0\r\n\r\n", 5);
            done_writing_ = true;
        }
    }

    void process()
    {
        while (!closing_) {
            if (busy_ || evbuffer_get_length(out()) >= stream_high)
                return;
            evbuffer* in = bufferevent_get_input(bev_);
            std::size_t len = evbuffer_get_length(in);
            if (len == 0)
                return;
            if (HTTP_PARSER_ERRNO(&parser_) == HPE_PAUSED)
                http_parser_pause(&parser_, 0);
            evbuffer_iovec vec;
            evbuffer_peek(in, -1, nullptr, &vec, 1);
            std::size_t n = http_parser_execute(&parser_, &settings(), static_cast<char*>(vec.iov_base), vec.iov_len);
            evbuffer_drain(in, n);
            auto err = HTTP_PARSER_ERRNO(&parser_);
            if (reset_)
                return destroy();
            if (err != HPE_OK && err != HPE_PAUSED) {
                evbuffer_add_printf(out(), "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                closing_ = true;
                return;
            }
            if (err == HPE_PAUSED)
                after_message();
            else if (n == 0)
                return;
        }
    }

    void after_message()
    {
        busy_ = true;
        if (done_writing_)
            finish_response();
    }

    void finish_response()
    {
        busy_ = false;
        if (!keep_alive_ || close_after_)
            closing_ = true;
    }

    static void read_cb(bufferevent*, void* arg) { static_cast<Conn*>(arg)->process(); }
    static void write_cb(bufferevent*, void* arg)
    {
        auto* c = static_cast<Conn*>(arg);
        if (c->stream_left_ > 0)
            c->stream();
        if (c->busy_ && c->done_writing_)
            c->finish_response();
        if (c->closing_ && evbuffer_get_length(c->out()) == 0)
            return c->destroy();
        c->process();
    }
    static void event_cb(bufferevent*, short, void* arg) { static_cast<Conn*>(arg)->destroy(); }
    static void timer_cb(evutil_socket_t, short, void* arg)
    {
        auto* c = static_cast<Conn*>(arg);
        c->answer(200, c->srv_.name + "\n");
        c->done_writing_ = true;
        c->finish_response();
        if (!c->closing_)
            c->process();
    }
    void destroy() { delete this; }

    Server& srv_;
    bufferevent* bev_;
    event* timer_;
    http_parser parser_;
    std::string url_;
    std::vector<std::pair<std::string, std::string>> headers_;
    std::size_t body_len_ = 0;
    bool last_value_ = false, keep_alive_ = true, head_ = false, answered_ = false;
    bool mirror_ = false, mirror_chunked_ = false;
    bool busy_ = false, done_writing_ = true, closing_ = false, reset_ = false, close_after_ = false;
    long stream_left_ = 0, stream_pos_ = 0;
    bool stream_chunked_ = false;
};

void accept_cb(evconnlistener*, evutil_socket_t fd, sockaddr*, int, void* arg)
{
    auto* srv = static_cast<Server*>(arg);
    ++srv->connections;
    new Conn(*srv, fd);
}

void stop_cb(evutil_socket_t, short, void* arg)
{
    event_base_loopexit(static_cast<event_base*>(arg), nullptr);
}

}  // namespace

int main(int argc, char** argv)
{
    CLI::App app{"Test HTTP/1.1 backend for lbkit's integration tests and demo", "lbtest-backend"};
    std::string listen, name = "backend";
    app.add_option("--listen", listen, "ADDR:PORT to listen on (loopback)")->required();
    app.add_option("--name", name, "Name sent in every answer")->capture_default_str();
    int status = 0;
    app.add_option("--status", status, "Answer every request (but /stats) with this status")
        ->check(CLI::Range(200, 599));
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : EX_USAGE;
    }
    std::signal(SIGPIPE, SIG_IGN);
    Server srv;
    srv.base = event_base_new();
    srv.name = name;
    srv.status = status;
    sockaddr_storage ss{};
    int len = sizeof ss;
    if (evutil_parse_sockaddr_port(listen.c_str(), reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
        std::cerr << "lbtest-backend: --listen " << listen << ": not ADDR:PORT\n";
        return EX_USAGE;
    }
    evconnlistener* l = evconnlistener_new_bind(srv.base, &accept_cb, &srv, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
                                                1024, reinterpret_cast<sockaddr*>(&ss), len);
    if (!l) {
        std::cerr << "lbtest-backend: listen on " << listen << ": " << std::strerror(errno) << "\n";
        return EX_UNAVAILABLE;
    }
    event* term = evsignal_new(srv.base, SIGTERM, &stop_cb, srv.base);
    event* intr = evsignal_new(srv.base, SIGINT, &stop_cb, srv.base);
    event_add(term, nullptr);
    event_add(intr, nullptr);
    event_base_dispatch(srv.base);
    event_free(term);
    event_free(intr);
    evconnlistener_free(l);
    event_base_free(srv.base);
    return 0;
}
