// The relay's body mover and its socket reads: framing is respected to the
// byte, the destination never holds more than relay_buffer_limit, and
// read_ahead takes what the socket holds without swallowing an EOF that
// libevent must still report.
#define BOOST_TEST_MODULE lbproxy_body_pump
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "body_pump.hpp"
#include "http_parse.hpp"

using namespace lbproxy;

namespace {

struct Buf {
    std::unique_ptr<evbuffer, void (*)(evbuffer*)> b{evbuffer_new(), evbuffer_free};
    evbuffer* get() const { return b.get(); }
    std::size_t size() const { return evbuffer_get_length(b.get()); }
    void add(const std::string& s) { evbuffer_add(b.get(), s.data(), s.size()); }
    std::string str() const
    {
        std::string s(size(), '\0');
        evbuffer_copyout(b.get(), s.data(), s.size());
        return s;
    }
};

// A response parser positioned after a head with the given framing headers.
void start_response(http::Parser& p, const std::string& headers)
{
    std::string head = "HTTP/1.1 200 OK\r\n" + headers + "\r\n";
    http::Head h;
    BOOST_REQUIRE(p.parse_head(head.data(), head.size(), h) == nullptr);
}

}  // namespace

BOOST_AUTO_TEST_CASE(length_stops_at_the_end_of_the_body)
{
    http::Parser p(HTTP_RESPONSE);
    uint64_t remaining = 5;
    BodyPump pump{http::Framing::length, remaining, p};
    Buf from, to;
    from.add("hellonext request");
    auto r = pump.move(from.get(), to.get(), false);
    BOOST_TEST(r.done);
    BOOST_TEST(r.moved == 5u);
    BOOST_TEST(to.str() == "hello");
    BOOST_TEST(from.str() == "next request");
    BOOST_TEST(remaining == 0u);
}

BOOST_AUTO_TEST_CASE(destination_is_never_filled_beyond_the_limit)
{
    http::Parser p(HTTP_RESPONSE);
    uint64_t remaining = 3 * relay_buffer_limit;
    BodyPump pump{http::Framing::length, remaining, p};
    Buf from, to;
    from.add(std::string(2 * relay_buffer_limit, 'x'));
    auto r = pump.move(from.get(), to.get(), false);
    BOOST_TEST(!r.done);
    BOOST_TEST(to.size() == relay_buffer_limit);
    BOOST_TEST(from.size() == relay_buffer_limit);
    // Nothing moves while the destination is full; all of it once drained.
    BOOST_TEST(pump.move(from.get(), to.get(), false).moved == 0u);
    evbuffer_drain(to.get(), to.size());
    BOOST_TEST(pump.move(from.get(), to.get(), false).moved == relay_buffer_limit);
    BOOST_TEST(remaining == relay_buffer_limit);
}

BOOST_AUTO_TEST_CASE(chunked_is_forwarded_as_is_or_decoded)
{
    const std::string body = "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
    for (bool decode : {false, true}) {
        http::Parser p(HTTP_RESPONSE);
        start_response(p, "Transfer-Encoding: chunked\r\n");
        uint64_t remaining = 0;
        BodyPump pump{http::Framing::chunked, remaining, p};
        Buf from, to;
        from.add(body + "GET /next");
        auto r = pump.move(from.get(), to.get(), decode);
        BOOST_TEST(r.done);
        BOOST_TEST(r.error == nullptr);
        BOOST_TEST(r.moved == body.size());
        BOOST_TEST(to.str() == (decode ? "hello world" : body));
        BOOST_TEST(from.str() == "GET /next");
    }
}

BOOST_AUTO_TEST_CASE(bad_chunk_size_is_an_error)
{
    http::Parser p(HTTP_RESPONSE);
    start_response(p, "Transfer-Encoding: chunked\r\n");
    uint64_t remaining = 0;
    BodyPump pump{http::Framing::chunked, remaining, p};
    Buf from, to;
    from.add("zz\r\nhello\r\n");
    auto r = pump.move(from.get(), to.get(), false);
    BOOST_TEST(r.error != nullptr);
    BOOST_TEST(!r.done);
}

BOOST_AUTO_TEST_CASE(until_close_never_ends_by_itself)
{
    http::Parser p(HTTP_RESPONSE);
    uint64_t remaining = 0;
    BodyPump pump{http::Framing::until_close, remaining, p};
    Buf from, to;
    from.add("all of it");
    auto r = pump.move(from.get(), to.get(), false);
    BOOST_TEST(!r.done);
    BOOST_TEST(to.str() == "all of it");
}

// --- read_ahead on a real socket pair under a bufferevent -------------------

namespace {

struct SocketPair {
    int fd[2];
    SocketPair() { BOOST_REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, fd) == 0); }
    ~SocketPair()
    {
        if (fd[1] >= 0)
            close(fd[1]);
    }
    void write_all(std::size_t n)
    {
        std::string data(n, 'b');
        for (std::size_t off = 0; off < n;) {
            ssize_t w = write(fd[1], data.data() + off, n - off);
            BOOST_REQUIRE(w > 0);
            off += std::size_t(w);
        }
    }
    void close_writer()
    {
        close(fd[1]);
        fd[1] = -1;
    }
};

struct Reader {
    std::size_t limit;
    std::size_t after_libevent = 0, after_ahead = 0;
    bool eof = false;
    int calls = 0;
    event_base* base;

    static void read_cb(bufferevent* bev, void* arg)
    {
        auto* self = static_cast<Reader*>(arg);
        evbuffer* in = bufferevent_get_input(bev);
        self->after_libevent = evbuffer_get_length(in);
        read_ahead(bev, self->limit);
        self->after_ahead = evbuffer_get_length(in);
        ++self->calls;
        evbuffer_drain(in, evbuffer_get_length(in));
        event_base_loopbreak(self->base);
    }
    static void event_cb(bufferevent*, short what, void* arg)
    {
        auto* self = static_cast<Reader*>(arg);
        self->eof = what & BEV_EVENT_EOF;
        event_base_loopbreak(self->base);
    }
};

struct Loop {
    std::unique_ptr<event_base, void (*)(event_base*)> base{event_base_new(), event_base_free};
    std::unique_ptr<bufferevent, void (*)(bufferevent*)> bev;
    Reader reader;

    Loop(int fd, std::size_t limit)
        : bev(bufferevent_socket_new(base.get(), fd, BEV_OPT_CLOSE_ON_FREE), bufferevent_free),
          reader{limit, 0, 0, false, 0, base.get()}
    {
        widen_io(bev.get());
        bufferevent_setcb(bev.get(), &Reader::read_cb, nullptr, &Reader::event_cb, &reader);
        bufferevent_enable(bev.get(), EV_READ);
    }
    void run_once() { event_base_dispatch(base.get()); }
};

}  // namespace

BOOST_AUTO_TEST_CASE(read_ahead_takes_what_the_socket_holds_up_to_the_limit)
{
    SocketPair sp;
    sp.write_all(100 * 1024);
    Loop loop(sp.fd[0], 64 * 1024);
    loop.run_once();
    BOOST_REQUIRE(loop.reader.calls == 1);
    // libevent 2.1 alone would stop at 4 KiB per wakeup.
    BOOST_TEST(loop.reader.after_libevent <= 64 * 1024u);
    BOOST_TEST(loop.reader.after_ahead == 64 * 1024u);
    loop.run_once();
    BOOST_TEST(loop.reader.calls == 2);
    BOOST_TEST(loop.reader.after_ahead == 36 * 1024u);
}

BOOST_AUTO_TEST_CASE(read_ahead_leaves_the_eof_to_libevent)
{
    SocketPair sp;
    sp.write_all(20 * 1024);
    sp.close_writer();
    Loop loop(sp.fd[0], 256 * 1024);
    loop.run_once();
    BOOST_TEST(loop.reader.after_ahead == 20 * 1024u);
    BOOST_TEST(!loop.reader.eof);
    loop.run_once();
    BOOST_TEST(loop.reader.eof);
}

BOOST_AUTO_TEST_CASE(read_ahead_does_nothing_after_a_short_read)
{
    SocketPair sp;
    sp.write_all(100);
    Loop loop(sp.fd[0], 256 * 1024);
    loop.run_once();
    BOOST_TEST(loop.reader.after_ahead == 100u);
}
