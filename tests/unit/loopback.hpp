// Loopback sockets for the unit tests that run exchanges on real
// connections (lbproxy_exchange_test, relay_test): a listening port, a
// server the test drives by hand, a port that refuses, a connected
// client/accepted pair, and the loop run in bounded steps. Include after
// <boost/test/unit_test.hpp>.
#pragma once
#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <string>

inline int listen_loopback(uint16_t& port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    BOOST_REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), len) == 0);
    BOOST_REQUIRE(listen(fd, 16) == 0);
    BOOST_REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    port = ntohs(a.sin_port);
    return fd;
}

// A server the test drives by hand.
struct Server {
    uint16_t port = 0;
    int lfd = listen_loopback(port);
    int conn = -1;
    std::string got;
    ~Server()
    {
        if (conn >= 0) close(conn);
        if (lfd >= 0) close(lfd);
    }
    std::string name() const { return "127.0.0.1:" + std::to_string(port); }
    bool eof = false;  // the proxy closed its side
    // Accepts the proxy's connection and reads what came.
    void read_some()
    {
        if (conn < 0)
            conn = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK);
        if (conn < 0)
            return;
        char buf[4096];
        ssize_t r;
        while ((r = read(conn, buf, sizeof buf)) > 0)
            got.append(buf, std::size_t(r));
        eof = eof || r == 0;
    }
    // A whole request head came.
    bool has_request()
    {
        read_some();
        return got.find("\r\n\r\n") != std::string::npos;
    }
    void send(const std::string& s) { BOOST_REQUIRE(write(conn, s.data(), s.size()) == ssize_t(s.size())); }
    void hang_up()
    {
        close(conn);
        conn = -1;
    }
};

// A port nothing listens on: connecting is refused.
inline std::string dead_server()
{
    uint16_t port = 0;
    close(listen_loopback(port));
    return "127.0.0.1:" + std::to_string(port);
}

// The test's end of a client connection (blocking) and the proxy's end
// (non-blocking, as a listener would accept it), with the client's address.
struct LoopbackPair {
    int client = -1;
    int accepted = -1;
    sockaddr_in peer{};
};

inline LoopbackPair loopback_pair()
{
    LoopbackPair p;
    uint16_t port = 0;
    int lfd = listen_loopback(port);
    p.client = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    BOOST_REQUIRE(connect(p.client, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    socklen_t len = sizeof p.peer;
    for (int i = 0; i < 200 && p.accepted < 0; ++i) {
        p.accepted = accept4(lfd, reinterpret_cast<sockaddr*>(&p.peer), &len, SOCK_NONBLOCK);
        if (p.accepted < 0) usleep(5000);
    }
    close(lfd);
    BOOST_REQUIRE(p.accepted >= 0);
    return p;
}

// What waits on fd, appended to out (without blocking).
inline void read_waiting(int fd, std::string& out)
{
    char buf[4096];
    for (ssize_t r; (r = recv(fd, buf, sizeof buf, MSG_DONTWAIT)) > 0;)
        out.append(buf, std::size_t(r));
}

// Runs base in 5 ms steps, each followed by after_step(), until done()
// holds; steps bounds it (5 s by default: a failing test must not hang).
template <class Done, class Step>
bool run_until(event_base* base, Done done, Step after_step, int steps = 1000)
{
    for (int i = 0; i < steps && !done(); ++i) {
        timeval step{0, 5000};
        event_base_loopexit(base, &step);
        event_base_dispatch(base);
        after_step();
    }
    return done();
}
