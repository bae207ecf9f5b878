#include "forge.hpp"

#include <arpa/inet.h>
#include <pcap/dlt.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace lbsniff::forge {
namespace {

void put16(std::vector<uint8_t>& v, std::size_t at, uint16_t x) { v[at] = uint8_t(x >> 8); v[at + 1] = uint8_t(x); }
void put32(std::vector<uint8_t>& v, std::size_t at, uint32_t x)
{
    put16(v, at, uint16_t(x >> 16));
    put16(v, at + 2, uint16_t(x));
}

std::vector<uint8_t> transport(const Segment& s)
{
    std::vector<uint8_t> t;
    if (s.protocol == 6) {
        t.assign(20, 0);
        put16(t, 0, s.sport);
        put16(t, 2, s.dport);
        put32(t, 4, s.seq);
        put32(t, 8, s.ack);
        t[12] = 5 << 4;
        t[13] = s.flags;
        put16(t, 14, 65535);
    } else {
        t.assign(8, 0);
        put16(t, 0, s.sport);
        put16(t, 2, s.dport);
        put16(t, 4, uint16_t(8 + s.payload.size()));
    }
    t.insert(t.end(), s.payload.begin(), s.payload.end());
    return t;
}

uint32_t sum16(const uint8_t* p, std::size_t n, uint32_t sum = 0)
{
    for (std::size_t i = 0; i + 1 < n; i += 2)
        sum += uint32_t(p[i] << 8 | p[i + 1]);
    if (n & 1)
        sum += uint32_t(p[n - 1] << 8);
    return sum;
}

uint16_t fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return uint16_t(~sum);
}

// The TCP or UDP checksum over the pseudo header, so that a host receiving
// an injected frame (sniffgen inject) answers it.
void transport_checksum(std::vector<uint8_t>& body, const unsigned char* a, const unsigned char* b, std::size_t alen,
                        uint8_t protocol)
{
    std::size_t at = protocol == 6 ? 16 : 6;
    body[at] = body[at + 1] = 0;
    uint32_t sum = sum16(a, alen) + sum16(b, alen) + protocol + uint32_t(body.size());
    uint16_t c = fold(sum16(body.data(), body.size(), sum));
    put16(body, at, c == 0 && protocol == 17 ? 0xffff : c);
}

std::vector<uint8_t> ip_datagram(const Segment& s, bool& v6)
{
    unsigned char a[16], b[16];
    std::vector<uint8_t> body = transport(s);
    if (inet_pton(AF_INET, s.src.c_str(), a) == 1 && inet_pton(AF_INET, s.dst.c_str(), b) == 1) {
        v6 = false;
        transport_checksum(body, a, b, 4, s.protocol);
        std::vector<uint8_t> ip(20, 0);
        ip[0] = 0x45;
        put16(ip, 2, uint16_t(20 + body.size()));
        put16(ip, 6, s.fragment ? 0x2000 : 0x4000);  // MF, else DF
        ip[8] = 64;
        ip[9] = s.protocol;
        std::memcpy(&ip[12], a, 4);
        std::memcpy(&ip[16], b, 4);
        put16(ip, 10, fold(sum16(ip.data(), 20)));
        ip.insert(ip.end(), body.begin(), body.end());
        return ip;
    }
    if (inet_pton(AF_INET6, s.src.c_str(), a) != 1 || inet_pton(AF_INET6, s.dst.c_str(), b) != 1)
        throw std::runtime_error("forge: bad address pair " + s.src + " " + s.dst);
    v6 = true;
    transport_checksum(body, a, b, 16, s.protocol);
    std::vector<uint8_t> ip(40, 0);
    ip[0] = 0x60;
    ip[7] = 64;
    std::memcpy(&ip[8], a, 16);
    std::memcpy(&ip[24], b, 16);
    if (s.fragment) {
        std::vector<uint8_t> frag(8, 0);
        frag[0] = s.protocol;
        frag[3] = 1;  // M flag
        put32(frag, 4, 0x1234);
        body.insert(body.begin(), frag.begin(), frag.end());
        ip[6] = 44;
    } else {
        ip[6] = s.protocol;
    }
    put16(ip, 4, uint16_t(body.size()));
    ip.insert(ip.end(), body.begin(), body.end());
    return ip;
}

}  // namespace

std::vector<uint8_t> frame(int dlt, const Segment& s)
{
    bool v6 = false;
    std::vector<uint8_t> ip = ip_datagram(s, v6);
    uint16_t ethertype = v6 ? 0x86dd : 0x0800;
    std::vector<uint8_t> link;
    switch (dlt) {
    case DLT_EN10MB:
        link = {0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0, 0};
        put16(link, 12, ethertype);
        break;
    case DLT_LINUX_SLL:
        link.assign(16, 0);
        put16(link, 2, 1);  // ARPHRD_ETHER
        put16(link, 4, 6);
        put16(link, 14, ethertype);
        break;
    case DLT_LINUX_SLL2:
        link.assign(20, 0);
        put16(link, 0, ethertype);
        put32(link, 4, 1);  // interface index
        put16(link, 8, 1);
        link[11] = 6;
        break;
    case DLT_NULL: {
        uint32_t af = v6 ? 10 : 2;  // host byte order, Linux's AF_INET6
        link.resize(4);
        std::memcpy(link.data(), &af, 4);
        break;
    }
    case DLT_LOOP:
        link.assign(4, 0);
        put32(link, 0, v6 ? 24 : 2);  // network order, OpenBSD's AF_INET6
        break;
    default:
        break;
    }
    link.insert(link.end(), ip.begin(), ip.end());
    return link;
}

std::vector<uint8_t> arp_frame()
{
    std::vector<uint8_t> f = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 1, 0x08, 0x06};
    f.resize(42, 0);
    return f;
}

Writer::Writer(const std::string& path, int dlt, int snaplen) : dlt_(dlt), snaplen_(snaplen)
{
    dead_ = pcap_open_dead(dlt, snaplen);
    if (!dead_)
        throw std::runtime_error("forge: pcap_open_dead failed");
    dumper_ = pcap_dump_open(dead_, path.c_str());
    if (!dumper_) {
        std::string why = pcap_geterr(dead_);
        pcap_close(dead_);
        throw std::runtime_error("forge: " + path + ": " + why);
    }
}

Writer::~Writer()
{
    if (dumper_)
        pcap_dump_close(dumper_);
    if (dead_)
        pcap_close(dead_);
}

void Writer::write(int64_t ts, const std::vector<uint8_t>& f)
{
    pcap_pkthdr h{};
    h.ts.tv_sec = time_t(ts / 1'000'000);
    h.ts.tv_usec = suseconds_t(ts % 1'000'000);
    h.len = bpf_u_int32(f.size());
    h.caplen = bpf_u_int32(std::min<std::size_t>(f.size(), std::size_t(snaplen_)));
    pcap_dump(reinterpret_cast<u_char*>(dumper_), &h, f.data());
}

void Writer::flush()
{
    pcap_dump_flush(dumper_);
}

}  // namespace lbsniff::forge
