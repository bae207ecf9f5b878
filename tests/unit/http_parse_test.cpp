// The relay engine's HTTP parsing wrapper: heads parsed in one piece, framing
// decided, and every ambiguous or malformed case refused.
#define BOOST_TEST_MODULE http_parse
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <event2/buffer.h>

#include <cstdio>
#include <string>

#include "http/http_parse.hpp"
#include "http/request_target.hpp"

using namespace lbkit::http;
namespace http = lbkit::http;
using namespace std::string_literals;

namespace {

// Parses a whole request head; returns the refusal or "".
std::string parse_request(const std::string& text, http::Head& h, http::Parser& p)
{
    std::size_t scanned = 0;
    std::size_t end = http::find_head_end(text.data(), text.size(), scanned);
    BOOST_REQUIRE_MESSAGE(end != 0, "no end of head in: " << text);
    const char* err = p.parse_head(text.data(), end, h);
    return err ? err : "";
}

std::string refusal(const std::string& text)
{
    http::Parser p(HTTP_REQUEST);
    http::Head h;
    return parse_request(text, h, p);
}

}  // namespace

BOOST_AUTO_TEST_CASE(find_head_end_crlf_lf_and_split_reads)
{
    std::size_t scanned = 0;
    std::string a = "GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\nBODY";
    BOOST_TEST(http::find_head_end(a.data(), a.size(), scanned) == a.size() - 4);
    scanned = 0;
    std::string b = "GET http://a/ HTTP/1.1\nHost: a\n\nBODY";
    BOOST_TEST(http::find_head_end(b.data(), b.size(), scanned) == b.size() - 4);
    // Byte by byte: found exactly when the last byte of the blank line arrives.
    scanned = 0;
    for (std::size_t n = 1; n <= a.size() - 4; ++n) {
        std::size_t got = http::find_head_end(a.data(), n, scanned);
        BOOST_TEST(got == (n == a.size() - 4 ? n : 0));
    }
}

BOOST_AUTO_TEST_CASE(simple_get)
{
    http::Parser p(HTTP_REQUEST);
    http::Head h;
    // The head's views point into the text: it must outlive them.
    const std::string text = "GET http://web/x?y=1 HTTP/1.1\r\nHost: web\r\nX-A:  b \r\n\r\n";
    BOOST_TEST(parse_request(text, h, p) == "");
    BOOST_TEST(h.method == HTTP_GET);
    BOOST_TEST(h.method_name == "GET");
    BOOST_TEST(h.target == "http://web/x?y=1");
    BOOST_TEST(h.headers.size() == 2u);
    BOOST_TEST(h.find("x-a") == "b");
    BOOST_TEST(h.complete);
    BOOST_TEST(h.keep_alive);
    BOOST_TEST((h.framing == http::Framing::none));
}

BOOST_AUTO_TEST_CASE(keep_alive_rules)
{
    http::Parser p(HTTP_REQUEST);
    http::Head h;
    parse_request("GET http://a/ HTTP/1.0\r\n\r\n", h, p);
    BOOST_TEST(!h.keep_alive);
    BOOST_TEST(h.is_10());
    parse_request("GET http://a/ HTTP/1.0\r\nProxy-Connection: Keep-Alive\r\n\r\n", h, p);
    BOOST_TEST(h.keep_alive);
    // h.connection points into the text: keep the text alive.
    const std::string foo_close = "GET http://a/ HTTP/1.1\r\nConnection: foo, close\r\n\r\n";
    parse_request(foo_close, h, p);
    BOOST_TEST(!h.keep_alive);
    BOOST_TEST(h.connection == "foo, close");
    // A close in any of several Connection headers counts; the first one
    // is what names the headers to drop.
    const std::string two = "GET http://a/ HTTP/1.1\r\nConnection: x-a\r\nConnection: close\r\n\r\n";
    parse_request(two, h, p);
    BOOST_TEST(!h.keep_alive);
    BOOST_TEST(h.connection == "x-a");
    parse_request("GET http://a/ HTTP/1.0\r\nConnection: keep-alive\r\nProxy-Connection: close\r\n\r\n", h, p);
    BOOST_TEST(!h.keep_alive);
    parse_request("GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n", h, p);
    BOOST_TEST(h.keep_alive);
    BOOST_TEST(h.connection.empty());
    // Transfer-Encoding in HTTP/1.0 is faulty framing: the connection ends.
    parse_request("POST http://a/ HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n", h, p);
    BOOST_TEST(!h.keep_alive);
}

BOOST_AUTO_TEST_CASE(header_fields_are_classified)
{
    using http::Field;
    struct { const char* name; Field field; } cases[] = {
        {"Host", Field::host}, {"HOST", Field::host}, {"content-length", Field::content_length},
        {"Transfer-Encoding", Field::transfer_encoding}, {"Expect", Field::expect},
        {"Connection", Field::connection}, {"Proxy-Connection", Field::proxy_connection},
        {"Keep-Alive", Field::keep_alive}, {"TE", Field::te}, {"Trailer", Field::trailer},
        {"Upgrade", Field::upgrade}, {"Proxy-Authorization", Field::proxy_authorization},
        {"Proxy-Authenticate", Field::proxy_authenticate},
        // Same length as a known name, or one letter off: not it.
        {"Hosts", Field::other}, {"Hust", Field::other}, {"Trailed", Field::other}, {"Upgrades", Field::other},
        {"keep_alive", Field::other}, {"Connectiom", Field::other}, {"tf", Field::other}, {"", Field::other},
        {"Content-Type", Field::other}, {"X-Forwarded-For", Field::other},
    };
    for (auto& c : cases)
        BOOST_TEST((http::classify(c.name) == c.field), c.name);
    BOOST_TEST(!http::is_hop_by_hop(Field::host));
    BOOST_TEST(http::is_hop_by_hop(Field::te));

    http::Parser p(HTTP_REQUEST);
    http::Head h;
    BOOST_TEST(parse_request("GET http://a/ HTTP/1.1\r\nhOsT: a\r\nX-Y: z\r\nte: trailers\r\n\r\n", h, p) == "");
    BOOST_REQUIRE(h.headers.size() == 3u);
    BOOST_TEST((h.headers[0].field == Field::host));
    BOOST_TEST((h.headers[1].field == Field::other));
    BOOST_TEST((h.headers[2].field == Field::te));
}

BOOST_AUTO_TEST_CASE(iequals_folds_letters_only)
{
    BOOST_TEST(http::iequals("Content-Length", "content-length"));
    BOOST_TEST(http::iequals("X-1_~", "x-1_~"));
    BOOST_TEST(!http::iequals("@", "`"));     // 0x40 and 0x60 differ only by the case bit
    BOOST_TEST(!http::iequals("[", "{"));
    BOOST_TEST(!http::iequals("a", "ab"));
    BOOST_TEST(!http::iequals("\xc1", "\xe1"));
}

BOOST_AUTO_TEST_CASE(request_framing)
{
    http::Parser p(HTTP_REQUEST);
    http::Head h;
    BOOST_TEST(parse_request("POST http://a/ HTTP/1.1\r\nContent-Length: 5\r\n\r\n", h, p) == "");
    BOOST_TEST((h.framing == http::Framing::length));
    BOOST_TEST(h.content_length == 5u);
    BOOST_TEST(!h.complete);
    BOOST_TEST(parse_request("POST http://a/ HTTP/1.1\r\nContent-Length: 0\r\n\r\n", h, p) == "");
    BOOST_TEST((h.framing == http::Framing::none));
    BOOST_TEST(h.complete);
    BOOST_TEST(parse_request("POST http://a/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n", h, p) == "");
    BOOST_TEST((h.framing == http::Framing::chunked));
    BOOST_TEST(h.expect_continue);
}

BOOST_AUTO_TEST_CASE(chunked_body_validated_and_decoded)
{
    http::Parser p(HTTP_REQUEST);
    http::Head h;
    parse_request("POST http://a/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", h, p);
    std::string body = "3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nTrailer-X: 1\r\n\r\nGET http://next/";
    evbuffer* decoded = evbuffer_new();
    // Fed in two pieces, as reads would deliver it.
    std::size_t n1 = p.feed_body(body.data(), 7, decoded, http::ChunkOutput::payload);
    BOOST_TEST(n1 == 7u);
    BOOST_TEST(!p.done());
    std::size_t n2 = p.feed_body(body.data() + 7, body.size() - 7, decoded, http::ChunkOutput::payload);
    BOOST_TEST(p.done());
    BOOST_TEST(!p.error());
    // It stops at the end of the message: the pipelined request stays.
    BOOST_TEST(std::string(body.data() + n1 + n2) == "GET http://next/");
    std::string out(evbuffer_get_length(decoded), '\0');
    evbuffer_remove(decoded, out.data(), out.size());
    BOOST_TEST(out == "abcde");
    // Trailers are not taken for headers of the request.
    BOOST_TEST(h.find("trailer-x").empty());
    evbuffer_free(decoded);
}

BOOST_AUTO_TEST_CASE(bad_chunk_sizes_refused)
{
    for (std::string bad : {"zz\r\nabc\r\n0\r\n\r\n"s, "ffffffffffffffffff\r\nabc\r\n"s, "-1\r\nabc\r\n"s}) {
        http::Parser p(HTTP_REQUEST);
        http::Head h;
        parse_request("POST http://a/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", h, p);
        evbuffer* out = evbuffer_new();
        p.feed_body(bad.data(), bad.size(), out, http::ChunkOutput::canonical);
        evbuffer_free(out);
        BOOST_TEST(p.error() != nullptr, "accepted chunk: " << bad);
        BOOST_TEST(!p.done());
    }
}

BOOST_AUTO_TEST_CASE(smuggling_cases_refused)
{
    const char* cases[] = {
        "POST http://a/ HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST http://a/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
        "POST http://a/ HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
        "POST http://a/ HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n",
        "POST http://a/ HTTP/1.1\r\nContent-Length: 3, 4\r\n\r\n",
        "POST http://a/ HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
        "POST http://a/ HTTP/1.1\r\nContent-Length: 1e3\r\n\r\n",
        "POST http://a/ HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
        "POST http://a/ HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
        "GET http://a/ HTTP/1.1\r\nX-Folded: a\r\n  b\r\n\r\n",
        "GET http://a/ HTTP/1.1\r\nX-Folded: a\r\n\tb\r\n\r\n",
        "GET http://a/ HTTP/1.1\r\nHost : a\r\n\r\n",
        "GET http://a/ HTTP/1.1\r\nHo st: a\r\n\r\n",
        "GET http://a/ HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        "GET http://a/ HTTP/1.1\r\nX: a\rb\r\n\r\n",
        "GET http://a/ HTTP/2.0\r\n\r\n",
        "GET http://a/ HTTP/1.1\r\n: empty\r\n\r\n",
        "G@T http://a/ HTTP/1.1\r\n\r\n",
    };
    for (const char* c : cases)
        BOOST_TEST(refusal(c) != "", "accepted: " << c);
}

BOOST_AUTO_TEST_CASE(version_refusal_is_505)
{
    http::Parser p(HTTP_REQUEST);
    http::Head h;
    BOOST_TEST(parse_request("GET http://a/ HTTP/2.0\r\n\r\n", h, p) != "");
    BOOST_TEST(p.refusal_status() == 505);
    BOOST_TEST(parse_request("GET http://a/ HTTP/3.0\r\n\r\n", h, p) != "");
    BOOST_TEST(p.refusal_status() == 505);
    BOOST_TEST(parse_request("GET http://a/ HTTP/1.1\r\n\r\n", h, p) == "");
    BOOST_TEST(parse_request("GET http://a/ HTTP/1.1\r\nX: \x01\r\n\r\n", h, p) != "");
    BOOST_TEST(p.refusal_status() == 400);
}

BOOST_AUTO_TEST_CASE(response_framing)
{
    auto framing = [](const std::string& text, bool head_request = false) {
        http::Parser p(HTTP_RESPONSE);
        http::Head h;
        std::size_t scanned = 0;
        std::size_t end = http::find_head_end(text.data(), text.size(), scanned);
        BOOST_REQUIRE(end != 0);
        BOOST_REQUIRE(p.parse_head(text.data(), end, h, head_request) == nullptr);
        return std::pair{h.framing, h.complete};
    };
    BOOST_TEST((framing("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n").first == http::Framing::length));
    BOOST_TEST((framing("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n").first == http::Framing::chunked));
    BOOST_TEST((framing("HTTP/1.1 200 OK\r\nX: y\r\n\r\n").first == http::Framing::until_close));
    BOOST_TEST((framing("HTTP/1.1 204 No Content\r\n\r\n") == std::pair{http::Framing::none, true}));
    BOOST_TEST((framing("HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n") == std::pair{http::Framing::none, true}));
    BOOST_TEST((framing("HTTP/1.1 100 Continue\r\n\r\n") == std::pair{http::Framing::none, true}));
    // The answer to HEAD announces a body it does not carry.
    BOOST_TEST((framing("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", true) == std::pair{http::Framing::none, true}));
}

BOOST_AUTO_TEST_CASE(response_status_line_checked)
{
    for (std::string r : {"HTTP/1.1 10 Continue\r\n\r\n", "HTTP/1.1 1 x\r\n\r\n", "HTTP/1.1 099 x\r\n\r\n",
                          "HTTP/1.1 600 x\r\nContent-Length: 0\r\n\r\n", "HTTP/1.1 999 x\r\n\r\n"}) {
        http::Parser p(HTTP_RESPONSE);
        http::Head h;
        const char* err = p.parse_head(r.data(), r.size(), h);
        BOOST_TEST((err && std::string(err) == "status code outside 100-599"), r);
    }
    for (std::string r : {std::string("HTTP/1.1 200 O\0K\r\n\r\n", 20), std::string("HTTP/1.1 200 O\x7fK\r\n\r\n")}) {
        http::Parser p(HTTP_RESPONSE);
        http::Head h;
        const char* err = p.parse_head(r.data(), r.size(), h);
        BOOST_TEST((err && std::string(err) == "a control character in the head"));
    }
    http::Parser p(HTTP_RESPONSE);
    http::Head h;
    std::string ok = "HTTP/1.1 599 x\tmore \xe9\r\nContent-Length: 0\r\n\r\n";
    BOOST_TEST(p.parse_head(ok.data(), ok.size(), h) == nullptr);
}

BOOST_AUTO_TEST_CASE(response_with_ambiguous_framing_refused)
{
    http::Parser p(HTTP_RESPONSE);
    http::Head h;
    std::string r = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n";
    BOOST_TEST(p.parse_head(r.data(), r.size(), h) != nullptr);
}

BOOST_AUTO_TEST_CASE(absolute_targets)
{
    Target t;
    BOOST_TEST(parse_absolute("http://Host1.a.co.jp/a/b?c=d#frag", t) == nullptr);
    BOOST_TEST(t.host == "Host1.a.co.jp");
    BOOST_TEST(t.port == 80);
    BOOST_TEST(t.authority == "Host1.a.co.jp");
    BOOST_TEST(t.path_query == "/a/b?c=d");
    BOOST_TEST(parse_absolute("http://user:pw@web1:8080", t) == nullptr);
    BOOST_TEST(t.host == "web1");
    BOOST_TEST(t.port == 8080);
    BOOST_TEST(t.authority == "web1:8080");
    BOOST_TEST(t.path_query.empty());
    BOOST_TEST(parse_absolute("http://[::1]:81/x", t) == nullptr);
    BOOST_TEST(t.host == "::1");
    BOOST_TEST(t.authority == "[::1]:81");
    BOOST_TEST(parse_absolute("/origin/form", t) != nullptr);
    BOOST_TEST(parse_absolute("https://a/", t) != nullptr);
    BOOST_TEST(parse_absolute("ftp://a/", t) != nullptr);
    BOOST_TEST(parse_absolute("http://a:0/", t) != nullptr);
}

BOOST_AUTO_TEST_CASE(connect_targets)
{
    Target t;
    BOOST_TEST(parse_authority("example.org:443", t) == nullptr);
    BOOST_TEST(t.host == "example.org");
    BOOST_TEST(t.port == 443);
    BOOST_TEST(parse_authority("example.org", t) != nullptr);
    BOOST_TEST(parse_authority("http://example.org/", t) != nullptr);
}

namespace {

// A chunked request body run through a parser that read its head; returns
// what the parser wrote (canonical framing) and its error, if any. step
// feeds that many bytes at a time, as reads would deliver them.
std::pair<std::string, std::string> rechunk(const std::string& body, std::size_t step = 0)
{
    http::Parser p(HTTP_REQUEST);
    http::Head h;
    BOOST_REQUIRE(parse_request("POST http://a/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", h, p) == "");
    evbuffer* out = evbuffer_new();
    std::size_t at = 0;
    while (at < body.size() && !p.done() && !p.error()) {
        std::size_t n = step ? std::min(step, body.size() - at) : body.size() - at;
        std::size_t used = p.feed_body(body.data() + at, n, out, http::ChunkOutput::canonical);
        at += used;
        if (used < n)
            break;
    }
    std::string text(evbuffer_get_length(out), '\0');
    evbuffer_remove(out, text.data(), text.size());
    evbuffer_free(out);
    return {text, p.error() ? p.error() : (p.done() ? "" : "not done")};
}

}  // namespace

// What the next hop receives is the chunks the parser read, in one spelling:
// lowercase hex without leading zeros, no extensions, no trailers; the same
// whatever the reads were.
BOOST_AUTO_TEST_CASE(chunked_body_reframed_canonically)
{
    std::string body = "3;a=\"d e\"\r\nabc\r\n00A;x\r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\n";
    std::string canonical = "3\r\nabc\r\na\r\n0123456789\r\n0\r\n\r\n";
    for (std::size_t step : {0, 1, 2, 5, 7}) {
        auto [text, error] = rechunk(body, step);
        BOOST_TEST(text == canonical, "step " << step);
        BOOST_TEST(error == "", "step " << step);
    }
    BOOST_TEST(rechunk("0\r\n\r\n").first == "0\r\n\r\n");
    // Chunks small and large, around the sizes at which output is gathered
    // or added at once: in order, whatever the reads.
    std::string big, want;
    for (std::size_t n : {5u, 5000u, 20000u, 3u, 16384u, 4096u, 1u}) {
        std::string data(n, char('a' + n % 26));
        char hex[32];
        std::snprintf(hex, sizeof hex, "%zx", n);
        big += std::string(hex) + "\r\n" + data + "\r\n";
        want += std::string(hex) + "\r\n" + data + "\r\n";
    }
    big += "0\r\n\r\n";
    want += "0\r\n\r\n";
    for (std::size_t step : {0, 1000, 4097, 7}) {
        auto [text, error] = rechunk(big, step);
        BOOST_TEST((text == want), "step " << step);
        BOOST_TEST(error == "", "step " << step);
    }
}

// Chunk lines a next hop may read otherwise (CVE-2025-22871, CVE-2025-58056
// are origins that end a chunk line at a bare LF): refused, not passed on.
BOOST_AUTO_TEST_CASE(non_canonical_chunk_lines_refused)
{
    for (std::string bad : {
             "3;\nX\r\nabc\r\n0\r\n\r\n"s,     // bare LF in an extension
             "3 zz\r\nabc\r\n0\r\n\r\n"s,      // junk after the size
             "3\r\nabcXY0\r\n\r\n"s,           // not CRLF after the data
             "3\nabc\r\n0\r\n\r\n"s,           // bare LF after the size
             "3\r\nabc\n0\r\n\r\n"s,           // bare LF after the data
             "3\rabc\r\n0\r\n\r\n"s,           // bare CR after the size
             "0x3\r\nabc\r\n0\r\n\r\n"s,       // not HEXDIG
         }) {
        for (std::size_t step : {0, 1}) {
            auto [text, error] = rechunk(bad, step);
            BOOST_TEST(!error.empty(), "accepted: " << bad);
            BOOST_TEST(error != "not done", "no refusal of: " << bad);
            // Nothing past the last good chunk was written for the next hop.
            BOOST_TEST(text.find("X") == std::string::npos);
        }
    }
}

BOOST_AUTO_TEST_CASE(heads_a_next_hop_may_read_otherwise_refused)
{
    struct {
        std::string text;
        int status;
    } cases[] = {
        // A bare CR: a hop that makes it a space sees no Transfer-Encoding.
        {"POST http://a/ HTTP/1.1\r\nX:\r\rTransfer-Encoding: chunked\r\n\r\n", 400},
        {"GET http://a/ HTTP/1.1\rX: y\r\n\r\n", 400},
        // A bare LF ends a line for some hops and not for others.
        {"GET http://a/ HTTP/1.1\nHost: a\n\n", 400},
        {"GET http://a/ HTTP/1.1\r\nX: 1\nTransfer-Encoding: chunked\r\n\r\n", 400},
        {"POST http://a/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
        {"POST http://a/ HTTP/1.1\r\nTransfer-Encoding: identity, chunked\r\n\r\n", 501},
        {"POST http://a/ HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
        {"POST http://a/ HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
        {"GET http://a/caf\xc3\xa9 HTTP/1.1\r\n\r\n", 400},
        {"GET http://a/ HTTP/1.1\r\nX-A: \x01y\r\n\r\n", 400},
        {"GET http://a/ HTTP/1.1\r\nX-A: y\x7f\r\n\r\n", 400},
        {"GET\thttp://a/ HTTP/1.1\r\n\r\n", 400},
    };
    for (auto& c : cases) {
        http::Parser p(HTTP_REQUEST);
        http::Head h;
        BOOST_TEST(parse_request(c.text, h, p) != "", "accepted: " << c.text);
        BOOST_TEST(p.refusal_status() == c.status, c.text);
    }
}

// RFC 9110 allows any token as a method and blanks around a field value.
BOOST_AUTO_TEST_CASE(valid_heads_accepted)
{
    http::Parser p(HTTP_REQUEST);
    http::Head h;
    const std::string query = "QUERY http://a/q HTTP/1.1\r\nContent-Length: 2\r\n\r\n";
    BOOST_TEST(parse_request(query, h, p) == "");
    BOOST_TEST(h.method_name == "QUERY");
    BOOST_TEST(h.method == http::other_method);
    BOOST_TEST(h.target == "http://a/q");
    BOOST_TEST(h.content_length == 2u);
    const std::string own = "FOO-BAR_1 http://a/ HTTP/1.1\r\nHost: a\r\n\r\n";
    BOOST_TEST(parse_request(own, h, p) == "");
    BOOST_TEST(h.method_name == "FOO-BAR_1");
    BOOST_TEST(h.find("host") == "a");
    BOOST_TEST(h.complete);
    BOOST_TEST(parse_request("POST http://a/ HTTP/1.1\r\nContent-Length:\t5\t\r\n\r\n", h, p) == "");
    BOOST_TEST((h.framing == http::Framing::length));
    BOOST_TEST(h.content_length == 5u);
    BOOST_TEST(parse_request("POST http://a/ HTTP/1.1\r\nTransfer-Encoding:\tchunked\t\r\n\r\n", h, p) == "");
    BOOST_TEST((h.framing == http::Framing::chunked));
    BOOST_TEST(parse_request("POST http://a/ HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n", h, p) == "");
    BOOST_TEST((h.framing == http::Framing::chunked));
    const std::string patch = "PATCH http://a/ HTTP/1.1\r\nContent-Length: 1\r\n\r\n";
    BOOST_TEST(parse_request(patch, h, p) == "");
    BOOST_TEST(h.method == HTTP_PATCH);
}

BOOST_AUTO_TEST_CASE(response_heads_a_client_may_read_otherwise_refused)
{
    for (std::string r : {"HTTP/1.1 200 OK\r\nX:\r\rContent-Length: 0\r\n\r\n"s,
                          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"s,
                          "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"s,
                          "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"s}) {
        http::Parser p(HTTP_RESPONSE);
        http::Head h;
        BOOST_TEST(p.parse_head(r.data(), r.size(), h) != nullptr, r);
    }
}
