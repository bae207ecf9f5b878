// lbsniff decode.cpp and http_method.cpp: every supported link type, both IP
// versions, and the frames that must be ignored (non-TCP, fragments, short).
#define BOOST_TEST_MODULE lbsniff_decode
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <pcap/dlt.h>

#include <cstring>
#include <string>

#include "decode.hpp"
#include "forge.hpp"
#include "http_method.hpp"

using namespace lbsniff;

namespace {

forge::Segment seg(const std::string& src, const std::string& dst, uint8_t flags, const std::string& payload = "")
{
    forge::Segment s;
    s.src = src;
    s.dst = dst;
    s.sport = 40000;
    s.dport = 8080;
    s.flags = flags;
    s.seq = 1000;
    s.ack = 2000;
    s.payload = payload;
    return s;
}

std::string text(const Endpoint& e)
{
    char buf[64];
    format_addr(e, buf, sizeof buf);
    return std::string(buf) + ":" + std::to_string(e.port);
}

bool decode_frame(int dlt, const std::vector<uint8_t>& f, Packet& p) { return decode(dlt, f.data(), f.size(), p); }

MethodMatch match(const std::string& s)
{
    return match_method(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_link_type_gives_the_same_packet)
{
    for (int dlt : {DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_NULL, DLT_LOOP, DLT_RAW, DLT_IPV4}) {
        BOOST_TEST_CONTEXT("link type " << dlt)
        {
            Packet p;
            auto f = forge::frame(dlt, seg("10.0.0.9", "10.0.0.1", tcp::psh | tcp::ack, "GET / HTTP/1.1\r\n"));
            BOOST_TEST_REQUIRE(decode_frame(dlt, f, p));
            BOOST_TEST(p.family == 4);
            BOOST_TEST(text(p.src) == "10.0.0.9:40000");
            BOOST_TEST(text(p.dst) == "10.0.0.1:8080");
            BOOST_TEST(p.seq == 1000u);
            BOOST_TEST(p.ack == 2000u);
            BOOST_TEST(p.flags == (tcp::psh | tcp::ack));
            BOOST_TEST(p.ip_bytes == 20u + 20u + 16u);
            BOOST_TEST(p.payload_len == 16u);
            BOOST_TEST(p.payload_captured == 16u);
            BOOST_TEST(std::memcmp(p.payload, "GET ", 4) == 0);
        }
    }
}

BOOST_AUTO_TEST_CASE(ipv6_on_every_link_type)
{
    for (int dlt : {DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_NULL, DLT_LOOP, DLT_RAW, DLT_IPV6}) {
        BOOST_TEST_CONTEXT("link type " << dlt)
        {
            Packet p;
            auto f = forge::frame(dlt, seg("2001:db8::9", "2001:db8::1", tcp::syn));
            BOOST_TEST_REQUIRE(decode_frame(dlt, f, p));
            BOOST_TEST(p.family == 6);
            BOOST_TEST(text(p.src) == "2001:db8::9:40000");
            BOOST_TEST(text(p.dst) == "2001:db8::1:8080");
            BOOST_TEST(p.flags == tcp::syn);
            BOOST_TEST(p.ip_bytes == 60u);
            BOOST_TEST(p.payload_len == 0u);
        }
    }
}

BOOST_AUTO_TEST_CASE(ipv6_extension_headers_are_walked)
{
    auto f = forge::frame(DLT_RAW, seg("::1", "::1", tcp::ack, "abc"));
    // Insert an 8-byte hop-by-hop header between IPv6 and TCP.
    std::vector<uint8_t> g(f.begin(), f.begin() + 40);
    g[6] = 0;  // next: hop-by-hop
    std::vector<uint8_t> hop = {6, 0, 1, 4, 0, 0, 0, 0};  // next: TCP, length 8, PadN
    g.insert(g.end(), hop.begin(), hop.end());
    g.insert(g.end(), f.begin() + 40, f.end());
    uint16_t plen = uint16_t(g.size() - 40);
    g[4] = uint8_t(plen >> 8);
    g[5] = uint8_t(plen);
    Packet p;
    BOOST_TEST_REQUIRE(decode_frame(DLT_RAW, g, p));
    BOOST_TEST(p.payload_len == 3u);
    BOOST_TEST(p.ip_bytes == g.size());
}

BOOST_AUTO_TEST_CASE(non_tcp_fragments_and_other_frames_are_ignored)
{
    Packet p;
    auto udp = seg("10.0.0.9", "10.0.0.1", 0, "x");
    udp.protocol = 17;
    BOOST_TEST(!decode_frame(DLT_EN10MB, forge::frame(DLT_EN10MB, udp), p));
    auto frag = seg("10.0.0.9", "10.0.0.1", tcp::ack, "GET / HTTP/1.1\r\n");
    frag.fragment = true;
    BOOST_TEST(!decode_frame(DLT_EN10MB, forge::frame(DLT_EN10MB, frag), p));
    auto frag6 = seg("2001:db8::9", "2001:db8::1", tcp::ack, "GET / HTTP/1.1\r\n");
    frag6.fragment = true;
    BOOST_TEST(!decode_frame(DLT_EN10MB, forge::frame(DLT_EN10MB, frag6), p));
    BOOST_TEST(!decode_frame(DLT_EN10MB, forge::arp_frame(), p));
    // An IPv4 packet on a link that only carries IPv6, and an unknown link.
    BOOST_TEST(!decode_frame(DLT_IPV6, forge::frame(DLT_IPV6, seg("10.0.0.9", "10.0.0.1", tcp::syn)), p));
    auto eth = forge::frame(DLT_EN10MB, seg("10.0.0.9", "10.0.0.1", tcp::syn));
    BOOST_TEST(!decode(DLT_IEEE802_11, eth.data(), eth.size(), p));
    BOOST_TEST(!link_supported(DLT_IEEE802_11));
    BOOST_TEST(link_supported(DLT_LINUX_SLL2));
}

BOOST_AUTO_TEST_CASE(every_truncation_is_refused_or_safe)
{
    // Cut a frame at every length: decode must never read past the end, and
    // it accepts a frame only once the TCP header is complete.
    auto f = forge::frame(DLT_EN10MB, seg("10.0.0.9", "10.0.0.1", tcp::ack, "GET /x HTTP/1.1\r\n"));
    for (std::size_t n = 0; n <= f.size(); ++n) {
        std::vector<uint8_t> cut(f.begin(), f.begin() + long(n));
        Packet p;
        bool ok = decode(DLT_EN10MB, cut.data(), cut.size(), p);
        BOOST_TEST(ok == (n >= 14 + 20 + 20), "length " << n);
        if (ok) {
            BOOST_TEST(p.payload_len == 17u);  // from the headers, not the capture
            BOOST_TEST(p.payload_captured == n - 54);
        }
    }
}

BOOST_AUTO_TEST_CASE(bad_header_lengths_are_refused)
{
    auto f = forge::frame(DLT_RAW, seg("10.0.0.9", "10.0.0.1", tcp::ack, "abcd"));
    Packet p;
    auto g = f;
    g[0] = 0x44;  // IHL 4 words
    BOOST_TEST(!decode_frame(DLT_RAW, g, p));
    g = f;
    g[2] = 0, g[3] = 30;  // total length shorter than the TCP header
    BOOST_TEST(!decode_frame(DLT_RAW, g, p));
    g = f;
    g[20 + 12] = 0x40;  // TCP data offset 4 words
    BOOST_TEST(!decode_frame(DLT_RAW, g, p));
    g = f;
    g[20 + 12] = 0xf0;  // data offset beyond the datagram
    BOOST_TEST(!decode_frame(DLT_RAW, g, p));
    // Ethernet padding after the datagram is not payload.
    g = forge::frame(DLT_EN10MB, seg("10.0.0.9", "10.0.0.1", tcp::ack));
    g.resize(60, 0);
    BOOST_TEST_REQUIRE(decode_frame(DLT_EN10MB, g, p));
    BOOST_TEST(p.payload_len == 0u);
    BOOST_TEST(p.payload_captured == 0u);
}

BOOST_AUTO_TEST_CASE(request_methods)
{
    BOOST_TEST((match("GET / HTTP/1.1\r\n") == MethodMatch::yes));
    BOOST_TEST((match("POST /form HTTP/1.1") == MethodMatch::yes));
    BOOST_TEST((match("PROPPATCH /x") == MethodMatch::yes));
    BOOST_TEST((match("OPTIONS * HTTP/1.1") == MethodMatch::yes));
    BOOST_TEST((match("G") == MethodMatch::partial));
    BOOST_TEST((match("GE") == MethodMatch::partial));
    BOOST_TEST((match("GET") == MethodMatch::partial));
    BOOST_TEST((match("PROP") == MethodMatch::partial));
    BOOST_TEST((match("GETX / HTTP/1.1") == MethodMatch::no));
    BOOST_TEST((match("get / HTTP/1.1") == MethodMatch::no));
    BOOST_TEST((match("HTTP/1.1 200 OK") == MethodMatch::no));
    BOOST_TEST((match("\x16\x03\x01") == MethodMatch::no));
    BOOST_TEST((match("") == MethodMatch::no));
    BOOST_TEST((match("POSTER") == MethodMatch::no));
}
