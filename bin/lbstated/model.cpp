#include "model.hpp"

namespace lbstated {
namespace {

// Versions are handed out in blocks; only the end of a block is written to
// disk, so a report does not cost a disk write and a restart still starts
// above every version any receiver has seen.
constexpr uint64_t version_block = 1'000'000;

}  // namespace

void Model::restore_version(uint64_t ceiling)
{
    version_ = ceiling;
    ceiling_ = ceiling;
}

void Model::bump()
{
    if (++version_ > ceiling_) {
        ceiling_ = version_ + version_block;
        if (reserve_)
            reserve_(ceiling_);
    }
}

State Model::effective_state(const std::string& server) const
{
    if (auto p = pins_.find(server); p != pins_.end() && p->second.state)
        return *p->second.state;
    auto it = servers_.find(server);
    if (it == servers_.end() || it->second.last_report_ms < 0 || it->second.stale)
        return State::unknown;
    return it->second.reported;
}

const ServerStatus* Model::status(const std::string& server) const
{
    auto it = servers_.find(server);
    return it == servers_.end() ? nullptr : &it->second;
}

Model::Shown Model::shown(const std::string& server) const
{
    Shown s;
    s.state = effective_state(server);
    if (auto it = servers_.find(server); it != servers_.end()) {
        s.load = it->second.load;
        s.reported = it->second.last_report_ms >= 0;
    }
    if (auto p = pins_.find(server); p != pins_.end() && p->second.load)
        s.load = *p->second.load;  // the pin's load hides the reported one
    return s;
}

void Model::set_groups(Groups g)
{
    std::map<std::string, ServerStatus> kept;
    for (const auto& grp : g.groups)
        for (const auto& m : grp.members) {
            auto it = servers_.find(m.server);
            kept[m.server] = it == servers_.end() ? ServerStatus{} : it->second;
        }
    servers_ = std::move(kept);
    groups_ = std::move(g);
    bump();
}

ReportOutcome Model::apply_report(const lbkit::api::Report& r, int64_t now_ms)
{
    ReportOutcome out;
    // What the state showed of each server the report names, before it.
    std::map<const std::string*, Shown> before;
    auto touch = [&](std::map<std::string, ServerStatus>::iterator it) {
        if (auto [b, added] = before.try_emplace(&it->first); added)
            b->second = shown(it->first);
        return &it->second;
    };
    int64_t stale = stale_after_ms_ > 0 ? stale_after_ms_ : 3 * r.interval_ms;
    for (const auto& sr : r.servers) {
        std::vector<ServerStatus*> targets;
        if (auto it = servers_.find(sr.addr); it != servers_.end()) {
            targets.push_back(touch(it));
        } else {
            auto [lo, hi] = groups_.by_addr.equal_range(sr.addr);
            for (auto it2 = lo; it2 != hi; ++it2)
                if (auto s = servers_.find(it2->second); s != servers_.end())
                    targets.push_back(touch(s));
        }
        if (targets.empty()) {
            out.unknown.push_back(sr.addr);
            continue;
        }
        for (ServerStatus* s : targets) {
            s->load = sr.load;
            s->reported = sr.state;
            s->last_report_ms = now_ms;
            s->stale_after_ms = stale;
            s->stale = false;
            s->assigned = 0;
        }
        ++out.applied;
    }
    if (out.applied == 0)
        return out;
    ++report_serial_;
    for (const auto& [name, was] : before) {
        Shown now = shown(*name);
        if (now == was)
            continue;
        out.changed = true;
        if (now.state != was.state)
            out.transition = true;
    }
    if (out.changed)
        bump();
    return out;
}

std::vector<std::string> Model::sweep(int64_t now_ms)
{
    std::vector<std::string> changed;
    for (auto& [name, s] : servers_) {
        if (s.stale || s.last_report_ms < 0 || now_ms - s.last_report_ms <= s.stale_after_ms)
            continue;
        State before = effective_state(name);
        s.stale = true;
        if (before != effective_state(name))
            changed.push_back(name);
    }
    if (!changed.empty())
        bump();
    return changed;
}

bool Model::pin(const std::string& server, const lbkit::api::Pin& p)
{
    auto it = pins_.find(server);
    if (it != pins_.end() && it->second.state == p.state && it->second.load == p.load && it->second.ratio == p.ratio)
        return false;
    pins_[server] = p;
    bump();
    return true;
}

bool Model::unpin(const std::string& server)
{
    if (pins_.erase(server) == 0)
        return false;
    bump();
    return true;
}

bool Model::set_draining(const std::string& server, bool on)
{
    bool changed = on ? drains_.insert(server).second : drains_.erase(server) > 0;
    if (changed)
        bump();
    return changed;
}

void Model::eject(const std::string& server, const std::string& proxy, int64_t until_ms)
{
    ejected_[server][proxy] = until_ms;
    ++ejection_serial_;
}

bool Model::end_ejection(const std::string& server, const std::string& proxy)
{
    auto it = ejected_.find(server);
    if (it == ejected_.end() || it->second.erase(proxy) == 0)
        return false;
    if (it->second.empty())
        ejected_.erase(it);
    ++ejection_serial_;
    return true;
}

bool Model::expire_ejections(int64_t now_ms)
{
    bool dropped = false;
    for (auto it = ejected_.begin(); it != ejected_.end();) {
        auto& by = it->second;
        for (auto p = by.begin(); p != by.end();)
            if (p->second <= now_ms) {
                p = by.erase(p);
                dropped = true;
            } else {
                ++p;
            }
        it = by.empty() ? ejected_.erase(it) : std::next(it);
    }
    if (dropped)
        ++ejection_serial_;
    return dropped;
}

std::map<std::string, int64_t> Model::ejections(const std::string& server, int64_t now_ms) const
{
    std::map<std::string, int64_t> out;
    if (auto it = ejected_.find(server); it != ejected_.end())
        for (const auto& [proxy, until] : it->second)
            if (until > now_ms)
                out[proxy] = until;
    return out;
}

int Model::ejected_by(const std::string& server, int64_t now_ms) const
{
    return static_cast<int>(ejections(server, now_ms).size());
}

std::vector<lbkit::select::Candidate> Model::candidates(const Group& g) const
{
    std::vector<lbkit::select::Candidate> out;
    out.reserve(g.members.size());
    for (const auto& m : g.members) {
        lbkit::select::Candidate c;
        c.name = m.server;
        c.ratio = m.ratio;
        c.state = effective_state(m.server);
        c.draining = draining(m.server);
        if (const ServerStatus* s = status(m.server)) {
            c.load = s->load;
            c.inflight = static_cast<double>(s->assigned);
        }
        if (auto p = pins_.find(m.server); p != pins_.end()) {
            c.pinned = true;
            if (p->second.load) c.load = *p->second.load;
            if (p->second.ratio) c.ratio = *p->second.ratio;
        }
        out.push_back(std::move(c));
    }
    return out;
}

lbkit::api::StateView Model::view(int64_t now_ms, const std::string& only_group) const
{
    lbkit::api::StateView v;
    v.version = version_;
    for (const auto& g : groups_.groups) {
        if (!only_group.empty() && g.name != only_group)
            continue;
        lbkit::api::GroupView gv;
        gv.name = g.name;
        for (const auto& c : candidates(g)) {
            lbkit::api::ServerView sv;
            sv.name = c.name;
            sv.load = c.load;
            sv.ratio = c.ratio;
            sv.state = c.state;
            sv.pinned = c.pinned;
            sv.draining = c.draining;
            if (const ServerStatus* s = status(sv.name); s && s->last_report_ms >= 0)
                sv.age_ms = now_ms - s->last_report_ms;
            sv.ejected_by = ejected_by(sv.name, now_ms);
            gv.servers.push_back(std::move(sv));
        }
        v.groups.push_back(std::move(gv));
    }
    return v;
}

std::optional<std::string> Model::select(const Group& g, std::mt19937_64& rng)
{
    // lbstated is the only selector here and counts every choice it makes,
    // so its figures are never stale: the least loaded server, counting the
    // assignments since the last report, is the right choice (no herd).
    auto cands = candidates(g);
    for (auto& c : cands)
        c.load += c.inflight;
    int i = lbkit::select::choose(lbkit::select::Policy::least, cands, rng);
    if (i < 0)
        return std::nullopt;
    const std::string& name = g.members[static_cast<std::size_t>(i)].server;  // candidates are in member order
    if (auto it = servers_.find(name); it != servers_.end())
        ++it->second.assigned;
    return name;
}

}  // namespace lbstated
