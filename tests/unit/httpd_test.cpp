// lib/httpd on a real loopback socket. Deferred answers (long polling):
// answered on notify, on the wait's end, refused beyond the cap, forgotten
// when the client leaves, and a server destroyed with requests waiting
// (the sanitizer build checks that nothing leaks or is used after free).
// Limits: a request that does not arrive in time, an idle keep-alive
// connection, and the connection cap.
#define BOOST_TEST_MODULE httpd
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <string>

#include "duration.hpp"
#include "error.hpp"
#include "httpd.hpp"

using namespace lbkit;

namespace {

// Runs the loop for about `ms` milliseconds.
void spin(Loop& loop, int ms)
{
    timeval tv = to_timeval(Millis{ms});
    event_base_loopexit(loop.base(), &tv);
    event_base_dispatch(loop.base());
}

struct Client {
    int fd = -1;
    explicit Client(uint16_t port)
    {
        fd = socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_port = htons(port);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        BOOST_REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
    }
    ~Client() { close(); }
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;
    void close()
    {
        if (fd >= 0) ::close(fd);
        fd = -1;
    }
    void get(const std::string& target)
    {
        std::string req = "GET " + target + " HTTP/1.1\r\nHost: t\r\n\r\n";
        BOOST_REQUIRE(send(fd, req.data(), req.size(), 0) == static_cast<ssize_t>(req.size()));
    }
    void send_text(const std::string& text)
    {
        BOOST_REQUIRE(send(fd, text.data(), text.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(text.size()));
    }
    // What has arrived so far, without waiting; notes an end of file.
    std::string received()
    {
        std::string out;
        char buf[4096];
        ssize_t n;
        while ((n = recv(fd, buf, sizeof buf, MSG_DONTWAIT)) > 0)
            out.append(buf, static_cast<std::size_t>(n));
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            closed_by_server = true;
        return out;
    }
    bool closed_by_server = false;
};

struct Fixture {
    Loop loop;
    Metrics metrics;
    uint64_t version = 5;
    std::unique_ptr<httpd::Server> server;

    explicit Fixture(std::size_t max_waiting = 1024, httpd::Limits limits = {})
    {
        httpd::Options o;
        o.max_waiting = max_waiting;
        o.limits = limits;
        server = std::make_unique<httpd::Server>(loop, metrics, o);
        server->add({"GET", "/v", false, [this](httpd::Request& req) {
                         return httpd::versioned(req, [this] { return version; }, [this] {
                             return httpd::Response::json({{"version", version}});
                         });
                     }});
        // listen() takes no port 0: ask the kernel for a free one, and try
        // again in the unlikely case another socket takes it meanwhile.
        for (int attempt = 0;; ++attempt) {
            try {
                server->listen("127.0.0.1:" + std::to_string(free_port()));
                return;
            } catch (const Error&) {
                if (attempt == 5) throw;
            }
        }
    }
    static uint16_t free_port()
    {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof sa;
        bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
        getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
        ::close(fd);
        return ntohs(sa.sin_port);
    }
    uint16_t port() const { return server->bound_port(); }
};

bool answered_with(const std::string& got, const std::string& status, const std::string& body)
{
    return got.rfind("HTTP/1.1 " + status, 0) == 0 && got.find(body) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_CASE(answered_at_once_when_the_version_differs)
{
    Fixture f;
    Client c(f.port());
    c.get("/v?since=4&wait=10s");
    spin(f.loop, 100);
    BOOST_TEST(answered_with(c.received(), "200", "{\"version\":5}"));
    BOOST_TEST(f.server->waiting() == 0u);
}

BOOST_AUTO_TEST_CASE(waits_then_answered_on_notify_and_the_connection_stays)
{
    Fixture f;
    Client c(f.port());
    c.get("/v?since=5&wait=10s");
    spin(f.loop, 100);
    BOOST_TEST(c.received().empty());
    BOOST_TEST(f.server->waiting() == 1u);
    f.server->notify();  // nothing changed: still waiting
    spin(f.loop, 50);
    BOOST_TEST(f.server->waiting() == 1u);
    f.version = 6;
    f.server->notify();
    spin(f.loop, 100);
    BOOST_TEST(answered_with(c.received(), "200", "{\"version\":6}"));
    BOOST_TEST(f.server->waiting() == 0u);
    c.get("/v");  // keep-alive: the next request on the same connection
    spin(f.loop, 100);
    BOOST_TEST(answered_with(c.received(), "200", "{\"version\":6}"));
}

BOOST_AUTO_TEST_CASE(answered_with_the_same_version_after_the_wait)
{
    Fixture f;
    Client c(f.port());
    c.get("/v?since=5&wait=200ms");
    spin(f.loop, 100);
    BOOST_TEST(c.received().empty());
    spin(f.loop, 250);
    BOOST_TEST(answered_with(c.received(), "200", "{\"version\":5}"));
    BOOST_TEST(f.server->waiting() == 0u);
}

BOOST_AUTO_TEST_CASE(bad_arguments_are_400)
{
    Fixture f;
    for (const char* q : {"since=x&wait=1s", "since=5&wait=1y", "since=5&wait=61s", "wait=1s", "since=&wait=1s"}) {
        Client c(f.port());
        c.get(std::string("/v?") + q);
        spin(f.loop, 50);
        BOOST_TEST(answered_with(c.received(), "400", "\"error\""), q);
    }
}

BOOST_AUTO_TEST_CASE(beyond_the_cap_503)
{
    Fixture f(2);
    Client a(f.port()), b(f.port()), c(f.port());
    a.get("/v?since=5&wait=10s");
    b.get("/v?since=5&wait=10s");
    spin(f.loop, 100);
    c.get("/v?since=5&wait=10s");
    spin(f.loop, 100);
    BOOST_TEST(f.server->waiting() == 2u);
    std::string got = c.received();
    BOOST_TEST(answered_with(got, "503", "too many requests waiting for a change (2)"));
    BOOST_TEST(got.find("Retry-After: 1") != std::string::npos);
    BOOST_TEST(a.received().empty());
}

BOOST_AUTO_TEST_CASE(a_client_that_leaves_is_forgotten)
{
    Fixture f;
    Client a(f.port()), b(f.port());
    a.get("/v?since=5&wait=10s");
    b.get("/v?since=5&wait=10s");
    spin(f.loop, 100);
    BOOST_TEST(f.server->waiting() == 2u);
    a.close();
    spin(f.loop, 100);
    BOOST_TEST(f.server->waiting() == 1u);
    f.version = 7;
    f.server->notify();
    spin(f.loop, 100);
    BOOST_TEST(answered_with(b.received(), "200", "{\"version\":7}"));
    BOOST_TEST(f.server->waiting() == 0u);
}

BOOST_AUTO_TEST_CASE(the_server_goes_with_requests_waiting)
{
    Fixture f;
    Client a(f.port()), b(f.port());
    a.get("/v?since=5&wait=10s");
    b.get("/v?since=5&wait=10s");
    spin(f.loop, 100);
    BOOST_TEST(f.server->waiting() == 2u);
    f.server.reset();
    spin(f.loop, 50);  // no timer or socket watch of a gone request may fire
    char buf[16];
    BOOST_TEST(recv(a.fd, buf, sizeof buf, MSG_DONTWAIT) == 0);  // closed, unanswered
}

namespace {

httpd::Limits limits(int header_ms, int idle_ms, std::size_t max_connections = 512)
{
    httpd::Limits l;
    l.header_timeout = Millis(header_ms);
    l.idle_timeout = Millis(idle_ms);
    l.max_connections = max_connections;
    return l;
}

double metric(Fixture& f, const std::string& name)
{
    std::string text = f.metrics.render();
    auto at = text.find("\n" + name + " ");
    BOOST_REQUIRE(at != std::string::npos);
    return std::stod(text.substr(at + name.size() + 2));
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_request_head_sent_slowly_is_cut_at_the_header_timeout)
{
    Fixture f(1024, limits(800, 10000));
    Client slow(f.port()), quiet(f.port());
    const std::string head = "GET /v HTTP/1.1\r\nHost: t\r\n\r\n";
    // One byte every 50 ms: each byte would restart an inactivity timeout.
    for (std::size_t i = 0; i < 10; ++i) {
        slow.send_text(head.substr(i, 1));
        spin(f.loop, 50);
    }
    BOOST_TEST(slow.received().empty());
    BOOST_TEST(!slow.closed_by_server);
    spin(f.loop, 500);
    BOOST_TEST(slow.received().empty());
    BOOST_TEST(slow.closed_by_server);
    quiet.received();
    BOOST_TEST(quiet.closed_by_server);  // connected, sent nothing: the same deadline
    BOOST_TEST(metric(f, "lbkit_api_header_timeouts_total") == 2);
    Client ok(f.port());
    ok.get("/v");
    spin(f.loop, 100);
    BOOST_TEST(answered_with(ok.received(), "200", "{\"version\":5}"));
    BOOST_TEST(f.server->connections() == 1u);
}

BOOST_AUTO_TEST_CASE(an_idle_keep_alive_connection_is_closed_at_the_idle_timeout)
{
    Fixture f(1024, limits(10000, 400));
    Client c(f.port());
    for (int i = 0; i < 3; ++i) {  // requests closer than the idle timeout keep it
        c.get("/v");
        spin(f.loop, 250);
        BOOST_TEST(answered_with(c.received(), "200", "{\"version\":5}"));
        BOOST_TEST(!c.closed_by_server);
    }
    spin(f.loop, 300);
    c.received();
    BOOST_TEST(c.closed_by_server);
    BOOST_TEST(f.server->connections() == 0u);
    BOOST_TEST(metric(f, "lbkit_api_header_timeouts_total") == 0);
}

BOOST_AUTO_TEST_CASE(after_an_idle_pause_the_first_byte_starts_the_header_timeout)
{
    Fixture f(1024, limits(300, 5000));
    Client c(f.port());
    c.get("/v");
    spin(f.loop, 100);
    BOOST_TEST(answered_with(c.received(), "200", "{\"version\":5}"));
    spin(f.loop, 200);
    c.send_text("GET /v HT");  // and no more
    spin(f.loop, 200);
    c.received();
    BOOST_TEST(!c.closed_by_server);
    spin(f.loop, 250);
    c.received();
    BOOST_TEST(c.closed_by_server);  // long before the idle timeout
}

BOOST_AUTO_TEST_CASE(a_long_poll_is_not_cut_by_the_header_timeout)
{
    Fixture f(1024, limits(200, 5000));
    Client c(f.port());
    c.get("/v?since=5&wait=600ms");
    spin(f.loop, 450);
    BOOST_TEST(c.received().empty());
    BOOST_TEST(!c.closed_by_server);
    spin(f.loop, 300);
    BOOST_TEST(answered_with(c.received(), "200", "{\"version\":5}"));
    BOOST_TEST(!c.closed_by_server);
}

BOOST_AUTO_TEST_CASE(at_the_connection_limit_new_connections_wait_until_one_closes)
{
    Fixture f(1024, limits(10000, 10000, 2));
    Client a(f.port()), b(f.port());
    spin(f.loop, 100);
    BOOST_TEST(f.server->connections() == 2u);
    Client c(f.port());  // completes in the kernel's queue, not accepted
    c.get("/v");
    spin(f.loop, 200);
    BOOST_TEST(c.received().empty());
    BOOST_TEST(f.server->connections() == 2u);
    BOOST_TEST(metric(f, "lbkit_api_connection_limit_reached_total") == 1);
    a.close();
    spin(f.loop, 200);
    BOOST_TEST(answered_with(c.received(), "200", "{\"version\":5}"));
    BOOST_TEST(f.server->connections() == 2u);
    BOOST_TEST(metric(f, "lbkit_api_connections") == 2);
}
