// Counting and state inference. The per-packet path does two hash lookups at
// most (behind a port bitmap that turns most noise away first) and touches
// the flow table only for SYNs, RSTs, FINs and client payload.
#include "engine.hpp"

#include <algorithm>
#include <cstring>
#include <map>

namespace lbsniff {
namespace {

// Signed distance between TCP sequence numbers, modulo 2^32.
int32_t seq_diff(uint32_t a, uint32_t b) { return int32_t(a - b); }

Micros align(Micros t, Micros len)
{
    Micros r = t % len;
    return r < 0 ? t - r - len : t - r;
}

}  // namespace

const char* to_string(Metric m)
{
    switch (m) {
    case Metric::packets: return "packets";
    case Metric::bytes: return "bytes";
    case Metric::connections: return "connections";
    case Metric::requests: return "requests";
    }
    return "?";
}

Engine::Engine(EngineConfig config, Sink& sink)
    : cfg_(config), sink_(sink), port_bits_(65536 / 64), flows_(config.max_flows)
{
    if (cfg_.interval <= 0)
        cfg_.interval = 1'000'000;
}

void Engine::set_servers(std::vector<ServerSpec> specs)
{
    std::map<std::string, std::size_t> old;
    for (std::size_t i = 0; i < servers_.size(); ++i)
        old[servers_[i].name] = i;
    std::vector<Server> next;
    endpoints_.clear();
    std::fill(port_bits_.begin(), port_bits_.end(), 0);
    for (auto& spec : specs) {
        auto it = old.find(spec.name);
        if (it != old.end())
            next.push_back(std::move(servers_[it->second]));
        else
            next.push_back(Server{spec.name, {}, Health(cfg_.down_after, cfg_.up_after)});
        for (const Endpoint& e : spec.endpoints) {
            endpoints_.insert(e, uint32_t(next.size() - 1));
            port_bits_[e.port >> 6] |= uint64_t(1) << (e.port & 63);
        }
    }
    servers_ = std::move(next);
    flows_.remap([this](const Endpoint& e) { return server_of(e); });
}

bool EndpointMap::insert(const Endpoint& e, uint32_t value)
{
    if ((used_ + 1) * 2 > slots_.size()) {  // keep it at most half full
        std::vector<Slot> old(slots_.size() * 2);
        old.swap(slots_);
        used_ = 0;
        for (const Slot& s : old)
            if (s.used)
                insert(s.key, s.value);
    }
    std::size_t mask = slots_.size() - 1;
    for (std::size_t i = EndpointHash{}(e) & mask;; i = (i + 1) & mask) {
        Slot& s = slots_[i];
        if (s.used && s.key == e)
            return false;
        if (!s.used) {
            s = Slot{e, value, true};
            ++used_;
            return true;
        }
    }
}

void Engine::start(Micros now)
{
    if (started_)
        return;
    started_ = true;
    start_ = align(now, cfg_.interval);
    last_sweep_ = now;
    plan_next_check();
}

void Engine::plan_next_check()
{
    Micros syn = flows_.oldest_syn();
    next_check_ = std::min({start_ + cfg_.interval, last_sweep_ + cfg_.flow_idle / 4,
                            syn == INT64_MAX ? INT64_MAX : syn + cfg_.syn_timeout});
}

void Engine::packet(Micros ts, const Packet& p)
{
    if (!started_)
        start(ts);
    else if (ts >= next_check_)
        advance(ts);
    // Stamps from before the open interval (clock steps, reordering between
    // the capture and the timer) are counted in it.
    if (port_watched(p.dst.port)) {
        long s = server_of(p.dst);
        if (s >= 0)
            return from_client(ts, p, uint32_t(s));
    }
    if (port_watched(p.src.port)) {
        long s = server_of(p.src);
        if (s >= 0)
            return from_server(ts, p, uint32_t(s));
    }
    ++ignored_;
}

void Engine::from_client(Micros ts, const Packet& p, uint32_t s)
{
    Server& srv = servers_[s];
    ++srv.now.packets;
    srv.now.bytes += p.ip_bytes;
    FlowKey k{p.src, p.dst};
    if ((p.flags & (tcp::syn | tcp::ack)) == tcp::syn)
        return client_syn(ts, k, p, srv);
    if (p.flags & tcp::rst)
        return flows_.erase(k);
    if (p.payload_len > 0)
        client_data(ts, k, p, srv);
    if (p.flags & tcp::fin)
        flows_.erase(k);
}

void Engine::client_syn(Micros ts, const FlowKey& k, const Packet& p, Server& srv)
{
    Flow* f = flows_.find(k);
    bool resent = f && f->seq_known && f->isn == p.seq && f->next_seq == p.seq + 1;
    if (!resent) {
        ++srv.now.conns;
        f = flows_.get(k, ts);
        if (!f)
            return;
        *f = Flow{};
        f->server = uint32_t(&srv - servers_.data());
        f->isn = p.seq;
        f->next_seq = p.seq + 1;
        f->seq_known = true;
    }
    // A SYN sent again after its timeout starts a new wait: each unanswered
    // try counts against the server.
    if (!f->syn_pending) {
        f->syn_pending = true;
        f->syn_time = ts;
        flows_.watch_syn(k, *f);
        next_check_ = std::min(next_check_, ts + cfg_.syn_timeout);
    }
    f->last_seen = ts;
}

void Engine::client_data(Micros ts, const FlowKey& k, const Packet& p, Server& srv)
{
    Flow* f = flows_.get(k, ts);
    const uint32_t end = p.seq + p.payload_len;
    uint8_t buf[method_max];
    const uint8_t* data = p.payload;
    std::size_t len = p.payload_captured;
    bool whole = p.payload_captured == p.payload_len;
    if (f && f->seq_known) {
        if (seq_diff(end, f->next_seq) <= 0)
            return;  // all of it was seen before: a retransmission
        int32_t gap = seq_diff(p.seq, f->next_seq);
        if (gap < 0) {
            len = 0;  // starts inside data already seen: not a request start
        } else if (gap == 0 && f->prefix_len > 0) {
            // The rest of a request line split across segments.
            std::size_t take = std::min<std::size_t>(len, method_max - f->prefix_len);
            std::memcpy(buf, f->prefix, f->prefix_len);
            if (take)
                std::memcpy(buf + f->prefix_len, data, take);
            data = buf;
            whole = whole && take == len;
            len = f->prefix_len + take;
        }
    }
    MethodMatch m = match_method(data, len);
    if (m == MethodMatch::yes)
        ++srv.now.reqs;
    if (!f)
        return;
    f->prefix_len = 0;
    if (m == MethodMatch::partial && whole) {
        std::memcpy(f->prefix, data, len);
        f->prefix_len = uint8_t(len);
    }
    f->server = uint32_t(&srv - servers_.data());
    f->next_seq = end;
    f->seq_known = true;
    f->last_seen = ts;
}

void Engine::from_server(Micros ts, const Packet& p, uint32_t s)
{
    FlowKey k{p.dst, p.src};
    if ((p.flags & (tcp::syn | tcp::ack)) == (tcp::syn | tcp::ack)) {
        if (Flow* f = flows_.find(k)) {
            f->syn_pending = false;
            f->last_seen = ts;
        }
        return add_evidence(s, Evidence::syn_ack, ts);
    }
    if (p.flags & tcp::rst) {
        Flow* f = flows_.find(k);
        bool refused = f && f->syn_pending;
        flows_.erase(k);
        if (refused)
            add_evidence(s, Evidence::syn_rst, ts);
        return;
    }
    if (p.payload_len > 0)
        add_evidence(s, Evidence::server_data, ts);
}

void Engine::evidence(std::size_t server, Evidence e, Micros now)
{
    if (server < servers_.size())
        add_evidence(server, e, now);
}

void Engine::add_evidence(std::size_t s, Evidence e, Micros now)
{
    Server& srv = servers_[s];
    srv.last_evidence = now;
    if (srv.health.add(e))
        sink_.transition(sample(srv, srv.last_load), e);
}

void Engine::advance(Micros now)
{
    if (!started_)
        return;
    auto expire = [this](Micros t) {
        flows_.expire_syns(t - cfg_.syn_timeout, [this, t](Flow& f) {
            add_evidence(f.server, Evidence::syn_timeout, t);
        });
    };
    if (now - start_ >= cfg_.interval) {
        int64_t behind = (now - start_) / cfg_.interval;
        if (behind > cfg_.max_gap_intervals) {
            // A long silence or a clock jump: report the open interval, then
            // resume at now instead of printing every empty interval between.
            expire(start_ + cfg_.interval);
            close_interval();
            Micros resume = align(now, cfg_.interval);
            skipped_ += uint64_t((resume - start_) / cfg_.interval - 1);
            start_ = resume;
        }
        while (now - start_ >= cfg_.interval) {
            expire(start_ + cfg_.interval);
            close_interval();
            start_ += cfg_.interval;
        }
    }
    expire(now);
    if (now - last_sweep_ >= cfg_.flow_idle / 4) {
        flows_.sweep(now - cfg_.flow_idle);
        last_sweep_ = now;
    }
    plan_next_check();
}

void Engine::finish()
{
    if (!started_)
        return;
    close_interval();
    start_ += cfg_.interval;
    plan_next_check();
}

double Engine::load_of(const Counters& c) const
{
    uint64_t v = 0;
    switch (cfg_.metric) {
    case Metric::packets: v = c.packets; break;
    case Metric::bytes: v = c.bytes; break;
    case Metric::connections: v = c.conns; break;
    case Metric::requests: v = c.reqs; break;
    }
    return double(v) * 1e6 / double(cfg_.interval);
}

Sample Engine::sample(const Server& s, double load) const
{
    return Sample{&s.name, s.health.state(), load, s.now};
}

void Engine::close_interval()
{
    samples_.clear();
    for (Server& s : servers_) {
        s.last_load = load_of(s.now);
        samples_.push_back(sample(s, s.last_load));
        s.now = Counters{};
    }
    sink_.interval(start_, cfg_.interval, samples_);
}

}  // namespace lbsniff
