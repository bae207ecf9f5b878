// The upstream stage of the proxy map (lbproxy(8), Upstream proxies): for
// the server a request goes to, the rule of the map in force that matches
// its host, and among the rule's proxies the one to go through, chosen by
// load and state with the servers' policy (lib/select: up preferred,
// unknown only when none is up; down, pinned down, draining, suspect and
// ejected never). A proxy written as a representative name stands for the
// servers of that group; a host:port proxy has the figures of the server of
// that name when some group has it (lbsniff watches it, lbctl pins it), and
// is otherwise unknown but usable.
//
// rule_proxies/try_order/explain_no_proxy are pure over the book, for the
// unit tests and GET /v1/proxymap; UpstreamProxies is what the request path
// asks.
#pragma once
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "metrics.hpp"
#include "proxy_map.hpp"
#include "http/stages.hpp"
#include "http/upstream_hop.hpp"
#include "select.hpp"
#include "state_book.hpp"

namespace lbproxy {

// The relay engine's upstream stage (lib/http/stages.hpp), which this file
// implements, and what it answers.
using lbkit::http::TriedProxies;
using lbkit::http::TriedProxy;
using lbkit::http::UpstreamHop;
using lbkit::http::UpstreamStage;

// One proxy of a rule as the choice sees it now.
struct ProxyCandidate {
    std::string group;             // the representative name it stands in, or ""
    lbkit::HostPort address;       // where to connect
    ServerId id = no_server;       // no_server until a state or a request names it
    bool figures = false;          // the state has a load figure for it
    lbkit::select::Candidate c;    // name ("host:port"), state, load, ratio, local facts
    std::string tried;             // how it failed for this request ("refused"), or ""
};

// The proxies of rule now, in table order, groups expanded to their servers.
// Their names are views of book's names and rule's entries: they are used
// while both stand as they were.
std::vector<ProxyCandidate> rule_proxies(const ProxyRule& rule, const StateBook& book, int64_t now_ms);

// Why a proxy cannot be chosen now ("down", "pinned", "draining",
// "suspect", "ejected", "ratio 0", or how it failed for this request), or
// "" when it can.
std::string unusable_reason(const ProxyCandidate& p);

// Indexes of proxies in the order they would be tried now: the usable ones
// by the policy's preference (up before unknown, then the lower relative
// load), then the unusable ones; ties keep the table's order.
std::vector<std::size_t> try_order(const std::vector<ProxyCandidate>& proxies);

// "no upstream proxy for *.example.com is usable (2 known: 1 down, 1 refused)".
std::string explain_no_proxy(const std::string& pattern, const std::vector<ProxyCandidate>& proxies);

// GET /v1/proxymap: the map in force with each rule's proxies in try_order.
nlohmann::json proxymap_json(const ProxyMap& map, const StateBook& book, int64_t now_ms);

class UpstreamProxies final : public UpstreamStage {
public:
    UpstreamProxies(StateBook& book, const ProxyMap& map, lbkit::Metrics& metrics, lbkit::select::Policy policy,
                    lbkit::Millis suspect_for);

    // The hop to the server at host (the real server chosen, or the host
    // as the client named it): DIRECT when no rule or a DIRECT rule
    // matches, else a proxy of the rule not in tried, or the 502 sentence.
    UpstreamHop hop(std::string_view host, const TriedProxies& tried) override;
    // The connect to hop's proxy failed (why: "refused", "timed out", ...):
    // it is avoided for --suspect-time.
    void connect_failed(const UpstreamHop& hop, const std::string& why) override;
    // hop carries a request (counted per proxy), until finished with its
    // proxy: the proxy's requests in flight, which p2c and adaptive weigh.
    void started(const UpstreamHop& hop) override;
    void finished(ServerId proxy) override;
    // The proxy failed the exchange after the connect (a CONNECT refused,
    // a reset): counted per proxy and kind.
    void failed(const UpstreamHop& hop, const char* kind) override;

private:
    lbkit::Series& requests(const std::string& proxy);

    StateBook& book_;
    const ProxyMap& map_;
    lbkit::Metrics& metrics_;
    lbkit::select::Policy policy_;
    lbkit::Millis suspect_for_;
    std::mt19937_64 rng_;
    std::unordered_map<std::string, lbkit::Series*> requests_;  // by proxy name
};

}  // namespace lbproxy
