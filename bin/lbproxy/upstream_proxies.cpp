#include "upstream_proxies.hpp"

#include <algorithm>

#include "log.hpp"

namespace lbproxy {

namespace api = lbkit::api;
namespace sel = lbkit::select;

namespace {

ProxyCandidate from_state(sel::Candidate c, const std::string& group, const StateBook& book)
{
    ProxyCandidate p;
    p.group = group;
    p.id = book.find_server(c.name);  // a server of the state: it has one
    p.address = lbkit::server_address(book.server_name(p.id));
    p.figures = true;
    p.c = std::move(c);
    return p;
}

// A host:port no group has: no figures, unknown, usable.
ProxyCandidate unwatched(const ProxyEntry& e, const StateBook& book, int64_t now_ms)
{
    ProxyCandidate p;
    p.address = e.address;
    p.c.name = e.name;
    p.id = book.find_server(p.c.name);
    p.c.state = api::State::unknown;
    p.c.suspect = book.suspect(p.id, now_ms);
    p.c.inflight = static_cast<double>(book.inflight(p.id));
    p.c.sent_since_figure = static_cast<double>(book.sent_since_figure(p.id));
    return p;
}

}  // namespace

std::vector<ProxyCandidate> rule_proxies(const ProxyRule& rule, const StateBook& book, int64_t now_ms)
{
    std::vector<ProxyCandidate> out;
    auto add = [&out](ProxyCandidate p) {
        // Listed twice (by name and through its group): tried once.
        bool seen = std::any_of(out.begin(), out.end(), [&p](const ProxyCandidate& q) { return q.c.name == p.c.name; });
        if (!seen) out.push_back(std::move(p));
    };
    for (const ProxyEntry& e : rule.proxies) {
        if (!e.port_given && book.is_group(e.text)) {
            for (auto& c : book.candidates(e.text, now_ms)) add(from_state(std::move(c), e.text, book));
            continue;
        }
        if (auto c = book.server_candidate(e.name, now_ms))
            add(from_state(std::move(*c), "", book));
        else
            add(unwatched(e, book, now_ms));
    }
    return out;
}

std::string unusable_reason(const ProxyCandidate& p)
{
    const sel::Candidate& c = p.c;
    if (!p.tried.empty()) return p.tried;
    if (c.state == api::State::down) return c.pinned ? "pinned" : "down";
    if (c.draining) return "draining";
    if (c.suspect) return "suspect";
    if (c.ejected) return "ejected";
    if (c.ratio <= 0) return "ratio 0";
    return "";
}

std::vector<std::size_t> try_order(const std::vector<ProxyCandidate>& proxies)
{
    std::vector<std::size_t> usable, unusable;
    for (std::size_t i = 0; i < proxies.size(); ++i)
        (unusable_reason(proxies[i]).empty() ? usable : unusable).push_back(i);
    auto rank = [&proxies](std::size_t i) {
        const sel::Candidate& c = proxies[i].c;
        return std::pair{c.state == api::State::up ? 0 : 1, proxies[i].figures ? sel::relative_load(c) : 0.0};
    };
    std::stable_sort(usable.begin(), usable.end(), [&rank](std::size_t a, std::size_t b) { return rank(a) < rank(b); });
    usable.insert(usable.end(), unusable.begin(), unusable.end());
    return usable;
}

std::string explain_no_proxy(const std::string& pattern, const std::vector<ProxyCandidate>& proxies)
{
    std::string head = "no upstream proxy for " + pattern + " is usable";
    if (proxies.empty()) return head + " (its groups have no servers)";
    std::vector<std::pair<std::string, int>> counts;  // in the order first seen
    for (const auto& p : proxies) {
        std::string why = unusable_reason(p);
        if (why.empty()) why = api::to_string(p.c.state);
        auto it = std::find_if(counts.begin(), counts.end(), [&why](const auto& c) { return c.first == why; });
        if (it == counts.end()) counts.emplace_back(why, 1);
        else ++it->second;
    }
    std::string detail;
    for (const auto& [why, n] : counts) detail += (detail.empty() ? "" : ", ") + std::to_string(n) + " " + why;
    return head + " (" + std::to_string(proxies.size()) + " known: " + detail + ")";
}

nlohmann::json proxymap_json(const ProxyMap& map, const StateBook& book, int64_t now_ms)
{
    nlohmann::json rules = nlohmann::json::array();
    for (const ProxyRule& r : map.rules) {
        nlohmann::json proxies = nlohmann::json::array();
        if (!r.direct) {
            auto all = rule_proxies(r, book, now_ms);
            for (std::size_t i : try_order(all)) {
                const ProxyCandidate& p = all[i];
                std::string why = unusable_reason(p);
                bool load_known = p.figures && p.c.state != api::State::unknown;
                proxies.push_back({{"name", p.c.name},
                                   {"group", p.group},
                                   {"state", api::to_string(p.c.state)},
                                   {"load", load_known ? nlohmann::json(p.c.load) : nlohmann::json()},
                                   {"usable", why.empty()},
                                   {"reason", why}});
            }
        }
        rules.push_back({{"line", r.line}, {"pattern", r.pattern}, {"direct", r.direct}, {"proxies", std::move(proxies)}});
    }
    nlohmann::json j{{"version", map.version}, {"origin", map.origin}, {"rules", std::move(rules)}};
    if (map.version != 0) j["source"] = map.source;
    return j;
}

UpstreamProxies::UpstreamProxies(StateBook& book, const ProxyMap& map, lbkit::Metrics& metrics, sel::Policy policy,
                                 lbkit::Millis suspect_for)
    : book_(book), map_(map), metrics_(metrics),
      policy_(policy == sel::Policy::central ? sel::Policy::p2c : policy),  // lbstated chooses servers, not proxies
      suspect_for_(suspect_for), rng_(std::random_device{}())
{
}

UpstreamHop UpstreamProxies::hop(std::string_view host, const TriedProxies& tried)
{
    UpstreamHop hop;
    const ProxyRule* rule = map_.match(host);
    if (!rule) return hop;
    hop.pattern = rule->pattern;
    if (rule->direct) return hop;
    int64_t now = unix_ms();
    std::vector<ProxyCandidate> all = rule_proxies(*rule, book_, now);
    std::vector<sel::Candidate> pool;
    std::vector<std::size_t> at;
    for (std::size_t i = 0; i < all.size(); ++i) {
        for (const TriedProxy& t : tried)
            if (t.id != no_server && t.id == all[i].id) all[i].tried = t.why;
        if (!all[i].tried.empty()) continue;
        pool.push_back(all[i].c);
        at.push_back(i);
    }
    int i = sel::choose(policy_, pool, rng_);
    if (i < 0) {
        hop.error = explain_no_proxy(rule->pattern, all);
        metrics_.counter("lbproxy_no_upstream_proxy_total",
                         "Requests answered 502 because no upstream proxy of their rule was usable",
                         {{"pattern", rule->pattern}}).inc();
        return hop;
    }
    const ProxyCandidate& p = all[at[static_cast<std::size_t>(i)]];
    hop.name = p.c.name;
    hop.via = p.address;
    hop.proxy = p.id != no_server ? p.id : book_.intern(p.c.name);
    return hop;
}

void UpstreamProxies::connect_failed(const UpstreamHop& hop, const std::string& why)
{
    if (!hop.via) return;
    int64_t now = unix_ms();
    if (!book_.suspect(hop.proxy, now))
        lbkit::log::info("upstream proxy ", hop.name, ": connect failed (", why, "); suspect for ",
                         suspect_for_.count(), " ms");
    book_.mark_suspect(hop.proxy, now + suspect_for_.count());
    failed(hop, "connect");
}

lbkit::Series& UpstreamProxies::requests(const std::string& proxy)
{
    auto it = requests_.find(proxy);
    if (it == requests_.end())
        it = requests_.emplace(proxy, &metrics_.counter("lbproxy_upstream_proxy_requests_total",
                                                        "Requests and tunnels carried, by upstream proxy (DIRECT: none)",
                                                        {{"proxy", proxy}})).first;
    return *it->second;
}

void UpstreamProxies::started(const UpstreamHop& hop)
{
    requests(hop.name).inc();
    if (hop.proxy != no_server) book_.request_started(hop.proxy);
}

void UpstreamProxies::finished(ServerId proxy)
{
    if (proxy != no_server) book_.request_finished(proxy);
}

void UpstreamProxies::failed(const UpstreamHop& hop, const char* kind)
{
    metrics_.counter("lbproxy_upstream_proxy_errors_total",
                     "Failures of upstream proxies, by proxy and kind (connect, refused, reset)",
                     {{"proxy", hop.name}, {"kind", kind}}).inc();
}

}  // namespace lbproxy
