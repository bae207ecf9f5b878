// The relay's socket stream on real sockets: it reads what the socket holds
// up to its limit and pauses there until the input drains, reports an EOF
// or error only after the data before it, times out a silent side, reports
// a connect's outcome from the loop, writes at once when nothing waits and
// queues the rest, and survives a callback that destroys it.
#define BOOST_TEST_MODULE stream
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <string>
#include <vector>

#include "ev.hpp"
#include "http/stream.hpp"

using namespace lbkit::http;

namespace {

struct Base {
    lbkit::ev::BasePtr base{event_base_new()};
    event_base* get() const { return base.get(); }
    // Runs the loop until a callback breaks it, or 2 s pass (a failing test
    // must not hang).
    void run()
    {
        timeval limit{2, 0};
        event_base_loopexit(base.get(), &limit);
        event_base_dispatch(base.get());
    }
};

// A non-blocking socket pair: fd[0] goes to the stream, fd[1] is the peer.
struct Pair {
    int fd[2] = {-1, -1};
    Pair()
    {
        BOOST_REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fd) == 0);
    }
    ~Pair() { close_peer(); }
    void write_all(std::size_t n)
    {
        std::string data(n, 'b');
        for (std::size_t off = 0; off < n;) {
            ssize_t w = write(fd[1], data.data() + off, n - off);
            BOOST_REQUIRE(w > 0);
            off += std::size_t(w);
        }
    }
    std::size_t read_all()
    {
        char buf[65536];
        std::size_t total = 0;
        for (ssize_t r; (r = read(fd[1], buf, sizeof buf)) > 0;)
            total += std::size_t(r);
        return total;
    }
    void close_peer()
    {
        if (fd[1] >= 0)
            close(fd[1]);
        fd[1] = -1;
    }
};

// Records what the stream reports, in order, and stops the loop.
struct Recorder {
    event_base* base;
    std::vector<std::string> log;
    bool drain_on_read = false;
    bool destroy_on_read = false;
    std::unique_ptr<Stream>* owner = nullptr;

    static void on_read(Stream& s, void* arg)
    {
        auto* self = static_cast<Recorder*>(arg);
        self->log.push_back("read " + std::to_string(evbuffer_get_length(s.in())));
        if (self->drain_on_read)
            evbuffer_drain(s.in(), evbuffer_get_length(s.in()));
        event_base_loopbreak(self->base);
        if (self->destroy_on_read)
            self->owner->reset();
    }
    static void on_drained(Stream&, void* arg)
    {
        auto* self = static_cast<Recorder*>(arg);
        self->log.push_back("drained");
        event_base_loopbreak(self->base);
    }
    static void on_event(Stream& s, short what, void* arg)
    {
        auto* self = static_cast<Recorder*>(arg);
        std::string e;
        if (what & BEV_EVENT_READING) e += "reading ";
        if (what & BEV_EVENT_WRITING) e += "writing ";
        if (what & BEV_EVENT_EOF) e += "eof";
        if (what & BEV_EVENT_ERROR) e += "error " + std::to_string(s.error());
        if (what & BEV_EVENT_TIMEOUT) e += "timeout";
        if (what & BEV_EVENT_CONNECTED) e += "connected";
        self->log.push_back(e);
        event_base_loopbreak(self->base);
    }
    void attach(Stream& s) { s.set_callbacks(&on_read, &on_drained, &on_event, this); }
};

// A loopback listener on a free port; closed at once for a refused port.
struct Listener {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    Listener()
    {
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        BOOST_REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
        socklen_t len = sizeof addr;
        BOOST_REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
        BOOST_REQUIRE(listen(fd, 8) == 0);
    }
    ~Listener() { close_now(); }
    void close_now()
    {
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    const sockaddr* sa() const { return reinterpret_cast<const sockaddr*>(&addr); }
};

std::vector<std::string> L(std::initializer_list<const char*> items)
{
    return {items.begin(), items.end()};
}

// A stream on one end of a socket pair, its events recorded.
struct OnPair {
    Base base;
    Pair p;
    Recorder rec{base.get()};
    Stream s{base.get(), p.fd[0]};
    OnPair() { rec.attach(s); }
};

}  // namespace

BOOST_FIXTURE_TEST_CASE(reads_what_the_socket_holds_up_to_the_limit_then_pauses, OnPair)
{
    s.set_read_limit(64 * 1024);
    s.enable(EV_READ);
    p.write_all(100 * 1024);
    base.run();
    // One wakeup takes all it may (libevent's bufferevent took 4 KiB).
    BOOST_TEST(rec.log == L({"read 65536"}), boost::test_tools::per_element());
    // Paused at the limit: nothing more is read while the input stays full.
    base.run();
    BOOST_TEST(rec.log.size() == 1u);
    evbuffer_drain(s.in(), 65536);
    base.run();
    BOOST_TEST(rec.log == L({"read 65536", "read 36864"}), boost::test_tools::per_element());
}

BOOST_FIXTURE_TEST_CASE(eof_comes_after_the_data_before_it, OnPair)
{
    rec.drain_on_read = true;
    s.enable(EV_READ);
    p.write_all(20 * 1024);
    p.close_peer();
    base.run();
    base.run();
    BOOST_TEST(rec.log == L({"read 20480", "reading eof"}), boost::test_tools::per_element());
}

BOOST_FIXTURE_TEST_CASE(a_paused_stream_holds_the_eof_until_its_input_drains, OnPair)
{
    s.set_read_limit(8 * 1024);
    s.enable(EV_READ);
    p.write_all(12 * 1024);
    p.close_peer();
    base.run();
    base.run();
    BOOST_TEST(rec.log == L({"read 8192"}), boost::test_tools::per_element());
    evbuffer_drain(s.in(), 8192);
    base.run();
    evbuffer_drain(s.in(), 4096);
    base.run();
    BOOST_TEST(rec.log == L({"read 8192", "read 4096", "reading eof"}), boost::test_tools::per_element());
}

BOOST_FIXTURE_TEST_CASE(a_silent_peer_times_out_and_reading_stops, OnPair)
{
    timeval tv{0, 50 * 1000};
    s.set_timeouts(&tv, nullptr);
    s.enable(EV_READ);
    base.run();
    BOOST_TEST(rec.log == L({"reading timeout"}), boost::test_tools::per_element());
    // Reading was disabled, as with bufferevent: data now is not read.
    p.write_all(10);
    base.run();
    BOOST_TEST(rec.log.size() == 1u);
}

BOOST_FIXTURE_TEST_CASE(send_writes_at_once_and_queues_what_the_socket_refuses, OnPair)
{
    int small = 4096;
    setsockopt(p.fd[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    s.enable(EV_READ | EV_WRITE);

    lbkit::ev::BufferPtr stage{evbuffer_new()};
    evbuffer_add(stage.get(), "hello", 5);
    s.send(stage.get());
    BOOST_TEST(evbuffer_get_length(stage.get()) == 0u);
    BOOST_TEST(evbuffer_get_length(s.out()) == 0u);  // written, not queued
    BOOST_TEST(p.read_all() == 5u);

    std::string big(1024 * 1024, 'x');
    evbuffer_add(stage.get(), big.data(), big.size());
    s.send(stage.get());
    BOOST_TEST(evbuffer_get_length(stage.get()) == 0u);
    BOOST_TEST(evbuffer_get_length(s.out()) > 0u);  // the rest waits its turn
    std::size_t got = p.read_all();
    for (int i = 0; i < 1000 && rec.log.empty(); ++i) {
        event_base_loop(base.get(), EVLOOP_NONBLOCK);
        got += p.read_all();
    }
    BOOST_TEST(rec.log == L({"drained"}), boost::test_tools::per_element());
    BOOST_TEST(got == big.size());
}

BOOST_FIXTURE_TEST_CASE(a_peer_that_does_not_read_times_the_write_out, OnPair)
{
    timeval tv{0, 50 * 1000};
    s.set_timeouts(nullptr, &tv);
    s.enable(EV_WRITE);
    std::string big(4 * 1024 * 1024, 'x');
    evbuffer_add(s.out(), big.data(), big.size());
    base.run();
    BOOST_TEST(rec.log == L({"writing timeout"}), boost::test_tools::per_element());
}

namespace {

// Connects a new stream to the listener; what it reported, after checking
// that nothing was reported from inside connect().
std::vector<std::string> connect_outcome(const Listener& l)
{
    Base base;
    Recorder rec{base.get()};
    Stream s(base.get());
    rec.attach(s);
    BOOST_REQUIRE(s.connect(l.sa(), sizeof l.addr) == 0);
    s.enable(EV_READ | EV_WRITE);
    BOOST_TEST(rec.log.empty());
    base.run();
    return rec.log;
}

}  // namespace

BOOST_AUTO_TEST_CASE(connect_reports_success_from_the_loop)
{
    Listener l;
    BOOST_TEST(connect_outcome(l) == L({"connected"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(connect_reports_a_refusal_from_the_loop)
{
    Listener l;
    l.close_now();  // nobody listens on that port any more
    std::vector<std::string> refused{"error " + std::to_string(ECONNREFUSED)};
    BOOST_TEST(connect_outcome(l) == refused, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_callback_may_destroy_the_stream)
{
    Base base;
    Pair p;
    Recorder rec{base.get()};
    auto s = std::make_unique<Stream>(base.get(), p.fd[0]);
    rec.destroy_on_read = true;
    rec.owner = &s;
    rec.attach(*s);
    s->enable(EV_READ);
    p.write_all(100);
    p.close_peer();  // an EOF waits behind the data: never reported to a dead stream
    base.run();
    base.run();
    BOOST_TEST(!s);
    BOOST_TEST(rec.log == L({"read 100"}), boost::test_tools::per_element());
}
