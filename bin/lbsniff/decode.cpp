// Header parsing for the link types Linux and pcap files give us. Every read
// is bounds-checked against the captured length; the IP header's own length
// decides where the datagram ends (Ethernet frames carry padding).
#include "decode.hpp"

#include <arpa/inet.h>
#include <pcap/dlt.h>

#include <algorithm>
#include <cstring>

namespace lbsniff {
namespace {

constexpr uint16_t ethertype_ipv4 = 0x0800;
constexpr uint16_t ethertype_ipv6 = 0x86dd;
constexpr uint8_t proto_tcp = 6;

uint16_t be16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }
uint32_t be32(const uint8_t* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }

// Where the IP header starts, or -1 when the frame carries no IP.
long link_offset(int dlt, const uint8_t* f, std::size_t caplen)
{
    auto by_type = [](uint16_t type, long offset) {
        return type == ethertype_ipv4 || type == ethertype_ipv6 ? offset : -1L;
    };
    switch (dlt) {
    case DLT_EN10MB:
        return caplen < 14 ? -1 : by_type(be16(f + 12), 14);
    case DLT_LINUX_SLL:
        return caplen < 16 ? -1 : by_type(be16(f + 14), 16);
    case DLT_LINUX_SLL2:
        return caplen < 20 ? -1 : by_type(be16(f), 20);
    case DLT_NULL:
    case DLT_LOOP:
        // The address family is in the capturing host's byte order (NULL) or
        // network order (LOOP), and AF_INET6 differs between systems: the IP
        // version nibble, checked by the caller, is what decides.
        return caplen < 4 ? -1 : 4;
    case DLT_RAW:
    case DLT_IPV4:
    case DLT_IPV6:
        return 0;
    default:
        return -1;
    }
}

// Stores an IPv4 address IPv4-mapped as two 8-byte words: the engine reads
// it back as two words, and narrower stores would stall that load.
void set_v4(Endpoint& e, const uint8_t* ip)
{
    uint32_t a;
    std::memcpy(&a, ip, 4);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t hi = uint64_t(0xffff) << 16 | uint64_t(a) << 32;
#else
    uint64_t hi = uint64_t(0xffff) << 32 | a;
#endif
    uint64_t lo = 0;
    std::memcpy(e.addr.data(), &lo, 8);
    std::memcpy(e.addr.data() + 8, &hi, 8);
}

void set_v6(Endpoint& e, const uint8_t* ip)
{
    uint64_t w[2];
    std::memcpy(w, ip, 16);
    std::memcpy(e.addr.data(), w, 16);
}

// Fills the TCP part.
bool decode_tcp(const uint8_t* tcp, std::size_t captured, std::size_t tcp_len, Packet& pkt)
{
    if (captured < 20 || tcp_len < 20)
        return false;
    std::size_t header = std::size_t(tcp[12] >> 4) * 4;
    if (header < 20 || header > tcp_len)
        return false;
    pkt.src.port = be16(tcp);
    pkt.dst.port = be16(tcp + 2);
    pkt.seq = be32(tcp + 4);
    pkt.ack = be32(tcp + 8);
    pkt.flags = tcp[13];
    pkt.payload_len = uint32_t(tcp_len - header);
    if (captured > header) {
        pkt.payload = tcp + header;
        pkt.payload_captured = uint32_t(std::min(captured, tcp_len) - header);
    } else {
        pkt.payload = nullptr;
        pkt.payload_captured = 0;
    }
    return true;
}

bool decode_ipv4(const uint8_t* ip, std::size_t captured, Packet& pkt)
{
    if (captured < 20)
        return false;
    std::size_t ihl = std::size_t(ip[0] & 0x0f) * 4;
    std::size_t total = be16(ip + 2);
    if (ihl < 20 || captured < ihl || total < ihl)
        return false;
    uint16_t frag = be16(ip + 6);
    if ((frag & 0x2000) || (frag & 0x1fff))  // more fragments, or not the first
        return false;
    if (ip[9] != proto_tcp)
        return false;
    pkt.family = 4;
    set_v4(pkt.src, ip + 12);
    set_v4(pkt.dst, ip + 16);
    pkt.ip_bytes = uint32_t(total);
    std::size_t avail = std::min(captured, total);
    return decode_tcp(ip + ihl, avail - ihl, total - ihl, pkt);
}

bool decode_ipv6(const uint8_t* ip, std::size_t captured, Packet& pkt)
{
    if (captured < 40)
        return false;
    std::size_t total = 40 + std::size_t(be16(ip + 4));
    uint8_t next = ip[6];
    std::size_t off = 40;
    // Walk the extension headers that may precede TCP; a fragment header
    // means a fragment, which the design ignores.
    for (int hops = 0; hops < 8 && next != proto_tcp; ++hops) {
        if (next != 0 && next != 43 && next != 60)
            return false;
        if (captured < off + 8 || total < off + 8)
            return false;
        next = ip[off];
        off += (std::size_t(ip[off + 1]) + 1) * 8;
    }
    if (next != proto_tcp || off > total || off > captured)
        return false;
    pkt.family = 6;
    set_v6(pkt.src, ip + 8);
    set_v6(pkt.dst, ip + 24);
    pkt.ip_bytes = uint32_t(total);
    std::size_t avail = std::min(captured, total);
    return decode_tcp(ip + off, avail - off, total - off, pkt);
}

}  // namespace

bool link_supported(int dlt)
{
    switch (dlt) {
    case DLT_EN10MB: case DLT_LINUX_SLL: case DLT_LINUX_SLL2: case DLT_NULL:
    case DLT_LOOP: case DLT_RAW: case DLT_IPV4: case DLT_IPV6:
        return true;
    default:
        return false;
    }
}

const char* link_name(int dlt)
{
    switch (dlt) {
    case DLT_EN10MB: return "Ethernet";
    case DLT_LINUX_SLL: return "Linux cooked";
    case DLT_LINUX_SLL2: return "Linux cooked v2";
    case DLT_NULL: return "BSD loopback";
    case DLT_LOOP: return "OpenBSD loopback";
    case DLT_RAW: return "raw IP";
    case DLT_IPV4: return "raw IPv4";
    case DLT_IPV6: return "raw IPv6";
    default: return "unknown";
    }
}

bool decode(int dlt, const uint8_t* frame, std::size_t caplen, Packet& pkt)
{
    long off = link_offset(dlt, frame, caplen);
    if (off < 0 || std::size_t(off) >= caplen)
        return false;
    const uint8_t* ip = frame + off;
    std::size_t captured = caplen - std::size_t(off);
    switch (ip[0] >> 4) {
    case 4: return dlt != DLT_IPV6 && decode_ipv4(ip, captured, pkt);
    case 6: return dlt != DLT_IPV4 && decode_ipv6(ip, captured, pkt);
    default: return false;
    }
}

Endpoint make_endpoint(const void* ip, int family, uint16_t port)
{
    Endpoint e;
    if (family == 4) {
        e.addr[10] = 0xff;
        e.addr[11] = 0xff;
        std::memcpy(e.addr.data() + 12, ip, 4);
    } else {
        std::memcpy(e.addr.data(), ip, 16);
    }
    e.port = port;
    return e;
}

void format_addr(const Endpoint& e, char* out, std::size_t size)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(e.addr.data(), mapped, 12) == 0)
        inet_ntop(AF_INET, e.addr.data() + 12, out, socklen_t(size));
    else
        inet_ntop(AF_INET6, e.addr.data(), out, socklen_t(size));
}

}  // namespace lbsniff
