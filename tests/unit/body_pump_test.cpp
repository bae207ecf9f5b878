// The relay's body mover: framing is respected to the byte, the destination
// never holds more than relay_buffer_limit, a small body joins its head in
// one piece and a large one changes hands without a copy.
#define BOOST_TEST_MODULE body_pump
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <string>

#include "ev.hpp"
#include "http/body_pump.hpp"
#include "http/http_parse.hpp"

using namespace lbkit::http;
namespace http = lbkit::http;

namespace {

struct Buf {
    lbkit::ev::BufferPtr b{evbuffer_new()};
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

namespace {

int chains(const Buf& b)
{
    return evbuffer_peek(b.get(), -1, nullptr, nullptr, 0);
}

const void* first_byte(const Buf& b)
{
    evbuffer_iovec v;
    BOOST_REQUIRE(evbuffer_peek(b.get(), -1, nullptr, &v, 1) >= 1);
    return v.iov_base;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_small_body_joins_its_head_in_one_piece)
{
    http::Parser p(HTTP_RESPONSE);
    uint64_t remaining = 100;
    Buf from, to;
    from.add(std::string(100, 'x'));
    std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n";
    to.add(head);
    auto r = BodyPump{http::Framing::length, remaining, p}.move(from.get(), to.get(), false);
    BOOST_TEST(r.done);
    BOOST_TEST(chains(to) == 1);  // one send() for the whole message
    BOOST_TEST(to.str() == head + std::string(100, 'x'));
}

BOOST_AUTO_TEST_CASE(a_large_body_changes_hands_without_a_copy)
{
    http::Parser p(HTTP_RESPONSE);
    uint64_t remaining = 64 * 1024;
    Buf from, to;
    from.add(std::string(64 * 1024, 'x'));
    const void* data = first_byte(from);
    auto r = BodyPump{http::Framing::length, remaining, p}.move(from.get(), to.get(), false);
    BOOST_TEST(r.done);
    BOOST_TEST(first_byte(to) == data);
}

namespace {

// A chunked body of chunks of these sizes, spelled as given by line(size).
template <class Line>
std::string chunked_body(std::initializer_list<std::size_t> sizes, Line line)
{
    std::string body;
    for (std::size_t n : sizes)
        body += line(n) + "\r\n" + std::string(n, char('a' + n % 26)) + "\r\n";
    return body + "0\r\n\r\n";
}

std::string hex(std::size_t n, const char* format = "%zx")
{
    char buf[32];
    std::snprintf(buf, sizeof buf, format, n);
    return buf;
}

// The body as it arrives in reads of step bytes (each a chain of its own),
// moved by a pump until done; what the pump wrote.
std::string pumped(const std::string& body, std::size_t step)
{
    http::Parser p(HTTP_RESPONSE);
    start_response(p, "Transfer-Encoding: chunked\r\n");
    uint64_t remaining = 0;
    BodyPump pump{http::Framing::chunked, remaining, p};
    Buf from, to;
    bool done = false;
    for (std::size_t at = 0; at < body.size() && !done; at += step) {
        from.add(body.substr(at, step));
        while (from.size() && !done) {
            auto r = pump.move(from.get(), to.get(), false);
            BOOST_REQUIRE(r.error == nullptr);
            done = r.done;
            if (!r.moved)
                break;
        }
    }
    BOOST_TEST(done);
    return to.str();
}

}  // namespace

// An input already framed canonically leaves as it came (the pump may then
// move it without a copy); any other spelling leaves canonical. The same
// bytes either way, whatever the reads.
BOOST_AUTO_TEST_CASE(chunked_output_is_canonical_whether_moved_or_rewritten)
{
    std::initializer_list<std::size_t> sizes = {1, 3000, 70000, 16, 5};
    std::string canonical = chunked_body(sizes, [](std::size_t n) { return hex(n); });
    std::string upper = chunked_body(sizes, [](std::size_t n) { return hex(n, "%04zX"); });
    std::string ext = chunked_body(sizes, [](std::size_t n) { return hex(n) + ";x=1"; });
    std::string trailer = canonical.substr(0, canonical.size() - 2) + "T: 1\r\n\r\n";
    for (std::size_t step : {canonical.size(), std::size_t(1), std::size_t(7), std::size_t(4096), std::size_t(65536)}) {
        BOOST_TEST(pumped(canonical, step) == canonical, "canonical, step " << step);
        BOOST_TEST(pumped(upper, step) == canonical, "upper case, step " << step);
        BOOST_TEST(pumped(ext, step) == canonical, "extensions, step " << step);
        BOOST_TEST(pumped(trailer, step) == canonical, "trailer, step " << step);
    }
}
