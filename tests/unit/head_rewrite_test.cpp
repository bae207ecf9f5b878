// The heads a relay sends on: origin-form target, Host of the server used,
// hop-by-hop headers (and those named in Connection) removed, Via added;
// the framing headers of a body decoded or filtered on the way.
#define BOOST_TEST_MODULE head_rewrite
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <string>

#include "http/head_rewrite.hpp"
#include "http/http_parse.hpp"
#include "http/request_target.hpp"

using namespace lbkit::http;
namespace http = lbkit::http;

namespace {

struct Parsed {
    std::string text;
    http::Parser parser;
    http::Head head;
    Parsed(std::string t, llhttp_type_t type) : text(std::move(t)), parser(type)
    {
        const char* err = parser.parse_head(text.data(), text.size(), head);
        BOOST_REQUIRE_MESSAGE(err == nullptr, (err ? err : ""));
    }
};

}  // namespace

BOOST_AUTO_TEST_CASE(request_to_server)
{
    Parsed r("GET http://host1.a.co.jp/p?q=1 HTTP/1.1\r\n"
             "Host: host1.a.co.jp\r\n"
             "Connection: keep-alive, X-Private\r\n"
             "X-Private: secret\r\n"
             "Keep-Alive: 300\r\n"
             "Proxy-Connection: keep-alive\r\n"
             "Proxy-Authorization: Basic abc\r\n"
             "TE: trailers\r\n"
             "Upgrade: websocket\r\n"
             "Accept: */*\r\n"
             "Via: 1.0 other\r\n"
             "\r\n",
             HTTP_REQUEST);
    Target t;
    BOOST_REQUIRE(parse_absolute(r.head.target, t) == nullptr);
    std::string line, rest;
    build_request_line(r.head, t, line);
    build_request_rest(r.head, "lbproxy", rest);
    BOOST_TEST(line == "GET /p?q=1 HTTP/1.1\r\n");
    BOOST_TEST(rest == "Accept: */*\r\nVia: 1.0 other\r\nVia: 1.1 lbproxy\r\n\r\n");
}

BOOST_AUTO_TEST_CASE(request_line_without_path)
{
    Parsed r("OPTIONS http://a HTTP/1.1\r\n\r\n", HTTP_REQUEST);
    Target t;
    BOOST_REQUIRE(parse_absolute(r.head.target, t) == nullptr);
    std::string line;
    build_request_line(r.head, t, line);
    BOOST_TEST(line == "OPTIONS * HTTP/1.1\r\n");
    Parsed g("GET http://a?x=1 HTTP/1.0\r\n\r\n", HTTP_REQUEST);
    BOOST_REQUIRE(parse_absolute(g.head.target, t) == nullptr);
    build_request_line(g.head, t, line);
    BOOST_TEST(line == "GET /?x=1 HTTP/1.1\r\n");
}

BOOST_AUTO_TEST_CASE(request_line_for_an_upstream_proxy)
{
    std::string line;
    build_proxy_request_line("GET /p?q=1 HTTP/1.1\r\n", "web1", 8080, line);
    BOOST_TEST(line == "GET http://web1:8080/p?q=1 HTTP/1.1\r\n");
    build_proxy_request_line("GET /p?q=1 HTTP/1.1\r\n", "::1", 80, line);
    BOOST_TEST(line == "GET http://[::1]/p?q=1 HTTP/1.1\r\n");
    build_proxy_request_line("OPTIONS * HTTP/1.1\r\n", "web1", 80, line);
    BOOST_TEST(line == "OPTIONS http://web1 HTTP/1.1\r\n");
}

BOOST_AUTO_TEST_CASE(host_line)
{
    std::string s;
    append_host_line(s, "web1", 80);
    append_host_line(s, "web2", 8080);
    append_host_line(s, "::1", 81);
    BOOST_TEST(s == "Host: web1\r\nHost: web2:8080\r\nHost: [::1]:81\r\n");
}

BOOST_AUTO_TEST_CASE(response_to_client)
{
    Parsed r("HTTP/1.1 200 Fine\r\n"
             "Content-Type: text/plain\r\n"
             "Transfer-Encoding: chunked\r\n"
             "Connection: close\r\n"
             "Proxy-Authenticate: Basic\r\n"
             "X-Backend: b1\r\n"
             "\r\n",
             HTTP_RESPONSE);
    std::string out;
    // The relay re-frames a chunked body canonically and says so itself.
    ResponsePlan chunked;
    chunked.chunked = true;
    build_response_head(r.head, chunked, "lbproxy", out);
    BOOST_TEST(out == "HTTP/1.1 200 Fine\r\nContent-Type: text/plain\r\n"
                      "X-Backend: b1\r\nVia: 1.1 lbproxy\r\nTransfer-Encoding: chunked\r\n\r\n");
    ResponsePlan ten;
    ten.dechunk = true;
    ten.close_client = true;
    build_response_head(r.head, ten, "lbproxy", out);
    BOOST_TEST(out == "HTTP/1.1 200 Fine\r\nContent-Type: text/plain\r\n"
                      "X-Backend: b1\r\nVia: 1.1 lbproxy\r\nConnection: close\r\n\r\n");
    ResponsePlan ka;
    ka.keep_alive_10 = true;
    build_response_head(r.head, ka, "lbproxy", out);
    BOOST_TEST(out.find("Connection: keep-alive\r\n") != std::string::npos);
}

// A filtered body has a new length: Content-Length goes, and the body is
// chunked anew for an HTTP/1.1 client.
BOOST_AUTO_TEST_CASE(response_with_a_filtered_body)
{
    Parsed r("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/html\r\n\r\n", HTTP_RESPONSE);
    ResponsePlan plan;
    plan.new_length = plan.chunked = true;
    std::string out;
    build_response_head(r.head, plan, "lbproxy", out);
    BOOST_TEST(out == "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nVia: 1.1 lbproxy\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n");
    Parsed c("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", HTTP_RESPONSE);
    ResponsePlan ten;
    ten.new_length = ten.close_client = true;
    build_response_head(c.head, ten, "lbproxy", out);
    BOOST_TEST(out == "HTTP/1.1 200 OK\r\nVia: 1.1 lbproxy\r\nConnection: close\r\n\r\n");
}

BOOST_AUTO_TEST_CASE(hop_by_hop_names)
{
    for (const char* n : {"Connection", "keep-alive", "PROXY-CONNECTION", "TE", "Trailer", "Upgrade",
                          "Proxy-Authorization", "Proxy-Authenticate"})
        BOOST_TEST(http::is_hop_by_hop(http::classify(n)), n);
    for (const char* n : {"Host", "Content-Length", "Transfer-Encoding", "Via", "Accept"})
        BOOST_TEST(!http::is_hop_by_hop(http::classify(n)), n);
}

// Connection may name any header but the ones the message is framed and
// routed by: dropping those would make the server frame the body otherwise.
BOOST_AUTO_TEST_CASE(connection_never_drops_framing_headers)
{
    Parsed cl("POST http://a/ HTTP/1.1\r\nHost: a\r\nConnection: Content-Length, Host, X-A\r\n"
              "X-A: 1\r\nContent-Length: 35\r\n\r\n",
              HTTP_REQUEST);
    std::string rest;
    build_request_rest(cl.head, "lbproxy", rest);
    BOOST_TEST(rest == "Content-Length: 35\r\nVia: 1.1 lbproxy\r\n\r\n");

    Parsed te("POST http://a/ HTTP/1.1\r\nConnection: Transfer-Encoding\r\nTransfer-Encoding: CHUNKED\r\n\r\n",
              HTTP_REQUEST);
    build_request_rest(te.head, "lbproxy", rest);
    BOOST_TEST(rest == "Via: 1.1 lbproxy\r\nTransfer-Encoding: chunked\r\n\r\n");

    Parsed resp("HTTP/1.1 200 OK\r\nConnection: Content-Length\r\nContent-Length: 5\r\n\r\n", HTTP_RESPONSE);
    std::string out;
    build_response_head(resp.head, ResponsePlan{}, "lbproxy", out);
    BOOST_TEST(out == "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nVia: 1.1 lbproxy\r\n\r\n");
}
