// libFuzzer target (make fuzz): lbsniff's input path on hostile bytes. An
// input that starts like a capture file goes through libpcap's reader,
// Capture, decode() and the engine, exactly as "lbsniff -r" does; anything
// else is one frame handed to decode() for a link type chosen by its first
// byte. Crashes, leaks and undefined behaviour are the findings.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "capture.hpp"
#include "decode.hpp"
#include "engine.hpp"
#include "error.hpp"
#include "log.hpp"

namespace {

struct NullSink : lbsniff::Sink {
    void interval(lbsniff::Micros, lbsniff::Micros, const std::vector<lbsniff::Sample>&) override {}
    void transition(const lbsniff::Sample&, lbsniff::Evidence) override {}
};

struct Ctx {
    int dlt;
    lbsniff::Engine* engine;
};

void on_packet(u_char* user, const pcap_pkthdr* h, const u_char* bytes)
{
    auto* c = reinterpret_cast<Ctx*>(user);
    lbsniff::Packet p;
    if (lbsniff::decode(c->dlt, bytes, h->caplen, p))
        c->engine->packet(lbsniff::Micros(h->ts.tv_sec) * 1'000'000 + h->ts.tv_usec, p);
}

lbsniff::Endpoint ep(uint8_t last, uint16_t port)
{
    uint8_t ip[4] = {10, 0, 0, last};
    return lbsniff::make_endpoint(ip, 4, port);
}

void read_capture(const uint8_t* data, std::size_t size)
{
    int fd = memfd_create("fuzz", 0);
    if (fd < 0)
        return;
    if (write(fd, data, size) != ssize_t(size)) {
        close(fd);
        return;
    }
    lseek(fd, 0, SEEK_SET);
    NullSink sink;
    lbsniff::EngineConfig cfg;
    cfg.max_flows = 64;
    cfg.down_after = 1;
    cfg.up_after = 1;
    lbsniff::Engine engine(cfg, sink);
    engine.set_servers({{"a", {ep(1, 80)}}, {"b", {ep(2, 80), ep(1, 8080)}}});
    try {
        auto cap = lbsniff::Capture::open_offline("/dev/fd/" + std::to_string(fd));
        Ctx ctx{cap.datalink(), &engine};
        while (!cap.at_end())
            cap.dispatch(64, &on_packet, reinterpret_cast<u_char*>(&ctx));
        engine.finish();
    } catch (const lbkit::Error&) {
        // A bad file is an expected outcome, not a finding.
    }
    close(fd);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size)
{
    static bool quiet = (lbkit::log::init("lbsniff-fuzz", 0, false), true);
    (void)quiet;
    static const uint32_t magics[] = {0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1, 0x0a0d0d0a};
    uint32_t head = 0;
    if (size >= 4)
        std::memcpy(&head, data, 4);
    for (uint32_t m : magics)
        if (head == m)
            return read_capture(data, size), 0;
    if (size == 0)
        return 0;
    static const int dlts[] = {DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_NULL, DLT_LOOP, DLT_RAW, DLT_IPV4, DLT_IPV6};
    lbsniff::Packet p;
    lbsniff::decode(dlts[data[0] % 8], data + 1, size - 1, p);
    return 0;
}
