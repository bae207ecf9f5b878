// Test support, not part of lbsniff: builds frames of every link type lbsniff
// decodes and writes them to pcap files with pcap_dump on a dead handle, so
// the tests, the benchmark and the fuzzer's seeds use known packets.
#pragma once
#include <pcap/pcap.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace lbsniff::forge {

struct Segment {
    std::string src, dst;        // numeric IPv4 or IPv6 text; both the same family
    uint16_t sport = 0, dport = 0;
    uint8_t flags = 0;           // lbsniff::tcp bits
    uint32_t seq = 0, ack = 0;
    std::string payload;
    uint8_t protocol = 6;        // 17 makes a UDP datagram of the same addresses
    bool fragment = false;       // IPv4 "more fragments" / IPv6 fragment header
};

// The frame for dlt (DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_NULL,
// DLT_LOOP, DLT_RAW, or anything else: then just the IP datagram).
std::vector<uint8_t> frame(int dlt, const Segment& s);
// An ARP request on Ethernet: a frame lbsniff must ignore.
std::vector<uint8_t> arp_frame();

class Writer {
public:
    // path "-" writes to standard output. Throws std::runtime_error.
    Writer(const std::string& path, int dlt, int snaplen = 65535);
    ~Writer();
    Writer(const Writer&) = delete;
    Writer& operator=(const Writer&) = delete;
    // ts in microseconds since the epoch; the frame is cut at the snaplen.
    void write(int64_t ts, const std::vector<uint8_t>& frame);
    void add(int64_t ts, const Segment& s) { write(ts, frame(dlt_, s)); }
    int dlt() const { return dlt_; }
    void flush();

private:
    pcap_t* dead_ = nullptr;
    pcap_dumper_t* dumper_ = nullptr;
    int dlt_, snaplen_;
};

}  // namespace lbsniff::forge
