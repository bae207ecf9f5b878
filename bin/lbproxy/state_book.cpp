#include "state_book.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <iterator>
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
        // The first state a process holds says nothing about what came up.
        if (live_) start_ramps(view_, view, now_ms);
        adopt(std::move(view), std::move(targets), now_ms);
        live_ = true;
        source_ = source;
        confirmed_ms_ = now_ms;
        return Outcome::accepted;
    }
    if (view.version == view_.version) {
        confirmed_ms_ = std::max(confirmed_ms_, now_ms);
        return Outcome::same;
    }
    return Outcome::older;
}

void StateBook::restore(api::StateView view, const std::string& source, int64_t confirmed_ms)
{
    auto targets = parse_targets(view);
    restarted_.insert(source);
    adopt(std::move(view), std::move(targets), confirmed_ms);
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

void StateBook::adopt(api::StateView view, std::vector<std::vector<lbkit::HostPort>> targets, int64_t now_ms)
{
    std::vector<std::vector<double>> shares = learn_shares(view, now_ms);
    view_ = std::move(view);
    targets_ = std::move(targets);
    shares_ = std::move(shares);
    std::fill(sent_.begin(), sent_.end(), 0);  // the new figures include what was sent before
    groups_.clear();
    servers_.clear();
    members_.clear();
    members_.reserve(view_.groups.size());
    for (std::size_t i = 0; i < view_.groups.size(); ++i) {
        groups_[lower(view_.groups[i].name)] = i;
        auto& ids = members_.emplace_back();
        ids.reserve(view_.groups[i].servers.size());
        for (const auto& s : view_.groups[i].servers) {
            servers_.try_emplace(s.name, i, ids.size());
            ids.push_back(intern(s.name));
        }
    }
}

// The adaptive policy's share factors for a new state: those learned so far
// (by group and server name), moved by the new load figures of each group
// whose figures changed. A state that repeats a group's figures (a
// transition elsewhere, a confirmation) teaches nothing new about it.
std::vector<std::vector<double>> StateBook::learn_shares(const api::StateView& next, int64_t now_ms) const
{
    std::vector<std::vector<double>> out;
    out.reserve(next.groups.size());
    for (const auto& g : next.groups) {
        std::size_t old = find(g.name);
        std::vector<sel::Candidate> cands;
        bool new_figures = old == no_group;
        for (const auto& s : g.servers) {
            sel::Candidate c;
            c.name = s.name;
            c.load = s.load;
            c.ratio = s.ratio;
            c.state = s.state;
            c.draining = s.draining;
            c.ramp = ramp(s.name, now_ms);  // a ramping server was sent less: its load says so
            if (old != no_group) {
                const auto& before = view_.groups[old].servers;
                auto it = std::find_if(before.begin(), before.end(), [&](const api::ServerView& b) { return b.name == s.name; });
                if (it == before.end() || it->load != s.load)
                    new_figures = true;
                if (it != before.end())
                    c.share = shares_[old][static_cast<std::size_t>(it - before.begin())];
            }
            cands.push_back(std::move(c));
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

void StateBook::mark_suspect(const std::string& server, int64_t until_ms)
{
    suspect_until_[server] = until_ms;
}

bool StateBook::suspect(const std::string& server, int64_t now_ms) const
{
    auto it = suspect_until_.find(server);
    return it != suspect_until_.end() && now_ms < it->second;
}

ServerId StateBook::intern(const std::string& server)
{
    auto [it, added] = ids_.try_emplace(server, ServerId(names_.size()));
    if (added) {
        names_.push_back(server);
        inflight_.push_back(0);
        sent_.push_back(0);
    }
    return it->second;
}

ServerId StateBook::find_server(const std::string& server) const
{
    auto it = ids_.find(server);
    return it == ids_.end() ? no_server : it->second;
}

void StateBook::request_started(ServerId server)
{
    if (server >= inflight_.size()) return;
    ++inflight_[server];
    ++sent_[server];
}

void StateBook::request_finished(ServerId server)
{
    // An extra finish never goes negative.
    if (server < inflight_.size() && inflight_[server] > 0) --inflight_[server];
}

int64_t StateBook::inflight(ServerId server) const
{
    return server < inflight_.size() ? inflight_[server] : 0;
}

int64_t StateBook::sent_since_figure(ServerId server) const
{
    return server < sent_.size() ? sent_[server] : 0;
}

// Slow start -----------------------------------------------------------------

void StateBook::ramp_from(const std::string& server, int64_t from_ms)
{
    if (passive_.slow_start.count() <= 0) return;
    int64_t& from = ramp_from_[server];
    from = std::max(from, from_ms);
}

void StateBook::start_ramps(const api::StateView& before, const api::StateView& after, int64_t now_ms)
{
    int64_t span = passive_.slow_start.count();
    if (span <= 0) return;
    for (auto it = ramp_from_.begin(); it != ramp_from_.end();)
        it = now_ms - it->second >= span ? ramp_from_.erase(it) : std::next(it);
    std::unordered_map<std::string, const api::ServerView*> was;
    for (const auto& g : before.groups)
        for (const auto& s : g.servers) was.emplace(s.name, &s);
    for (const auto& g : after.groups)
        for (const auto& s : g.servers) {
            if (s.state != api::State::up) continue;
            auto it = was.find(s.name);
            // New in the state: it was unknown to this proxy.
            bool came_up = it == was.end() || it->second->state != api::State::up;
            bool unpinned = it != was.end() && it->second->pinned && !s.pinned;
            if (came_up || unpinned) ramp_from(s.name, now_ms);
        }
}

double StateBook::ramp(const std::string& server, int64_t now_ms) const
{
    int64_t span = passive_.slow_start.count();
    if (span <= 0) return 1;
    auto it = ramp_from_.find(server);
    if (it == ramp_from_.end()) return 1;
    int64_t elapsed = now_ms - it->second;
    if (elapsed >= span) return 1;
    if (elapsed <= 0) return Passive::ramp_floor;
    return Passive::ramp_floor + (1 - Passive::ramp_floor) * static_cast<double>(elapsed) / static_cast<double>(span);
}

// Passive ejection -----------------------------------------------------------

bool StateBook::ejected(const std::string& server, int64_t now_ms) const
{
    auto it = health_.find(server);
    return it != health_.end() && now_ms < it->second.until_ms;
}

int StateBook::ejections(const std::string& server, int64_t now_ms) const
{
    auto it = health_.find(server);
    if (it == health_.end()) return 0;
    const Health& h = it->second;
    if (h.until_ms > 0 && now_ms - h.until_ms >= passive_.forget_after.count()) return 0;
    return h.ejections;
}

int StateBook::ejected_in_group(const api::GroupView& g, int64_t now_ms) const
{
    int n = 0;
    for (const auto& s : g.servers) n += ejected(s.name, now_ms) ? 1 : 0;
    return n;
}

std::string StateBook::ejection_limit(const std::string& server, int64_t now_ms) const
{
    for (const auto& g : view_.groups) {
        bool member = std::any_of(g.servers.begin(), g.servers.end(), [&](const auto& s) { return s.name == server; });
        if (!member) continue;
        auto n = static_cast<int64_t>(g.servers.size());
        int64_t allowed = std::max<int64_t>(1, n * passive_.max_percent / 100);
        if (ejected_in_group(g, now_ms) + 1 > allowed) return g.name;
    }
    return "";
}

void StateBook::server_ok(const std::string& server, int64_t now_ms)
{
    auto it = health_.find(server);
    if (it == health_.end() || now_ms < it->second.until_ms) return;
    it->second.failures = 0;
}

FailureOutcome StateBook::server_failed(const std::string& server, int64_t now_ms)
{
    FailureOutcome o;
    if (passive_.eject_after <= 0) return o;
    Health& h = health_[server];
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
    for (auto& [name, h] : health_)
        if (h.out && h.until_ms <= now_ms) {
            h.out = false;
            out.push_back(name);
        }
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<std::string> StateBook::ejected_servers(int64_t now_ms) const
{
    std::vector<std::string> out;
    for (const auto& [name, h] : health_)
        if (now_ms < h.until_ms) out.push_back(name);
    std::sort(out.begin(), out.end());
    return out;
}

int64_t StateBook::next_return_ms() const
{
    int64_t next = 0;
    for (const auto& [name, h] : health_)
        if (h.out && (next == 0 || h.until_ms < next)) next = h.until_ms;
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
    c.name = s.name;
    c.load = s.load;
    c.ratio = s.ratio;
    c.state = aged && !s.pinned ? api::State::unknown : s.state;
    c.pinned = s.pinned;
    c.draining = s.draining;
    c.suspect = suspect(s.name, now_ms);
    c.inflight = static_cast<double>(inflight(id));
    c.sent_since_figure = static_cast<double>(sent_since_figure(id));
    c.ramp = ramp(s.name, now_ms);
    c.ejected = ejected(s.name, now_ms);
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
    for (const auto& g : view_.groups) {
        nlohmann::json servers = nlohmann::json::array();
        const auto& ids = members_[static_cast<std::size_t>(&g - view_.groups.data())];
        for (const auto& s : g.servers) {
            ServerId id = ids[servers.size()];
            nlohmann::json j = api::to_json(s);
            j["state"] = api::to_string(aged && !s.pinned ? api::State::unknown : s.state);
            j["reported_state"] = api::to_string(s.state);
            j["suspect"] = suspect(s.name, now_ms);
            j["inflight"] = inflight(id);
            j["share"] = shares_[static_cast<std::size_t>(&g - view_.groups.data())][servers.size()];
            j["sent_since_state"] = sent_since_figure(id);
            bool out = ejected(s.name, now_ms);
            j["ejected"] = out;
            auto h = health_.find(s.name);
            j["ejected_until_ms"] = out ? h->second.until_ms : 0;
            j["ejections"] = ejections(s.name, now_ms);
            j["slow_start"] = ramp(s.name, now_ms);
            servers.push_back(std::move(j));
        }
        groups.push_back({{"name", g.name}, {"ejected", ejected_in_group(g, now_ms)}, {"servers", std::move(servers)}});
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
