#include "state_book.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <map>

#include "error.hpp"
#include "output.hpp"

namespace lbproxy {

namespace api = lbkit::api;
namespace sel = lbkit::select;

namespace {

bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }

// Host names compare in ASCII lower case (not the locale's).
std::string lower(std::string s)
{
    for (char& c : s)
        if (is_upper(c)) c = char(c + ('a' - 'A'));
    return s;
}

}  // namespace

const char* to_string(StateBook::Outcome o)
{
    switch (o) {
    case StateBook::Outcome::accepted: return "accepted";
    case StateBook::Outcome::same: return "same";
    case StateBook::Outcome::older: return "older";
    }
    return "?";
}

namespace {

// "up", "down pinned", "up draining": the parts of a server a person acts on.
std::string condition(const api::ServerView& s)
{
    std::string c = api::to_string(s.state);
    if (s.pinned) c += " pinned";
    if (s.draining) c += " draining";
    return c;
}

std::map<std::string, std::string> conditions(const api::StateView& v)
{
    std::map<std::string, std::string> out;
    for (const auto& g : v.groups) {
        out[g.name + " "] = "group";
        for (const auto& s : g.servers) out[g.name + " " + s.name] = condition(s);
    }
    return out;
}

}  // namespace

std::string describe_changes(const api::StateView& before, const api::StateView& after)
{
    auto a = conditions(before), b = conditions(after);
    // One entry per change, in the order found; a server that changes the
    // same way in several groups (a pin) is one entry naming its groups.
    std::vector<std::pair<std::string, std::vector<std::string>>> changes;
    auto add = [&changes](const std::string& key, const std::string& what) {
        auto space = key.find(' ');
        std::string group = key.substr(0, space), server = key.substr(space + 1);
        std::string entry = server.empty() ? "group " + group + " " + what : server + " " + what;
        auto same = [&entry](const auto& c) { return c.first == entry; };
        auto it = std::find_if(changes.begin(), changes.end(), same);
        if (it == changes.end()) it = changes.insert(changes.end(), {entry, {}});
        if (!server.empty()) it->second.push_back(group);
    };
    for (const auto& [key, cond] : b) {
        auto it = a.find(key);
        if (it == a.end()) add(key, key.back() == ' ' ? "new" : "new (" + cond + ")");
        else if (it->second != cond) add(key, it->second + "->" + cond);
    }
    for (const auto& [key, cond] : a)
        if (!b.count(key)) add(key, "removed");
    std::vector<std::string> out;
    for (const auto& [entry, groups] : changes)
        out.push_back(groups.size() > 1 ? entry + " (groups " + lbkit::output::join(groups) + ")" : entry);
    return lbkit::output::join(out);
}

namespace {

// Every server's address, parsed once per state rather than per request;
// throws BadInput for a state the book must refuse.
std::vector<std::vector<lbkit::HostPort>> parse_targets(const api::StateView& view)
{
    std::vector<std::vector<lbkit::HostPort>> out;
    out.reserve(view.groups.size());
    for (const auto& g : view.groups) {
        if (g.name.empty()) throw lbkit::BadInput("groups: a group has an empty name");
        auto& targets = out.emplace_back();
        targets.reserve(g.servers.size());
        for (const auto& s : g.servers) targets.push_back(lbkit::server_address(s.name));
    }
    return out;
}

}  // namespace

StateBook::Outcome StateBook::apply(api::StateView view, const std::string& source, int64_t now_ms)
{
    auto targets = parse_targets(view);
    bool reset = restarted_.erase(source) != 0 && source == source_;
    if (view.version > view_.version || reset) {
        Members members = intern_servers(view);
        // The first state a process holds says nothing about what came up.
        if (live_) start_ramps(view, members, now_ms);
        adopt(std::move(view), std::move(targets), std::move(members), now_ms);
        live_ = true;
        source_ = source;
        confirmed_ms_ = now_ms;
        update_behind(now_ms);
        return Outcome::accepted;
    }
    if (view.version == view_.version) {
        confirmed_ms_ = std::max(confirmed_ms_, now_ms);
        update_behind(now_ms);
        return Outcome::same;
    }
    update_behind(now_ms);
    return Outcome::older;
}

void StateBook::restore(api::StateView view, const std::string& source, int64_t confirmed_ms)
{
    auto targets = parse_targets(view);
    restarted_.insert(source);
    Members members = intern_servers(view);
    adopt(std::move(view), std::move(targets), std::move(members), confirmed_ms);
    live_ = false;
    source_ = source;
    confirmed_ms_ = confirmed_ms;
}

void StateBook::source_restarted(const std::string& source)
{
    restarted_.insert(source);
}

void StateBook::confirm(int64_t now_ms)
{
    confirmed_ms_ = std::max(confirmed_ms_, now_ms);
}

bool StateBook::would_take(const std::string& source, uint64_t version) const
{
    if (version > view_.version) return true;
    // After a restart of the held state's server, any other version is taken.
    return version != view_.version && source == source_ && restarted_.count(source) != 0;
}

bool StateBook::announced(const std::string& source, uint64_t version, int64_t now_ms)
{
    announced_[source] = version;
    update_behind(now_ms);
    return would_take(source, version);
}

void StateBook::silent(const std::string& source, int64_t now_ms)
{
    announced_.erase(source);
    update_behind(now_ms);
}

uint64_t StateBook::newest_announced() const
{
    uint64_t out = 0;
    for (const auto& [source, version] : announced_) out = std::max(out, version);
    return out;
}

std::map<std::string, uint64_t>::const_iterator StateBook::behind_what() const
{
    auto best = announced_.end();
    for (auto it = announced_.begin(); it != announced_.end(); ++it)
        if (would_take(it->first, it->second) && (best == announced_.end() || it->second > best->second)) best = it;
    return best;
}

void StateBook::update_behind(int64_t now_ms)
{
    if (behind_what() == announced_.end()) behind_since_ms_ = 0;
    else if (behind_since_ms_ == 0) behind_since_ms_ = now_ms;
}

bool StateBook::degraded(int64_t now_ms) const
{
    return behind_since_ms_ != 0 && now_ms - behind_since_ms_ > stale_after_.count();
}

std::string StateBook::degraded_reason(int64_t now_ms) const
{
    auto it = behind_what();
    if (it == announced_.end() || !degraded(now_ms)) return "";
    return "this proxy holds state version " + std::to_string(view_.version) + " while state server " + it->first +
           " announces version " + std::to_string(it->second) + ", and has been behind for " +
           lbkit::format_duration(lbkit::Millis{now_ms - behind_since_ms_}) + " (--stale-after " +
           lbkit::format_duration(stale_after_) + ")";
}

StateBook::Members StateBook::intern_servers(const api::StateView& view)
{
    Members out;
    out.reserve(view.groups.size());
    for (const auto& g : view.groups) {
        auto& ids = out.emplace_back();
        ids.reserve(g.servers.size());
        for (const auto& s : g.servers) ids.push_back(intern(s.name));
    }
    return out;
}

void StateBook::adopt(api::StateView view, std::vector<std::vector<lbkit::HostPort>> targets, Members members,
                      int64_t now_ms)
{
    std::vector<std::vector<double>> shares = learn_shares(view, members, now_ms);
    view_ = std::move(view);
    targets_ = std::move(targets);
    members_ = std::move(members);
    shares_ = std::move(shares);
    for (auto& f : facts_) f.sent = 0;  // the new figures include what was sent before
    groups_.clear();
    servers_.clear();
    for (std::size_t i = 0; i < view_.groups.size(); ++i) {
        groups_[lower(view_.groups[i].name)] = i;
        const auto& servers = view_.groups[i].servers;
        for (std::size_t j = 0; j < servers.size(); ++j) servers_.try_emplace(servers[j].name, i, j);
    }
}

// The adaptive policy's share factors for a new state: those learned so far
// (by group name and server id), moved by the new load figures of each group
// whose figures changed. A state that repeats a group's figures (a
// transition elsewhere, a confirmation) teaches nothing new about it.
std::vector<std::vector<double>> StateBook::learn_shares(const api::StateView& next, const Members& ids,
                                                         int64_t now_ms) const
{
    std::vector<std::vector<double>> out;
    out.reserve(next.groups.size());
    for (std::size_t gi = 0; gi < next.groups.size(); ++gi) {
        const api::GroupView& g = next.groups[gi];
        std::size_t old = find(g.name);
        std::vector<sel::Candidate> cands;
        bool new_figures = old == no_group;
        for (std::size_t j = 0; j < g.servers.size(); ++j) {
            const api::ServerView& s = g.servers[j];
            ServerId id = ids[gi][j];
            sel::Candidate c;
            c.name = server_name(id);
            c.load = s.load;
            c.ratio = s.ratio;
            c.state = s.state;
            c.draining = s.draining;
            c.ramp = ramp(id, now_ms);  // a ramping server was sent less: its load says so
            if (old != no_group) {
                const auto& before = members_[old];
                auto it = std::find(before.begin(), before.end(), id);
                auto k = static_cast<std::size_t>(it - before.begin());
                if (it == before.end() || view_.groups[old].servers[k].load != s.load)
                    new_figures = true;
                if (it != before.end())
                    c.share = shares_[old][k];
            }
            cands.push_back(c);
        }
        if (new_figures)
            sel::adapt(cands);
        auto& shares = out.emplace_back();
        for (const auto& c : cands) shares.push_back(c.share);
    }
    return out;
}

std::size_t StateBook::find(const std::string& host) const
{
    // Per request: most names come in lower case already, looked up as they are.
    bool folded = std::none_of(host.begin(), host.end(), is_upper);
    auto it = folded ? groups_.find(host) : groups_.find(lower(host));
    return it == groups_.end() ? no_group : it->second;
}

bool StateBook::is_group(const std::string& host) const
{
    return find(host) != no_group;
}

bool StateBook::stale(int64_t now_ms) const
{
    return now_ms - confirmed_ms_ > stale_after_.count();
}

ServerId StateBook::intern(std::string_view server)
{
    if (auto it = ids_.find(server); it != ids_.end()) return it->second;
    auto id = ServerId(names_.size());
    names_.emplace_back(server);
    ids_.emplace(names_.back(), id);
    facts_.emplace_back();
    return id;
}

ServerId StateBook::find_server(std::string_view server) const
{
    auto it = ids_.find(server);
    return it == ids_.end() ? no_server : it->second;
}

const StateBook::ServerFacts& StateBook::facts(ServerId server) const
{
    static const ServerFacts none;
    return server < facts_.size() ? facts_[server] : none;
}

void StateBook::mark_suspect(ServerId server, int64_t until_ms)
{
    if (server < facts_.size()) facts_[server].suspect_until = until_ms;
}

bool StateBook::suspect(ServerId server, int64_t now_ms) const
{
    return now_ms < facts(server).suspect_until;
}

void StateBook::request_started(ServerId server)
{
    if (server >= facts_.size()) return;
    ++facts_[server].inflight;
    ++facts_[server].sent;
}

void StateBook::request_finished(ServerId server)
{
    // An extra finish never goes negative.
    if (server < facts_.size() && facts_[server].inflight > 0) --facts_[server].inflight;
}

int64_t StateBook::inflight(ServerId server) const
{
    return facts(server).inflight;
}

int64_t StateBook::sent_since_figure(ServerId server) const
{
    return facts(server).sent;
}

// Slow start -----------------------------------------------------------------

void StateBook::ramp_from(ServerId server, int64_t from_ms)
{
    if (passive_.slow_start.count() <= 0 || server >= facts_.size()) return;
    int64_t& from = facts_[server].ramp_from;
    from = std::max(from, from_ms);
}

// after is the state being applied, ids its servers' ids; view_ and
// members_ still hold the state before it.
void StateBook::start_ramps(const api::StateView& after, const Members& ids, int64_t now_ms)
{
    int64_t span = passive_.slow_start.count();
    if (span <= 0) return;
    // A finished ramp is forgotten: the next one starts afresh.
    for (auto& f : facts_)
        if (now_ms - f.ramp_from >= span) f.ramp_from = 0;
    std::vector<const api::ServerView*> was(facts_.size(), nullptr);  // by id, its first place before
    for (std::size_t gi = 0; gi < view_.groups.size(); ++gi)
        for (std::size_t j = 0; j < view_.groups[gi].servers.size(); ++j) {
            const api::ServerView*& first = was[members_[gi][j]];
            if (!first) first = &view_.groups[gi].servers[j];
        }
    for (std::size_t gi = 0; gi < after.groups.size(); ++gi)
        for (std::size_t j = 0; j < after.groups[gi].servers.size(); ++j) {
            const api::ServerView& s = after.groups[gi].servers[j];
            if (s.state != api::State::up) continue;
            const api::ServerView* before = was[ids[gi][j]];
            // New in the state: it was unknown to this proxy.
            bool came_up = !before || before->state != api::State::up;
            bool unpinned = before && before->pinned && !s.pinned;
            if (came_up || unpinned) ramp_from(ids[gi][j], now_ms);
        }
}

double StateBook::ramp(ServerId server, int64_t now_ms) const
{
    int64_t span = passive_.slow_start.count();
    if (span <= 0) return 1;
    int64_t from = facts(server).ramp_from;
    if (from == 0) return 1;
    int64_t elapsed = now_ms - from;
    if (elapsed >= span) return 1;
    if (elapsed <= 0) return Passive::ramp_floor;
    return Passive::ramp_floor + (1 - Passive::ramp_floor) * static_cast<double>(elapsed) / static_cast<double>(span);
}

// Passive ejection -----------------------------------------------------------

bool StateBook::ejected(ServerId server, int64_t now_ms) const
{
    return now_ms < facts(server).health.until_ms;
}

int StateBook::ejections(ServerId server, int64_t now_ms) const
{
    const Health& h = facts(server).health;
    if (h.until_ms > 0 && now_ms - h.until_ms >= passive_.forget_after.count()) return 0;
    return h.ejections;
}

int StateBook::ejected_in_group(std::size_t group, int64_t now_ms) const
{
    if (group >= members_.size()) return 0;
    const auto& ids = members_[group];
    return static_cast<int>(std::count_if(ids.begin(), ids.end(), [&](ServerId id) { return ejected(id, now_ms); }));
}

std::string StateBook::ejection_limit(ServerId server, int64_t now_ms) const
{
    for (std::size_t gi = 0; gi < members_.size(); ++gi) {
        const auto& ids = members_[gi];
        if (std::find(ids.begin(), ids.end(), server) == ids.end()) continue;
        auto n = static_cast<int64_t>(ids.size());
        int64_t allowed = std::max<int64_t>(1, n * passive_.max_percent / 100);
        if (ejected_in_group(gi, now_ms) + 1 > allowed) return view_.groups[gi].name;
    }
    return "";
}

void StateBook::server_ok(ServerId server, int64_t now_ms)
{
    if (server >= facts_.size()) return;
    Health& h = facts_[server].health;
    if (now_ms < h.until_ms) return;
    h.failures = 0;
}

FailureOutcome StateBook::server_failed(ServerId server, int64_t now_ms)
{
    FailureOutcome o;
    if (passive_.eject_after <= 0 || server >= facts_.size()) return o;
    Health& h = facts_[server].health;
    if (now_ms < h.until_ms) {
        o.failures = h.failures;
        return o;
    }
    o.failures = ++h.failures;
    if (h.failures < passive_.eject_after) return o;
    o.group = ejection_limit(server, now_ms);
    if (!o.group.empty()) {
        o.kind = FailureOutcome::held;
        return o;
    }
    h.ejections = ejections(server, now_ms) + 1;
    int64_t base = passive_.ejection_time.count();
    int64_t span = std::min(base * h.ejections, std::max(passive_.max_ejection.count(), base));
    h.until_ms = now_ms + span;
    h.out = true;
    h.failures = 0;
    ramp_from(server, h.until_ms);
    o.kind = FailureOutcome::ejected;
    o.ejections = h.ejections;
    o.until_ms = h.until_ms;
    return o;
}

std::vector<std::string> StateBook::take_returned(int64_t now_ms)
{
    std::vector<std::string> out;
    for (std::size_t id = 0; id < facts_.size(); ++id) {
        Health& h = facts_[id].health;
        if (h.out && h.until_ms <= now_ms) {
            h.out = false;
            out.push_back(names_[id]);
        }
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<std::string> StateBook::ejected_servers(int64_t now_ms) const
{
    std::vector<std::string> out;
    for (std::size_t id = 0; id < facts_.size(); ++id)
        if (now_ms < facts_[id].health.until_ms) out.push_back(names_[id]);
    std::sort(out.begin(), out.end());
    return out;
}

int64_t StateBook::ejection_end_ms(ServerId server) const
{
    return facts(server).health.until_ms;
}

int64_t StateBook::next_return_ms() const
{
    int64_t next = 0;
    for (const auto& f : facts_)
        if (f.health.out && (next == 0 || f.health.until_ms < next)) next = f.health.until_ms;
    return next;
}

// Selection ------------------------------------------------------------------

std::vector<sel::Candidate> StateBook::candidates(const std::string& host, int64_t now_ms) const
{
    std::size_t gi = find(host);
    return gi == no_group ? std::vector<sel::Candidate>{} : candidates(view_.groups[gi], now_ms);
}

std::vector<sel::Candidate> StateBook::candidates(const api::GroupView& g, int64_t now_ms) const
{
    std::vector<sel::Candidate> out;
    bool aged = stale(now_ms);
    auto gi = static_cast<std::size_t>(&g - view_.groups.data());
    out.reserve(g.servers.size());
    for (std::size_t j = 0; j < g.servers.size(); ++j) out.push_back(candidate(gi, j, aged, now_ms));
    return out;
}

std::optional<sel::Candidate> StateBook::server_candidate(const std::string& server, int64_t now_ms) const
{
    auto it = servers_.find(server);
    if (it == servers_.end()) return std::nullopt;
    return candidate(it->second.first, it->second.second, stale(now_ms), now_ms);
}

sel::Candidate StateBook::candidate(std::size_t gi, std::size_t j, bool aged, int64_t now_ms) const
{
    const api::ServerView& s = view_.groups[gi].servers[j];
    ServerId id = members_[gi][j];
    sel::Candidate c;
    c.share = shares_[gi][j];
    c.name = server_name(id);
    c.load = s.load;
    c.ratio = s.ratio;
    c.state = aged && !s.pinned ? api::State::unknown : s.state;
    c.pinned = s.pinned;
    c.draining = s.draining;
    c.suspect = suspect(id, now_ms);
    c.inflight = static_cast<double>(inflight(id));
    c.sent_since_figure = static_cast<double>(sent_since_figure(id));
    c.ramp = ramp(id, now_ms);
    c.ejected = ejected(id, now_ms);
    return c;
}

Choice StateBook::choose(sel::Policy policy, const std::string& host, const ServerIds& exclude, int64_t now_ms,
                         std::mt19937_64& rng) const
{
    Choice choice;
    std::size_t gi = find(host);
    if (gi == no_group) {
        choice.error = "'" + host + "' is not a group in the state of version " + std::to_string(view_.version);
        return choice;
    }
    const api::GroupView& g = view_.groups[gi];
    choice.group = g.name;
    std::vector<sel::Candidate> all = candidates(g, now_ms);
    const auto& ids = members_[gi];
    auto tried = [&](std::size_t j) { return std::find(exclude.begin(), exclude.end(), ids[j]) != exclude.end(); };
    // The servers not tried yet for this request, and where each sits in the group.
    std::vector<sel::Candidate> pool;
    std::vector<std::size_t> at;
    pool.reserve(all.size());
    at.reserve(all.size());
    bool any_suspect = false;
    for (std::size_t j = 0; j < all.size(); ++j) {
        if (tried(j)) continue;
        any_suspect = any_suspect || all[j].suspect;
        pool.push_back(all[j]);
        at.push_back(j);
    }
    if (policy == sel::Policy::central) policy = sel::Policy::p2c;
    int i = sel::choose(policy, pool, rng);
    if (i < 0 && any_suspect) {
        // A suspect server is still better than none: its connect may work now.
        for (auto& c : pool) c.suspect = false;
        i = sel::choose(policy, pool, rng);
    }
    if (i < 0) {
        // Servers already tried for this request count as suspect in the sentence.
        for (std::size_t j = 0; j < all.size(); ++j)
            if (tried(j)) all[j].suspect = true;
        choice.error = sel::explain_none(g.name, all);
        return choice;
    }
    std::size_t j = at[static_cast<std::size_t>(i)];
    choice.id = ids[j];
    choice.server = g.servers[j].name;
    choice.target = targets_[gi][j];
    return choice;
}

nlohmann::json StateBook::to_json(int64_t now_ms) const
{
    bool aged = stale(now_ms);
    nlohmann::json groups = nlohmann::json::array();
    for (std::size_t gi = 0; gi < view_.groups.size(); ++gi) {
        const api::GroupView& g = view_.groups[gi];
        nlohmann::json servers = nlohmann::json::array();
        for (std::size_t k = 0; k < g.servers.size(); ++k) {
            const api::ServerView& s = g.servers[k];
            ServerId id = members_[gi][k];
            nlohmann::json j = api::to_json(s);
            j["state"] = api::to_string(aged && !s.pinned ? api::State::unknown : s.state);
            j["reported_state"] = api::to_string(s.state);
            j["suspect"] = suspect(id, now_ms);
            j["inflight"] = inflight(id);
            j["share"] = shares_[gi][k];
            j["sent_since_state"] = sent_since_figure(id);
            bool out = ejected(id, now_ms);
            j["ejected"] = out;
            j["ejected_until_ms"] = out ? facts(id).health.until_ms : 0;
            j["ejections"] = ejections(id, now_ms);
            j["slow_start"] = ramp(id, now_ms);
            servers.push_back(std::move(j));
        }
        groups.push_back({{"name", g.name}, {"ejected", ejected_in_group(gi, now_ms)}, {"servers", std::move(servers)}});
    }
    return {
        {"version", view_.version},
        {"source", source_},
        {"confirmed_ms", confirmed_ms_},
        {"age_ms", confirmed_ms_ > 0 ? now_ms - confirmed_ms_ : -1},
        {"stale", aged},
        {"groups", std::move(groups)},
    };
}

}  // namespace lbproxy
