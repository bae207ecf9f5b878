// lib/httpd's deferred answers (long polling) on a real loopback socket:
// answered on notify, on the wait's end, refused beyond the cap, forgotten
// when the client leaves, and a server destroyed with requests waiting
// (the sanitizer build checks that nothing leaks or is used after free).
#define BOOST_TEST_MODULE httpd
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "error.hpp"
#include "httpd.hpp"

using namespace lbkit;

namespace {

// Runs the loop for about `ms` milliseconds.
void spin(Loop& loop, int ms)
{
    timeval tv{ms / 1000, (ms % 1000) * 1000};
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
    // What has arrived so far, without waiting.
    std::string received()
    {
        std::string out;
        char buf[4096];
        ssize_t n;
        while ((n = recv(fd, buf, sizeof buf, MSG_DONTWAIT)) > 0)
            out.append(buf, static_cast<std::size_t>(n));
        return out;
    }
};

struct Fixture {
    Loop loop;
    Metrics metrics;
    uint64_t version = 5;
    std::unique_ptr<httpd::Server> server;

    explicit Fixture(std::size_t max_waiting = 1024)
    {
        httpd::Options o;
        o.max_waiting = max_waiting;
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
