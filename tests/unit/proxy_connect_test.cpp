// A CONNECT chained through an upstream proxy (lib/http/proxy_connect.*):
// the request sent, the answer head read whole or not at all.
#define BOOST_TEST_MODULE proxy_connect
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <event2/buffer.h>

#include "ev.hpp"
#include "http/proxy_connect.hpp"

using namespace lbkit::http;

namespace {

struct Input {
    lbkit::ev::BufferPtr buf{evbuffer_new()};
    void add(const std::string& s) { evbuffer_add(buf.get(), s.data(), s.size()); }
    std::size_t left() const { return evbuffer_get_length(buf.get()); }
};

}  // namespace

BOOST_AUTO_TEST_CASE(request_names_the_server)
{
    BOOST_TEST(proxy_connect_request({"web1", 443}) == "CONNECT web1:443 HTTP/1.1\r\nHost: web1:443\r\n\r\n");
    BOOST_TEST(proxy_connect_request({"::1", 8443}) == "CONNECT [::1]:8443 HTTP/1.1\r\nHost: [::1]:8443\r\n\r\n");
}

BOOST_AUTO_TEST_CASE(established_drains_the_head_only)
{
    Input in;
    in.add("HTTP/1.1 200 Connection est");
    BOOST_TEST(read_proxy_connect_answer(in.buf.get(), 65536).kind == ProxyConnectAnswer::incomplete);
    in.add("ablished\r\nVia: 1.1 squid\r\n\r\nSSH-2.0");
    auto a = read_proxy_connect_answer(in.buf.get(), 65536);
    BOOST_TEST(a.kind == ProxyConnectAnswer::established);
    BOOST_TEST(in.left() == 7u);  // the server's first bytes stay for the client
}

BOOST_AUTO_TEST_CASE(refusal_gives_the_status_line)
{
    Input in;
    in.add("HTTP/1.1 403 Forbidden\r\nContent-Length: 5\r\n\r\nnope!");
    auto a = read_proxy_connect_answer(in.buf.get(), 65536);
    BOOST_TEST(a.kind == ProxyConnectAnswer::refused);
    BOOST_TEST(a.what == "HTTP/1.1 403 Forbidden");
    Input b;
    b.add("HTTP/1.0 407 Proxy Authentication Required\r\n\r\n");
    BOOST_TEST(read_proxy_connect_answer(b.buf.get(), 65536).what == "HTTP/1.0 407 Proxy Authentication Required");
}

BOOST_AUTO_TEST_CASE(bad_or_endless_answers)
{
    Input in;
    in.add("SSH-2.0-OpenSSH\r\n\r\n");
    BOOST_TEST(read_proxy_connect_answer(in.buf.get(), 65536).kind == ProxyConnectAnswer::bad);
    Input big;
    big.add("HTTP/1.1 200 OK\r\nX: " + std::string(2000, 'a'));
    auto a = read_proxy_connect_answer(big.buf.get(), 1024);
    BOOST_TEST(a.kind == ProxyConnectAnswer::bad);
    BOOST_TEST(a.what == "an answer head larger than 1024 bytes");
}
