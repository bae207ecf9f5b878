// What the sniffer remembers about each client connection to a watched
// server: whether its SYN is still unanswered, the next expected client
// sequence number (to skip retransmissions), and the first bytes of a request
// line split across segments. Bounded: when full, new connections are counted
// but not tracked, and the count of those is visible in /metrics.
#pragma once
#include <climits>
#include <cstdint>
#include <deque>
#include <unordered_map>

#include "decode.hpp"
#include "http_method.hpp"

namespace lbsniff {

using Micros = int64_t;  // microseconds since the epoch, as pcap stamps them

struct FlowKey {
    Endpoint client, server;
    bool operator==(const FlowKey&) const = default;
};

struct FlowKeyHash {
    std::size_t operator()(const FlowKey& k) const noexcept
    {
        EndpointHash h;
        return h(k.client) * 31 + h(k.server);
    }
};

struct Flow {
    uint32_t server = 0;     // index into the engine's server list
    uint32_t next_seq = 0;   // next client sequence number expected
    uint32_t isn = 0;        // the client's SYN sequence number
    Micros syn_time = 0;     // when the SYN was (re)sent, while pending
    Micros last_seen = 0;
    bool seq_known = false;
    bool syn_pending = false;
    uint8_t prefix_len = 0;  // bytes of an unfinished request line kept
    uint8_t prefix[method_max] = {};
};

class FlowTable {
public:
    explicit FlowTable(std::size_t max_flows) : max_(max_flows) {}

    Flow* find(const FlowKey& k);
    // The flow for k, created when absent and there is room; nullptr when full.
    Flow* get(const FlowKey& k, Micros now);
    void erase(const FlowKey& k) { flows_.erase(k); }
    void clear() { flows_.clear(); syns_.clear(); }

    // Remembers that k's SYN is pending since f.syn_time.
    void watch_syn(const FlowKey& k, const Flow& f);
    // Calls fn(flow) for every SYN pending since deadline or before, and stops
    // watching it.
    template <typename Fn> void expire_syns(Micros deadline, Fn&& fn);
    // Forgets flows idle since before cutoff.
    void sweep(Micros cutoff);
    // Renumbers servers after a reload; drops flows whose server is gone.
    template <typename Fn> void remap(Fn&& server_of);

    // When the oldest SYN still watched was sent (INT64_MAX: none).
    Micros oldest_syn() const { return syns_.empty() ? INT64_MAX : syns_.front().time; }
    std::size_t size() const { return flows_.size(); }
    uint64_t untracked() const { return untracked_; }

private:
    struct PendingSyn { Micros time; FlowKey key; };
    std::size_t max_;
    std::unordered_map<FlowKey, Flow, FlowKeyHash> flows_;
    std::deque<PendingSyn> syns_;  // in time order; at most one per flow and SYN
    uint64_t untracked_ = 0;
};

template <typename Fn> void FlowTable::expire_syns(Micros deadline, Fn&& fn)
{
    while (!syns_.empty() && syns_.front().time <= deadline) {
        PendingSyn p = syns_.front();
        syns_.pop_front();
        Flow* f = find(p.key);
        // Answered, reset, or re-sent since: this entry is out of date.
        if (f && f->syn_pending && f->syn_time == p.time) {
            f->syn_pending = false;
            fn(*f);
        }
    }
}

template <typename Fn> void FlowTable::remap(Fn&& server_of)
{
    for (auto it = flows_.begin(); it != flows_.end();) {
        long s = server_of(it->first.server);
        if (s < 0) {
            it = flows_.erase(it);
        } else {
            it->second.server = uint32_t(s);
            ++it;
        }
    }
}

}  // namespace lbsniff
