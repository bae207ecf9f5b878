// The measuring core: packets in, per-server interval counters and up/down
// state out. Time is whatever the caller says (pcap timestamps offline, the
// clock live), so a capture file always gives the same figures. No I/O here:
// results go to a Sink.
#pragma once
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "decode.hpp"
#include "flows.hpp"
#include "health.hpp"

namespace lbsniff {

struct Counters {
    uint64_t packets = 0;  // TCP segments addressed to the server
    uint64_t bytes = 0;    // their IP length
    uint64_t conns = 0;    // new connection attempts (SYN)
    uint64_t reqs = 0;     // HTTP request starts
};

enum class Metric { packets, bytes, connections, requests };
const char* to_string(Metric m);

struct Sample {
    const std::string* name = nullptr;
    State state = State::unknown;
    double load = 0;      // the chosen metric, per second
    Counters counts;      // raw counts of the interval
};

class Sink {
public:
    virtual ~Sink() = default;
    // One call per interval, samples in watch-list order.
    virtual void interval(Micros start, Micros length, const std::vector<Sample>& samples) = 0;
    // A server changed state; sample.load is its last interval's load.
    virtual void transition(const Sample& sample, Evidence why) = 0;
};

struct ServerSpec {
    std::string name;                 // as the watch list writes it
    std::vector<Endpoint> endpoints;  // resolved addresses with the port
};

struct EngineConfig {
    Micros interval = 1'000'000;
    Micros syn_timeout = 2'000'000;
    int down_after = 3;
    int up_after = 2;
    Metric metric = Metric::packets;
    std::size_t max_flows = 1 << 16;
    Micros flow_idle = 120'000'000;
    int64_t max_gap_intervals = 1000;  // longer silences are skipped, not printed
};

// Watched address -> server index: open addressing in one flat array, as
// every captured segment is looked up here (twice for replies).
class EndpointMap {
public:
    void clear() { slots_.assign(16, Slot{}); used_ = 0; }
    bool insert(const Endpoint& e, uint32_t value);  // false when present
    long find(const Endpoint& e) const
    {
        if (used_ == 0)
            return -1;
        std::size_t mask = slots_.size() - 1;
        for (std::size_t i = EndpointHash{}(e) & mask;; i = (i + 1) & mask) {
            const Slot& s = slots_[i];
            if (!s.used)
                return -1;
            if (s.key == e)
                return long(s.value);
        }
    }

private:
    struct Slot { Endpoint key; uint32_t value = 0; bool used = false; };
    std::vector<Slot> slots_ = std::vector<Slot>(16);
    std::size_t used_ = 0;
};

class Engine {
public:
    Engine(EngineConfig config, Sink& sink);

    // Installs the watch list; servers whose name stays keep their counters
    // and state.
    void set_servers(std::vector<ServerSpec> servers);
    // Starts the interval clock before any packet (live capture).
    void start(Micros now);
    void packet(Micros ts, const Packet& p);
    // Closes the intervals that ended by now and expires unanswered SYNs.
    void advance(Micros now);
    // End of input: the open interval is reported as it stands.
    void finish();
    // Evidence from an active probe.
    void evidence(std::size_t server, Evidence e, Micros now);

    std::size_t servers() const { return servers_.size(); }
    const std::string& name(std::size_t i) const { return servers_[i].name; }
    State state(std::size_t i) const { return servers_[i].health.state(); }
    double last_load(std::size_t i) const { return servers_[i].last_load; }
    // When the server last gave a sign of life or death (0: never).
    Micros last_evidence(std::size_t i) const { return servers_[i].last_evidence; }
    bool started() const { return started_; }

    uint64_t ignored() const { return ignored_; }
    uint64_t skipped_intervals() const { return skipped_; }
    const FlowTable& flows() const { return flows_; }

private:
    struct Server {
        std::string name;
        Counters now;
        Health health;
        double last_load = 0;
        Micros last_evidence = 0;
    };

    long server_of(const Endpoint& e) const { return endpoints_.find(e); }
    bool port_watched(uint16_t port) const { return port_bits_[port >> 6] >> (port & 63) & 1; }
    void from_client(Micros ts, const Packet& p, uint32_t s);
    void from_server(Micros ts, const Packet& p, uint32_t s);
    void client_syn(Micros ts, const FlowKey& k, const Packet& p, Server& srv);
    void client_data(Micros ts, const FlowKey& k, const Packet& p, Server& srv);
    void add_evidence(std::size_t s, Evidence e, Micros now);
    void close_interval();
    Sample sample(const Server& s, double load) const;
    double load_of(const Counters& c) const;

    EngineConfig cfg_;
    Sink& sink_;
    std::vector<Server> servers_;
    EndpointMap endpoints_;
    std::vector<uint64_t> port_bits_;
    FlowTable flows_;
    std::vector<Sample> samples_;
    void plan_next_check();
    bool started_ = false;
    Micros next_check_ = 0;  // advance() has nothing to do before this
    Micros start_ = 0;       // of the open interval
    Micros last_sweep_ = 0;
    uint64_t ignored_ = 0;
    uint64_t skipped_ = 0;
};

}  // namespace lbsniff
