// Upstream proxies (bin/lbproxy/upstream_proxies.*): a rule's proxies with
// the state's figures, the order they are tried in, the choice per request
// and the 502 sentence when none is usable.
#define BOOST_TEST_MODULE lbproxy_upstream_proxies
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <map>

#include "upstream_proxies.hpp"
#include "server_view.hpp"

using namespace lbproxy;
namespace api = lbkit::api;
using lbkit::select::Policy;

namespace {

// A state with the proxies' group and a group of web servers that is also
// used as a watched host:port proxy.
api::StateView state(uint64_t version, std::vector<api::ServerView> proxies)
{
    api::StateView v;
    v.version = version;
    v.groups.push_back({"proxies.test", std::move(proxies)});
    v.groups.push_back({"web.test", {server("10.0.0.9:3128", api::State::down, 5)}});
    return v;
}

ProxyMap map_of(const std::string& text)
{
    ProxyMap m;
    m.version = 7;
    m.origin = "push";
    m.source = "127.0.0.1:5000";
    m.rules = lbkit::client_tables::parse_proxymap(text, "proxymap");
    return m;
}

// The names of rule's proxies in the order they would be tried.
std::string order_of(const ProxyRule& rule, const StateBook& book, int64_t now)
{
    auto all = rule_proxies(rule, book, now);
    std::string out;
    for (std::size_t i : try_order(all)) {
        std::string why = unusable_reason(all[i]);
        if (!out.empty()) out += " ";
        out += all[i].c.name;
        if (!why.empty()) out += "(" + why + ")";
    }
    return out;
}

// UpstreamProxies reads the real clock: the book is fed at that time.
const int64_t t0 = lbkit::unix_ms();

struct Fixture {
    StateBook book{lbkit::Millis{3600'000'000}};
    lbkit::Metrics metrics;
};

}  // namespace

BOOST_FIXTURE_TEST_CASE(groups_expand_and_order_by_relative_load, Fixture)
{
    book.apply(state(1, {server("p1:3128", api::State::up, 30, 1), server("p2:3128", api::State::up, 40, 2),
                         server("p3:3128", api::State::down, 0), server("p4:3128", api::State::up, 0, 1, true)}),
               "s", t0);
    ProxyMap m = map_of("*.example.com proxies.test,solo.test:8080,10.0.0.9:3128\n");
    // p2 20 per ratio before p1 30; p4 is pinned up (usable); the unwatched
    // solo.test is unknown, after the up ones; down ones last, with a reason.
    BOOST_TEST(order_of(m.rules[0], book, t0) ==
               "p4:3128 p2:3128 p1:3128 solo.test:8080 p3:3128(down) 10.0.0.9:3128(down)");
    auto all = rule_proxies(m.rules[0], book, t0);
    BOOST_TEST(all[0].group == "proxies.test");
    BOOST_TEST(all[4].group == "");
    BOOST_TEST(!all[4].figures);
    BOOST_TEST(all[5].figures);  // a server of web.test: watched, so its figures count
}

BOOST_FIXTURE_TEST_CASE(pinned_down_suspect_and_draining_are_never_tried, Fixture)
{
    auto v = state(1, {server("p1:3128", api::State::down, 0, 1, true), server("p2:3128", api::State::up, 1),
                       server("p3:3128", api::State::up, 2)});
    v.groups[0].servers[2].draining = true;
    book.apply(v, "s", t0);
    book.mark_suspect(book.find_server("p2:3128"), t0 + 5000);
    ProxyMap m = map_of("* proxies.test\n");
    BOOST_TEST(order_of(m.rules[0], book, t0) == "p1:3128(pinned) p2:3128(suspect) p3:3128(draining)");
    UpstreamProxies up(book, m, metrics, Policy::adaptive, lbkit::Millis{5000});
    UpstreamHop h = up.hop("www.example.com", {});
    BOOST_TEST(!h.ok());
    BOOST_TEST(h.error == "no upstream proxy for * is usable (3 known: 1 pinned, 1 suspect, 1 draining)");
}

BOOST_FIXTURE_TEST_CASE(the_choice_follows_the_map_and_skips_proxies_tried, Fixture)
{
    book.apply(state(1, {server("p1:3128", api::State::up, 10), server("p2:3128", api::State::up, 10)}), "s", t0);
    ProxyMap m = map_of("intra.test DIRECT\n*.example.com proxies.test\n");
    UpstreamProxies up(book, m, metrics, Policy::least, lbkit::Millis{5000});
    UpstreamHop direct = up.hop("intra.test", {});
    BOOST_TEST(direct.ok());
    BOOST_TEST(direct.name == "DIRECT");
    BOOST_TEST(!direct.via);
    BOOST_TEST(direct.pattern == "intra.test");
    BOOST_TEST(up.hop("elsewhere.org", {}).name == "DIRECT");

    std::map<std::string, int> seen;
    for (int i = 0; i < 200; ++i) seen[up.hop("WWW.Example.com", {}).name]++;
    BOOST_TEST(seen["p1:3128"] > 50);  // equal loads: both, by least's random tie break
    BOOST_TEST(seen["p2:3128"] > 50);

    UpstreamHop first = up.hop("www.example.com", {});
    BOOST_REQUIRE(first.via.has_value());
    BOOST_TEST(first.via->str() == first.name);
    BOOST_TEST(first.proxy == book.find_server(first.name));
    // It refused: the next choice is the other one, then none is left.
    TriedProxies tried{{first.proxy, "refused"}};
    UpstreamHop second = up.hop("www.example.com", tried);
    BOOST_TEST(second.ok());
    BOOST_TEST(second.name != first.name);
    tried.push_back({second.proxy, "refused"});
    UpstreamHop none = up.hop("www.example.com", tried);
    BOOST_TEST(none.error == "no upstream proxy for *.example.com is usable (2 known: 2 refused)");
}

BOOST_FIXTURE_TEST_CASE(up_preferred_unknown_only_when_none_is_up, Fixture)
{
    book.apply(state(1, {server("p1:3128", api::State::up, 90)}), "s", t0);
    ProxyMap m = map_of("* solo.test:3128,proxies.test\n");
    UpstreamProxies up(book, m, metrics, Policy::adaptive, lbkit::Millis{5000});
    for (int i = 0; i < 20; ++i) BOOST_TEST(up.hop("a.test", {}).name == "p1:3128");
    UpstreamHop h = up.hop("a.test", {});
    UpstreamHop next = up.hop("a.test", {{h.proxy, "refused"}});
    BOOST_TEST(next.name == "solo.test:3128");  // unknown, unwatched: usable when no proxy is up
    BOOST_TEST(!next.via->host.empty());
    // A refused connect makes it suspect for a while: then nothing is left.
    up.connect_failed(h, "refused");
    up.connect_failed(next, "refused");
    BOOST_TEST(up.hop("a.test", {}).error == "no upstream proxy for * is usable (2 known: 2 suspect)");
}

BOOST_FIXTURE_TEST_CASE(load_shares_follow_the_figures, Fixture)
{
    // p1 reports three times p2's load: least sends everything to p2.
    book.apply(state(1, {server("p1:3128", api::State::up, 30), server("p2:3128", api::State::up, 10)}), "s", t0);
    ProxyMap m = map_of("* proxies.test\n");
    UpstreamProxies up(book, m, metrics, Policy::least, lbkit::Millis{5000});
    for (int i = 0; i < 50; ++i) BOOST_TEST(up.hop("x.test", {}).name == "p2:3128");
}

BOOST_FIXTURE_TEST_CASE(in_flight_requests_count_for_the_proxy, Fixture)
{
    book.apply(state(1, {server("p1:3128", api::State::up, 0)}), "s", t0);
    ProxyMap m = map_of("* proxies.test\n");
    UpstreamProxies up(book, m, metrics, Policy::p2c, lbkit::Millis{5000});
    UpstreamHop h = up.hop("x.test", {});
    up.started(h);
    BOOST_TEST(book.inflight(h.proxy) == 1);
    up.finished(h.proxy);
    BOOST_TEST(book.inflight(h.proxy) == 0);
    up.failed(h, "refused");
    std::string text = metrics.render();
    BOOST_TEST(text.find("lbproxy_upstream_proxy_requests_total{proxy=\"p1:3128\"} 1") != std::string::npos);
    BOOST_TEST(text.find("lbproxy_upstream_proxy_errors_total{proxy=\"p1:3128\",kind=\"refused\"} 1") !=
               std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(get_proxymap_shape, Fixture)
{
    book.apply(state(1, {server("p1:3128", api::State::up, 12.5), server("p2:3128", api::State::down, 3)}), "s", t0);
    ProxyMap m = map_of("*.example.com proxies.test,solo.test\n* DIRECT\n");
    auto j = proxymap_json(m, book, t0);
    BOOST_TEST(j["version"] == 7);
    BOOST_TEST(j["origin"] == "push");
    BOOST_TEST(j["source"] == "127.0.0.1:5000");
    const auto& r = j["rules"][0];
    BOOST_TEST(r["line"] == 1);
    BOOST_TEST(r["pattern"] == "*.example.com");
    BOOST_TEST(r["direct"] == false);
    BOOST_TEST(r["proxies"].dump() ==
               R"([{"group":"proxies.test","load":12.5,"name":"p1:3128","reason":"","state":"up","usable":true},)"
               R"({"group":"","load":null,"name":"solo.test:3128","reason":"","state":"unknown","usable":true},)"
               R"({"group":"proxies.test","load":3.0,"name":"p2:3128","reason":"down","state":"down","usable":false}])");
    BOOST_TEST(j["rules"][1].dump() == R"({"direct":true,"line":2,"pattern":"*","proxies":[]})");
    BOOST_TEST(proxymap_json(ProxyMap{}, book, t0).dump() == R"({"origin":"none","rules":[],"version":0})");
}
