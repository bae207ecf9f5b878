// lbsniff engine.cpp (with flows.cpp and health.cpp): exact counts per
// interval, request starts split across segments, retransmissions, and the
// state transitions with hysteresis from RSTs and unanswered SYNs.
#define BOOST_TEST_MODULE lbsniff_engine
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <pcap/dlt.h>

#include <string>
#include <vector>

#include "engine.hpp"
#include "forge.hpp"
#include "watch.hpp"

using namespace lbsniff;

namespace {

constexpr Micros sec = 1'000'000;
constexpr Micros t0 = 1'700'000'000 * sec;  // an interval boundary for 1 s and 500 ms

struct Line {
    Micros start;
    std::string name;
    State state;
    double load;
    Counters c;
};
struct Change {
    std::string name;
    State state;
    Evidence why;
};

struct Recorder : Sink {
    std::vector<Line> lines;
    std::vector<Change> changes;
    void interval(Micros start, Micros, const std::vector<Sample>& samples) override
    {
        for (const auto& s : samples)
            lines.push_back({start, *s.name, s.state, s.load, s.counts});
    }
    void transition(const Sample& s, Evidence why) override { changes.push_back({*s.name, s.state, why}); }
    const Line& line(Micros start, const std::string& name) const
    {
        for (const auto& l : lines)
            if (l.start == start && l.name == name)
                return l;
        BOOST_FAIL("no line for " << name << " at " << start);
        return lines.front();
    }
};

// Drives an engine with segments between clients and one server.
struct Net {
    Recorder rec;
    EngineConfig cfg;
    std::unique_ptr<Engine> engine;
    std::string server = "10.0.0.1";
    uint16_t port = 80;

    explicit Net(EngineConfig c = {}) : cfg(c) { reset(); }
    void reset()
    {
        engine = std::make_unique<Engine>(cfg, rec);
        engine->set_servers({{"web1:80", {parse_endpoint("10.0.0.1:80"), parse_endpoint("[2001:db8::1]:80")}},
                             {"web2:80", {parse_endpoint("10.0.0.2:80")}}});
    }
    void send(Micros t, const std::string& src, uint16_t sport, const std::string& dst, uint16_t dport,
              uint8_t flags, uint32_t seq, const std::string& payload = "", uint32_t ack = 0)
    {
        forge::Segment s{src, dst, sport, dport, flags, seq, ack, payload};
        auto f = forge::frame(DLT_RAW, s);
        Packet p;
        BOOST_REQUIRE(decode(DLT_RAW, f.data(), f.size(), p));
        engine->packet(t, p);
    }
    // Client port cp of client 10.0.0.9 to the server, and back.
    void up(Micros t, uint16_t cp, uint8_t flags, uint32_t seq, const std::string& payload = "")
    {
        send(t, "10.0.0.9", cp, server, port, flags, seq, payload);
    }
    void down(Micros t, uint16_t cp, uint8_t flags, uint32_t seq = 7000, const std::string& payload = "")
    {
        send(t, server, port, "10.0.0.9", cp, flags, seq, payload);
    }
};

}  // namespace

BOOST_AUTO_TEST_CASE(exact_counts_per_interval)
{
    Net n;
    // Interval 1: two connections, two requests, one server response.
    n.up(t0 + 100, 5001, tcp::syn, 100);
    n.down(t0 + 200, 5001, tcp::syn | tcp::ack);
    n.up(t0 + 300, 5001, tcp::ack, 101);
    n.up(t0 + 400, 5001, tcp::ack | tcp::psh, 101, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");   // 27 bytes
    n.down(t0 + 500, 5001, tcp::ack | tcp::psh, 7001, "HTTP/1.1 200 OK\r\n\r\n");
    n.up(t0 + 600, 5002, tcp::syn, 900);
    n.up(t0 + 700, 5002, tcp::ack | tcp::psh, 901, "POST /f HTTP/1.1\r\n\r\n");         // 20 bytes
    // Noise: another server's port, another host, a client's own traffic.
    n.send(t0 + 800, "10.0.0.9", 6000, "10.0.0.1", 81, tcp::syn, 1);
    n.send(t0 + 800, "10.0.0.9", 6000, "10.0.0.7", 80, tcp::syn, 1);
    // Interval 2: web2 and IPv6 web1.
    n.send(t0 + sec + 1, "10.0.0.9", 7000, "10.0.0.2", 80, tcp::syn, 5);
    n.send(t0 + sec + 2, "2001:db8::9", 7000, "2001:db8::1", 80, tcp::syn, 5);
    n.send(t0 + sec + 3, "2001:db8::9", 7000, "2001:db8::1", 80, tcp::ack | tcp::psh, 6, "HEAD / HTTP/1.1\r\n\r\n");
    n.engine->advance(t0 + 2 * sec);

    BOOST_TEST_REQUIRE(n.rec.lines.size() == 4u);
    const Line& a = n.rec.line(t0, "web1:80");
    BOOST_TEST(a.c.packets == 5u);
    BOOST_TEST(a.c.bytes == 5 * 40u + 27u + 20u);
    BOOST_TEST(a.c.conns == 2u);
    BOOST_TEST(a.c.reqs == 2u);
    BOOST_TEST(a.load == 5.0);
    const Line& b = n.rec.line(t0, "web2:80");
    BOOST_TEST(b.c.packets == 0u);
    const Line& c = n.rec.line(t0 + sec, "web1:80");
    BOOST_TEST(c.c.packets == 2u);
    BOOST_TEST(c.c.bytes == 60u + 60u + 19u);
    BOOST_TEST(c.c.conns == 1u);
    BOOST_TEST(c.c.reqs == 1u);
    BOOST_TEST(n.rec.line(t0 + sec, "web2:80").c.conns == 1u);
    BOOST_TEST(n.engine->ignored() == 2u);
}

BOOST_AUTO_TEST_CASE(metric_chooses_the_load_per_second)
{
    for (Metric m : {Metric::packets, Metric::bytes, Metric::connections, Metric::requests}) {
        EngineConfig cfg;
        cfg.metric = m;
        cfg.interval = sec / 2;
        Net n(cfg);
        n.up(t0 + 1, 5001, tcp::syn, 100);
        n.up(t0 + 2, 5001, tcp::ack | tcp::psh, 101, "GET / HTTP/1.1\r\n\r\n");
        n.up(t0 + 3, 5001, tcp::ack, 120);
        n.engine->finish();
        const Line& l = n.rec.line(t0, "web1:80");
        double expect = m == Metric::packets ? 6 : m == Metric::bytes ? 2 * (120 + 18)
                      : m == Metric::connections ? 2 : 2;
        BOOST_TEST(l.load == expect, to_string(m));
    }
}

BOOST_AUTO_TEST_CASE(intervals_are_aligned_and_gaps_print_zeros)
{
    Net n;
    n.up(t0 + sec / 2, 5001, tcp::syn, 1);
    n.up(t0 + 3 * sec + 200'000, 5002, tcp::syn, 1);
    n.engine->finish();
    std::vector<Micros> starts;
    for (const auto& l : n.rec.lines)
        if (l.name == "web1:80")
            starts.push_back(l.start);
    BOOST_TEST(starts == (std::vector<Micros>{t0, t0 + sec, t0 + 2 * sec, t0 + 3 * sec}),
               boost::test_tools::per_element());
    BOOST_TEST(n.rec.line(t0 + sec, "web1:80").c.packets == 0u);
    BOOST_TEST(n.rec.line(t0 + 3 * sec, "web1:80").c.conns == 1u);
    // A silence longer than max_gap_intervals is skipped, not printed.
    Net m;
    m.up(t0, 5001, tcp::syn, 1);
    m.up(t0 + 5000 * sec, 5002, tcp::syn, 1);
    m.engine->finish();
    BOOST_TEST(m.rec.lines.size() == 4u);
    BOOST_TEST(m.engine->skipped_intervals() == 4999u);
}

BOOST_AUTO_TEST_CASE(syn_answered_by_rst_goes_down_after_n)
{
    Net n;  // down after 3, up after 2
    uint16_t cp = 6000;
    auto refused = [&](Micros t) {
        n.up(t, ++cp, tcp::syn, 1);
        n.down(t + 10, cp, tcp::rst | tcp::ack, 0);
    };
    auto accepted = [&](Micros t) {
        n.up(t, ++cp, tcp::syn, 1);
        n.down(t + 10, cp, tcp::syn | tcp::ack);
    };
    accepted(t0 + 1000);
    BOOST_TEST(n.rec.changes.empty());
    accepted(t0 + 2000);
    BOOST_TEST_REQUIRE(n.rec.changes.size() == 1u);
    BOOST_TEST((n.rec.changes[0].state == State::up));
    BOOST_TEST((n.rec.changes[0].why == Evidence::syn_ack));
    refused(t0 + 3000);
    refused(t0 + 4000);
    accepted(t0 + 5000);  // breaks the run of bad signs
    refused(t0 + 6000);
    refused(t0 + 7000);
    BOOST_TEST(n.rec.changes.size() == 1u);
    refused(t0 + 8000);
    BOOST_TEST_REQUIRE(n.rec.changes.size() == 2u);
    BOOST_TEST((n.rec.changes[1].state == State::down));
    BOOST_TEST((n.rec.changes[1].why == Evidence::syn_rst));
    BOOST_TEST(n.rec.changes[1].name == "web1:80");
    // A RST on an established connection says nothing about the server.
    n.down(t0 + 9000, 5001, tcp::rst | tcp::ack, 0);
    n.down(t0 + 9500, cp, tcp::ack | tcp::psh, 7001, "HTTP/1.1 200 OK\r\n\r\n");
    BOOST_TEST(n.rec.changes.size() == 2u);
    n.down(t0 + 9600, cp, tcp::ack | tcp::psh, 7100, "more");
    BOOST_TEST_REQUIRE(n.rec.changes.size() == 3u);
    BOOST_TEST((n.rec.changes[2].state == State::up));
    BOOST_TEST((n.rec.changes[2].why == Evidence::server_data));
    n.engine->finish();
    BOOST_TEST((n.rec.line(t0, "web1:80").state == State::up));
    BOOST_TEST((n.rec.line(t0, "web2:80").state == State::unknown));
}

BOOST_AUTO_TEST_CASE(unanswered_syns_count_against_after_the_timeout)
{
    EngineConfig cfg;
    cfg.syn_timeout = 2 * sec;
    cfg.down_after = 2;
    Net n(cfg);
    n.up(t0, 5001, tcp::syn, 100);
    n.up(t0 + 100'000, 5002, tcp::syn, 200);
    n.up(t0 + 1 * sec, 5001, tcp::syn, 100);  // retransmission: not a new connection
    n.engine->advance(t0 + 2 * sec - 1);
    BOOST_TEST(n.rec.changes.empty());
    n.engine->advance(t0 + 2 * sec);  // the first SYN's timeout: one bad sign
    BOOST_TEST(n.rec.changes.empty());
    n.engine->advance(t0 + 2 * sec + 100'000);
    BOOST_TEST_REQUIRE(n.rec.changes.size() == 1u);
    BOOST_TEST((n.rec.changes[0].state == State::down));
    BOOST_TEST((n.rec.changes[0].why == Evidence::syn_timeout));
    BOOST_TEST(n.rec.line(t0, "web1:80").c.conns == 2u);
    BOOST_TEST(n.rec.line(t0, "web1:80").c.packets == 2u);
    BOOST_TEST((n.rec.line(t0 + sec, "web1:80").state == State::unknown));
    // The interval line shows the state at the interval's end.
    n.engine->advance(t0 + 3 * sec);
    BOOST_TEST((n.rec.line(t0 + 2 * sec, "web1:80").state == State::down));

    // A SYN answered in time never counts against.
    Net m(cfg);
    m.up(t0, 5001, tcp::syn, 100);
    m.down(t0 + 1 * sec, 5001, tcp::syn | tcp::ack);
    m.up(t0 + 1 * sec, 5002, tcp::syn, 100);
    m.down(t0 + 1 * sec + 5, 5002, tcp::syn | tcp::ack);
    m.engine->advance(t0 + 10 * sec);
    BOOST_TEST_REQUIRE(m.rec.changes.size() == 1u);
    BOOST_TEST((m.rec.changes[0].state == State::up));
}

BOOST_AUTO_TEST_CASE(resent_syn_after_its_timeout_counts_again)
{
    EngineConfig cfg;
    cfg.syn_timeout = 1 * sec;
    cfg.down_after = 3;
    Net n(cfg);
    // One client retrying one connection into a black hole: 0, 1, 3 s.
    n.up(t0, 5001, tcp::syn, 100);
    n.up(t0 + 1 * sec + 1, 5001, tcp::syn, 100);
    n.up(t0 + 3 * sec, 5001, tcp::syn, 100);
    n.engine->advance(t0 + 5 * sec);
    BOOST_TEST_REQUIRE(n.rec.changes.size() == 1u);
    BOOST_TEST((n.rec.changes[0].state == State::down));
    Counters total;
    for (const auto& l : n.rec.lines)
        if (l.name == "web1:80")
            total.conns += l.c.conns;
    BOOST_TEST(total.conns == 1u);
}

BOOST_AUTO_TEST_CASE(request_lines_split_across_segments)
{
    Net n;
    n.up(t0, 5001, tcp::syn, 0);
    n.up(t0 + 1, 5001, tcp::ack | tcp::psh, 1, "GE");
    n.up(t0 + 2, 5001, tcp::ack | tcp::psh, 3, "T / HTTP/1.1\r\n\r\n");
    // One byte at a time.
    uint32_t seq = 19;
    for (char ch : std::string("POST /x HTTP/1.1\r\n\r\n"))
        n.up(t0 + 3, 5001, tcp::ack | tcp::psh, seq++, std::string(1, ch));
    // A retransmission of a whole request is not a new request...
    n.up(t0 + 4, 5001, tcp::ack | tcp::psh, 19, "POST /x HTTP/1.1\r\n\r\n");
    // ...nor is a segment that starts inside data already seen.
    n.up(t0 + 5, 5001, tcp::ack | tcp::psh, seq - 4, "\r\n\r\nGET / HTTP/1.1\r\n\r\n");
    seq += 18;
    // A prefix followed by a gap (lost segment) is dropped, not glued.
    n.up(t0 + 6, 5001, tcp::ack | tcp::psh, seq, "GE");
    n.up(t0 + 7, 5001, tcp::ack | tcp::psh, seq + 10, "T / HTTP/1.1\r\n\r\n");
    // After a gap, a segment that begins with a method is a request.
    n.up(t0 + 8, 5001, tcp::ack | tcp::psh, seq + 1000, "PUT /y HTTP/1.1\r\n\r\n");
    // A body that starts like nothing in particular.
    n.up(t0 + 9, 5001, tcp::ack | tcp::psh, seq + 1019, "name=value");
    // Two connections interleaved, each splitting its method.
    n.up(t0 + 10, 6001, tcp::ack | tcp::psh, 50, "DEL");
    n.up(t0 + 11, 6002, tcp::ack | tcp::psh, 90, "OPT");
    n.up(t0 + 12, 6001, tcp::ack | tcp::psh, 53, "ETE /a HTTP/1.1\r\n\r\n");
    n.up(t0 + 13, 6002, tcp::ack | tcp::psh, 93, "IONS * HTTP/1.1\r\n\r\n");
    n.engine->finish();
    BOOST_TEST(n.rec.line(t0, "web1:80").c.reqs == 5u);
}

BOOST_AUTO_TEST_CASE(reload_keeps_state_of_servers_kept)
{
    Net n;
    n.up(t0, 5001, tcp::syn, 0);
    n.down(t0 + 1, 5001, tcp::syn | tcp::ack);
    n.up(t0 + 2, 5002, tcp::syn, 0);
    n.down(t0 + 3, 5002, tcp::syn | tcp::ack);
    BOOST_TEST((n.engine->state(0) == State::up));
    n.engine->set_servers({{"web3:80", {parse_endpoint("10.0.0.3:80")}}, {"web1:80", {parse_endpoint("10.0.0.1:80")}}});
    BOOST_TEST(n.engine->servers() == 2u);
    BOOST_TEST(n.engine->name(1) == "web1:80");
    BOOST_TEST((n.engine->state(1) == State::up));
    BOOST_TEST((n.engine->state(0) == State::unknown));
    // The interval's counts so far stay with web1 at its new index.
    n.up(t0 + 4, 5003, tcp::syn, 0);
    n.send(t0 + 5, "2001:db8::9", 7000, "2001:db8::1", 80, tcp::syn, 5);  // no longer watched
    n.engine->finish();
    BOOST_TEST(n.rec.line(t0, "web1:80").c.conns == 3u);
    BOOST_TEST(n.rec.line(t0, "web3:80").c.conns == 0u);
}

BOOST_AUTO_TEST_CASE(probes_feed_the_same_hysteresis)
{
    Net n;
    n.engine->start(t0);
    n.engine->evidence(1, Evidence::probe_ok, t0 + 1);
    n.engine->evidence(1, Evidence::probe_ok, t0 + 2);
    BOOST_TEST_REQUIRE(n.rec.changes.size() == 1u);
    BOOST_TEST(n.rec.changes[0].name == "web2:80");
    BOOST_TEST(n.engine->last_evidence(1) == t0 + 2);
    for (int i = 0; i < 3; ++i)
        n.engine->evidence(1, Evidence::probe_failed, t0 + 3 + i);
    BOOST_TEST_REQUIRE(n.rec.changes.size() == 2u);
    BOOST_TEST((n.rec.changes[1].state == State::down));
    n.engine->evidence(99, Evidence::probe_failed, t0);  // out of range: ignored
}

BOOST_AUTO_TEST_CASE(flow_table_is_bounded)
{
    EngineConfig cfg;
    cfg.max_flows = 16;
    Net n(cfg);
    for (uint16_t i = 0; i < 100; ++i)
        n.up(t0 + i, uint16_t(10000 + i), tcp::syn, 1);
    BOOST_TEST(n.engine->flows().size() == 16u);
    BOOST_TEST(n.engine->flows().untracked() == 84u);
    n.engine->finish();
    BOOST_TEST(n.rec.line(t0, "web1:80").c.conns == 100u);
    // Idle flows are swept.
    n.engine->advance(t0 + 200 * sec);
    BOOST_TEST(n.engine->flows().size() == 0u);
}
