// lbsniff capture.cpp on pcap fixtures written here with pcap_dump on a dead
// handle: the same traffic on every link type gives the same counts; a pipe
// is read without waiting between packets; bad files fail with the exit
// code the man page documents.
#define BOOST_TEST_MODULE lbsniff_capture
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <pcap/dlt.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "capture.hpp"
#include "engine.hpp"
#include "error.hpp"
#include "filter.hpp"
#include "forge.hpp"
#include "watch.hpp"

using namespace lbsniff;
namespace fs = std::filesystem;

namespace {

constexpr Micros sec = 1'000'000;
constexpr Micros t0 = 1'700'000'000 * sec;

struct Tmp {
    fs::path dir;
    Tmp()
    {
        char tmpl[] = "/tmp/lbsniff-capture-XXXXXX";
        dir = mkdtemp(tmpl);
    }
    ~Tmp() { fs::remove_all(dir); }
    std::string file(const std::string& name) const { return (dir / name).string(); }
};

struct Totals : Sink {
    std::map<std::string, Counters> sum;
    std::map<std::string, State> state;
    int intervals = 0;
    void interval(Micros, Micros, const std::vector<Sample>& samples) override
    {
        ++intervals;
        for (const auto& s : samples) {
            auto& c = sum[*s.name];
            c.packets += s.counts.packets;
            c.bytes += s.counts.bytes;
            c.conns += s.counts.conns;
            c.reqs += s.counts.reqs;
            state[*s.name] = s.state;
        }
    }
    void transition(const Sample& s, Evidence) override { state[*s.name] = s.state; }
};

std::vector<ServerSpec> servers()
{
    return {{"web1:80", {parse_endpoint("10.0.0.1:80")}}, {"web6", {parse_endpoint("[2001:db8::1]:80")}}};
}

forge::Segment seg(const std::string& src, uint16_t sp, const std::string& dst, uint16_t dp, uint8_t flags,
                   uint32_t seq, const std::string& payload = "")
{
    return forge::Segment{src, dst, sp, dp, flags, seq, 0, payload};
}

// Known traffic: web1 gets 2 connections (one refused... no: both accepted),
// 3 requests (one split in two segments); web6 over IPv6 gets 1 connection
// answered by RST; noise of every kind around it.
void write_traffic(forge::Writer& w)
{
    w.add(t0 + 1, seg("10.0.0.9", 5001, "10.0.0.1", 80, tcp::syn, 100));
    w.add(t0 + 2, seg("10.0.0.1", 80, "10.0.0.9", 5001, tcp::syn | tcp::ack, 900));
    w.add(t0 + 3, seg("10.0.0.9", 5001, "10.0.0.1", 80, tcp::ack | tcp::psh, 101, "GET /a HTTP/1.1\r\n\r\n"));
    w.add(t0 + 4, seg("10.0.0.1", 80, "10.0.0.9", 5001, tcp::ack | tcp::psh, 901, "HTTP/1.1 200 OK\r\n\r\n"));
    w.add(t0 + 5, seg("10.0.0.9", 5001, "10.0.0.1", 80, tcp::ack | tcp::psh, 120, "PO"));
    w.add(t0 + 6, seg("10.0.0.9", 5001, "10.0.0.1", 80, tcp::ack | tcp::psh, 122, "ST /b HTTP/1.1\r\n\r\n"));
    w.add(t0 + sec + 1, seg("10.0.0.9", 5002, "10.0.0.1", 80, tcp::syn, 300));
    w.add(t0 + sec + 2, seg("10.0.0.1", 80, "10.0.0.9", 5002, tcp::syn | tcp::ack, 700));
    w.add(t0 + sec + 3, seg("10.0.0.9", 5002, "10.0.0.1", 80, tcp::ack | tcp::psh, 301, "HEAD / HTTP/1.1\r\n\r\n"));
    w.add(t0 + sec + 4, seg("2001:db8::9", 5003, "2001:db8::1", 80, tcp::syn, 50));
    w.add(t0 + sec + 5, seg("2001:db8::1", 80, "2001:db8::9", 5003, tcp::rst | tcp::ack, 0));
    // Noise: UDP to the watched address, a fragment, another port, ARP.
    auto udp = seg("10.0.0.9", 5004, "10.0.0.1", 80, 0, 0, "x");
    udp.protocol = 17;
    w.add(t0 + sec + 6, udp);
    auto frag = seg("10.0.0.9", 5005, "10.0.0.1", 80, tcp::ack, 1, "GET /frag HTTP/1.1\r\n");
    frag.fragment = true;
    w.add(t0 + sec + 7, frag);
    w.add(t0 + sec + 8, seg("10.0.0.9", 5006, "10.0.0.1", 443, tcp::syn, 1));
    if (w.dlt() == DLT_EN10MB)
        w.write(t0 + sec + 9, forge::arp_frame());
}

struct Run {
    Totals totals;
    uint64_t frames = 0, undecoded = 0;
    int dlt = -1;
};

struct Reader {
    Run* run;
    Engine* engine;
    static void cb(u_char* user, const pcap_pkthdr* h, const u_char* bytes)
    {
        auto* r = reinterpret_cast<Reader*>(user);
        ++r->run->frames;
        Packet p;
        if (!decode(r->run->dlt, bytes, h->caplen, p)) {
            ++r->run->undecoded;
            return;
        }
        r->engine->packet(Micros(h->ts.tv_sec) * sec + h->ts.tv_usec, p);
    }
};

// Reads a whole file through Capture as lbsniff does (without the loop).
void read_all(const std::string& path, Run& run, const std::string& filter = "")
{
    Capture c = Capture::open_offline(path);
    run.dlt = c.datalink();
    c.set_filter(filter_candidates(servers(), filter), filter);
    EngineConfig cfg;
    cfg.down_after = 1;
    cfg.up_after = 1;
    Engine engine(cfg, run.totals);
    engine.set_servers(servers());
    Reader r{&run, &engine};
    try {
        while (!c.at_end())
            c.dispatch(3, &Reader::cb, reinterpret_cast<u_char*>(&r));
    } catch (...) {
        engine.finish();
        throw;
    }
    engine.finish();
}

int exit_code_of(const std::function<void()>& fn)
{
    try {
        fn();
    } catch (const lbkit::Error& e) {
        BOOST_TEST_MESSAGE("error: " << e.what());
        return e.exit_code();
    }
    return 0;
}

}  // namespace

BOOST_AUTO_TEST_CASE(same_counts_on_every_link_type)
{
    Tmp tmp;
    for (int dlt : {DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_NULL, DLT_LOOP, DLT_RAW}) {
        BOOST_TEST_CONTEXT("link type " << dlt)
        {
            std::string path = tmp.file("t" + std::to_string(dlt) + ".pcap");
            {
                forge::Writer w(path, dlt);
                write_traffic(w);
            }
            Run run;
            read_all(path, run);
            BOOST_TEST(run.dlt == dlt);
            Counters w1 = run.totals.sum["web1:80"], w6 = run.totals.sum["web6"];
            BOOST_TEST(w1.packets == 6u);
            BOOST_TEST(w1.bytes == 6 * 40u + 19u + 2u + 18u + 19u);
            BOOST_TEST(w1.conns == 2u);
            BOOST_TEST(w1.reqs == 3u);
            BOOST_TEST(w6.packets == 1u);
            BOOST_TEST(w6.bytes == 60u);
            BOOST_TEST(w6.conns == 1u);
            BOOST_TEST((run.totals.state["web1:80"] == State::up));
            BOOST_TEST((run.totals.state["web6"] == State::down));
            BOOST_TEST(run.totals.intervals == 2);
            BOOST_TEST(run.undecoded == (dlt == DLT_EN10MB ? 3u : 2u));  // UDP, fragment (, ARP)
        }
    }
}

BOOST_AUTO_TEST_CASE(filter_narrows_and_bad_filter_is_a_usage_error)
{
    Tmp tmp;
    std::string path = tmp.file("f.pcap");
    {
        forge::Writer w(path, DLT_EN10MB);
        write_traffic(w);
    }
    Run run;
    read_all(path, run, "ip6");
    BOOST_TEST(run.totals.sum["web1:80"].packets == 0u);
    BOOST_TEST(run.totals.sum["web6"].packets == 1u);
    Run bad;
    BOOST_TEST(exit_code_of([&] { read_all(path, bad, "port eighty"); }) == EX_USAGE);
    BOOST_TEST(exit_code_of([&] { Capture::check_filter("tcp", "host and"); }) == EX_USAGE);
    BOOST_TEST(exit_code_of([&] { Capture::check_filter(filter_candidates(servers(), "").front(), ""); }) == 0);
}

BOOST_AUTO_TEST_CASE(truncated_file_reports_what_was_read_then_fails)
{
    Tmp tmp;
    std::string path = tmp.file("cut.pcap");
    {
        forge::Writer w(path, DLT_EN10MB);
        write_traffic(w);
    }
    fs::resize_file(path, fs::file_size(path) - 30);
    Run run;
    BOOST_TEST(exit_code_of([&] { read_all(path, run); }) == EX_DATAERR);
    BOOST_TEST(run.totals.sum["web1:80"].packets == 6u);  // all before the cut
    // Cut inside the file header: not a capture file.
    fs::resize_file(path, 10);
    BOOST_TEST(exit_code_of([&] { Capture::open_offline(path); }) == EX_DATAERR);
    fs::resize_file(path, 0);
    BOOST_TEST(exit_code_of([&] { Capture::open_offline(path); }) == EX_DATAERR);
}

BOOST_AUTO_TEST_CASE(bad_files_fail_with_documented_codes)
{
    Tmp tmp;
    BOOST_TEST(exit_code_of([&] { Capture::open_offline(tmp.file("missing.pcap")); }) == EX_NOINPUT);
    std::string junk = tmp.file("junk.pcap");
    std::ofstream(junk) << "this is not a capture file, not at all, no.";
    BOOST_TEST(exit_code_of([&] { Capture::open_offline(junk); }) == EX_DATAERR);
    std::string wifi = tmp.file("wifi.pcap");
    {
        forge::Writer w(wifi, DLT_IEEE802_11);
        w.write(t0, std::vector<uint8_t>(40, 0));
    }
    BOOST_TEST(exit_code_of([&] { Capture::open_offline(wifi); }) == EX_DATAERR);
    BOOST_TEST(exit_code_of([&] { Capture::open_offline(tmp.dir.string()); }) != 0);
    if (geteuid() != 0) {
        std::string locked = tmp.file("locked.pcap");
        std::ofstream(locked) << "x";
        fs::permissions(locked, fs::perms::none);
        BOOST_TEST(exit_code_of([&] { Capture::open_offline(locked); }) == EX_NOPERM);
    }
}

BOOST_AUTO_TEST_CASE(live_capture_errors_are_classified)
{
    BOOST_TEST(exit_code_of([] { Capture::open_live({"lbsniff-no-such0", 256, 1 << 20, false}); }) != 0);
}

BOOST_AUTO_TEST_CASE(pipe_is_read_without_waiting_between_packets)
{
    Tmp tmp;
    std::string path = tmp.file("p.pcap");
    {
        forge::Writer w(path, DLT_EN10MB);
        write_traffic(w);
    }
    std::ifstream in(path, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // The first chunk: file header (24) and the first two packets (16 + 54 each).
    std::size_t first = 24 + 2 * (16 + 54);
    int fds[2];
    BOOST_TEST_REQUIRE(pipe(fds) == 0);
    std::atomic<bool> read_first{false};
    std::thread writer([&] {
        (void)!write(fds[1], bytes.data(), first);
        // Wait for the reader to take what is there; a reader that blocks
        // instead makes the test fail after 5 s rather than hang.
        for (int i = 0; i < 500 && !read_first; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        (void)!write(fds[1], bytes.data() + first, bytes.size() - first);
        close(fds[1]);
    });
    Run run;
    {
        Capture c = Capture::open_offline("/dev/fd/" + std::to_string(fds[0]));
        run.dlt = c.datalink();
        BOOST_TEST(c.wait_fd() >= 0);
        EngineConfig cfg;
        Engine engine(cfg, run.totals);
        engine.set_servers(servers());
        Reader r{&run, &engine};
        int n = c.dispatch(100, &Reader::cb, reinterpret_cast<u_char*>(&r));
        BOOST_TEST(!read_first.load());
        BOOST_TEST(n == 2);
        BOOST_TEST(!c.ready());
        BOOST_TEST(!c.at_end());
        read_first = true;
        while (!c.at_end())
            c.dispatch(100, &Reader::cb, reinterpret_cast<u_char*>(&r));
        engine.finish();
    }
    writer.join();
    close(fds[0]);
    BOOST_TEST(run.totals.sum["web1:80"].packets == 6u);
    BOOST_TEST(run.totals.sum["web1:80"].reqs == 3u);
}
