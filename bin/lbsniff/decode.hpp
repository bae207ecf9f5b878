// Link, IP and TCP header parsing into one small struct. Pure: no state, no
// allocation, no libpcap calls, so the fuzzer and the tests drive it directly.
// Anything it does not understand (non-TCP, fragments, short frames) is
// "not a packet" rather than an error: a sniffer sees all sorts of traffic.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace lbsniff {

// TCP flag bits as they sit in the header's 14th byte.
namespace tcp {
inline constexpr uint8_t fin = 0x01, syn = 0x02, rst = 0x04, psh = 0x08, ack = 0x10;
}

// One side of a TCP conversation: IPv4 addresses are stored IPv4-mapped
// (::ffff:a.b.c.d) so both families share one key type.
struct Endpoint {
    std::array<uint8_t, 16> addr{};
    uint16_t port = 0;
    bool operator==(const Endpoint& o) const noexcept
    {
        // Two word compares: the default (memcmp) shows in profiles.
        uint64_t a[2], b[2];
        std::memcpy(a, addr.data(), 16);
        std::memcpy(b, o.addr.data(), 16);
        return port == o.port && a[0] == b[0] && a[1] == b[1];
    }
};

struct EndpointHash {
    std::size_t operator()(const Endpoint& e) const noexcept
    {
        uint64_t a, b;
        std::memcpy(&a, e.addr.data(), 8);
        std::memcpy(&b, e.addr.data() + 8, 8);
        uint64_t h = (a * 0x9e3779b97f4a7c15ULL) ^ (b + e.port) * 0xc2b2ae3d27d4eb4fULL;
        return std::size_t(h ^ (h >> 29));
    }
};

struct Packet {
    Endpoint src, dst;
    uint8_t family = 0;            // 4 or 6
    uint8_t flags = 0;             // tcp:: bits
    uint32_t seq = 0, ack = 0;
    uint32_t ip_bytes = 0;         // IP datagram length from its header
    uint32_t payload_len = 0;      // TCP payload length from the headers
    const uint8_t* payload = nullptr;
    uint32_t payload_captured = 0; // bytes of payload present (snaplen)
};

// Link types decode() knows (pcap DLT_ values).
bool link_supported(int dlt);
const char* link_name(int dlt);

// Fills pkt from one captured frame; false when the frame is not a complete
// unfragmented TCP segment header over IPv4 or IPv6 on a supported link.
bool decode(int dlt, const uint8_t* frame, std::size_t caplen, Packet& pkt);

// Numeric text of an endpoint address ("10.0.0.1", "::1").
void format_addr(const Endpoint& e, char* out, std::size_t size);
Endpoint make_endpoint(const void* ip, int family, uint16_t port);

}  // namespace lbsniff
