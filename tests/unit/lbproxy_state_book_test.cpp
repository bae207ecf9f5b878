// StateBook: versions, aging to unknown, suspect and exclusion, in-flight.
#define BOOST_TEST_MODULE lbproxy_state_book
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <map>

#include "error.hpp"
#include "state_book.hpp"
#include "server_view.hpp"

using namespace lbproxy;
namespace api = lbkit::api;
using lbkit::Millis;
using lbkit::select::Policy;

namespace {

api::StateView state(uint64_t version, std::vector<api::ServerView> servers, const std::string& group = "host1.a.co.jp")
{
    api::StateView v;
    v.version = version;
    v.groups.push_back({group, std::move(servers)});
    return v;
}

// The ids of the named servers, as a request that tried them holds them.
ServerIds ids(const StateBook& b, const std::vector<std::string>& names)
{
    ServerIds out;
    for (const auto& n : names) out.push_back(b.find_server(n));
    return out;
}

// How often each server is chosen in n tries.
std::map<std::string, int> tally(const StateBook& b, Policy p, int64_t now, int n = 300,
                                 const std::vector<std::string>& exclude = {})
{
    std::mt19937_64 rng(42);
    std::map<std::string, int> out;
    for (int i = 0; i < n; ++i) {
        Choice c = b.choose(p, "host1.a.co.jp", ids(b, exclude), now, rng);
        out[c.ok() ? c.server : "ERROR: " + c.error]++;
    }
    return out;
}

constexpr int64_t t0 = 1'700'000'000'000;

}  // namespace

BOOST_AUTO_TEST_CASE(newest_version_wins_and_older_is_ignored)
{
    StateBook b(Millis{30000});
    BOOST_TEST((b.apply(state(5, {server("a:80", api::State::up)}), "s1:7400", t0) == StateBook::Outcome::accepted));
    BOOST_TEST(b.version() == 5u);
    BOOST_TEST((b.apply(state(4, {server("old:80", api::State::up)}), "s2:7400", t0) == StateBook::Outcome::older));
    BOOST_TEST(b.view().groups[0].servers[0].name == "a:80");
    BOOST_TEST((b.apply(state(9, {server("b:80", api::State::up)}), "s2:7400", t0) == StateBook::Outcome::accepted));
    BOOST_TEST(b.source() == "s2:7400");
    BOOST_TEST(b.view().groups[0].servers[0].name == "b:80");
    // Another server still at an older version does not take over.
    BOOST_TEST((b.apply(state(6, {server("a:80", api::State::up)}), "s1:7400", t0) == StateBook::Outcome::older));
    BOOST_TEST(b.version() == 9u);
}

BOOST_AUTO_TEST_CASE(same_version_confirms_without_replacing)
{
    StateBook b(Millis{1000});
    b.apply(state(3, {server("a:80", api::State::up)}), "s1:7400", t0);
    BOOST_TEST(b.stale(t0 + 1500));
    BOOST_TEST((b.apply(state(3, {server("x:80", api::State::up)}), "s1:7400", t0 + 1400) == StateBook::Outcome::same));
    BOOST_TEST(!b.stale(t0 + 1500));
    BOOST_TEST(b.view().groups[0].servers[0].name == "a:80");
}

BOOST_AUTO_TEST_CASE(a_late_older_answer_never_rolls_back)
{
    StateBook b(Millis{30000});
    b.apply(state(6, {server("new:80", api::State::up)}), "s1:7400", t0);
    // The answer to an earlier GET /v1/state arrives after a newer push.
    BOOST_TEST((b.apply(state(5, {server("old:80", api::State::up)}), "s1:7400", t0) == StateBook::Outcome::older));
    BOOST_TEST(b.view().groups[0].servers[0].name == "new:80");
}

BOOST_AUTO_TEST_CASE(a_restarted_source_is_followed_once_whatever_its_version)
{
    StateBook b(Millis{30000});
    b.apply(state(100, {server("a:80", api::State::up)}), "s1:7400", t0);
    // s1 restarted and lost its database: it counts from 1 again.
    b.source_restarted("s1:7400");
    BOOST_TEST((b.apply(state(1, {server("b:80", api::State::up)}), "s1:7400", t0) == StateBook::Outcome::accepted));
    BOOST_TEST(b.version() == 1u);
    BOOST_TEST((b.apply(state(0, {server("c:80", api::State::up)}), "s1:7400", t0) == StateBook::Outcome::older));
    // A restart of another server does not let it roll the state back.
    b.apply(state(50, {server("c:80", api::State::up)}), "s1:7400", t0);
    b.source_restarted("s2:7400");
    BOOST_TEST((b.apply(state(40, {server("d:80", api::State::up)}), "s2:7400", t0) == StateBook::Outcome::older));
    BOOST_TEST(b.version() == 50u);
}

BOOST_AUTO_TEST_CASE(restored_state_yields_to_its_source_once)
{
    StateBook b(Millis{30000});
    b.restore(state(70, {server("a:80", api::State::up)}), "s1:7400", t0);
    BOOST_TEST((b.apply(state(2, {server("c:80", api::State::up)}), "s9:7400", t0) == StateBook::Outcome::older));
    BOOST_TEST((b.apply(state(3, {server("b:80", api::State::up)}), "s1:7400", t0) == StateBook::Outcome::accepted));
    BOOST_TEST((b.apply(state(2, {server("x:80", api::State::up)}), "s1:7400", t0) == StateBook::Outcome::older));
    BOOST_TEST(b.version() == 3u);
}

BOOST_AUTO_TEST_CASE(bad_server_name_is_refused_and_state_kept)
{
    StateBook b(Millis{30000});
    b.apply(state(1, {server("a:80", api::State::up)}), "s1:7400", t0);
    BOOST_CHECK_THROW(b.apply(state(2, {server("a:99999", api::State::up)}), "s1:7400", t0), lbkit::BadInput);
    BOOST_TEST(b.version() == 1u);
    BOOST_TEST(b.is_group("host1.a.co.jp"));
}

BOOST_AUTO_TEST_CASE(bad_restored_state_is_refused_and_book_kept)
{
    StateBook b(Millis{30000});
    b.apply(state(1, {server("a:80", api::State::up)}), "s1:7400", t0);
    BOOST_CHECK_THROW(b.restore(state(9, {server("[::1:80", api::State::up)}), "s1:7400", t0), lbkit::BadInput);
    BOOST_CHECK_THROW(b.restore(state(9, {server("a:80", api::State::up)}, ""), "s1:7400", t0), lbkit::BadInput);
    BOOST_TEST(b.version() == 1u);
    std::mt19937_64 rng(1);
    Choice c = b.choose(Policy::p2c, "host1.a.co.jp", {}, t0, rng);
    BOOST_TEST(c.server == "a:80");
    BOOST_TEST(c.target.host == "a");
}

BOOST_AUTO_TEST_CASE(groups_are_found_without_regard_to_case)
{
    StateBook b(Millis{30000});
    b.apply(state(1, {server("a:80", api::State::up)}, "Host1.A.co.jp"), "s1:7400", t0);
    BOOST_TEST(b.is_group("host1.a.co.jp"));
    BOOST_TEST(b.is_group("HOST1.A.CO.JP"));
    BOOST_TEST(!b.is_group("host2.a.co.jp"));
    std::mt19937_64 rng(1);
    Choice c = b.choose(Policy::p2c, "HOST1.a.co.jp", {}, t0, rng);
    BOOST_TEST(c.ok());
    BOOST_TEST(c.group == "Host1.A.co.jp");
    Choice none = b.choose(Policy::p2c, "other.example", {}, t0, rng);
    BOOST_TEST(!none.ok());
}

BOOST_AUTO_TEST_CASE(choice_resolves_target_from_server_name)
{
    StateBook b(Millis{30000});
    b.apply(state(1, {server("web1.example:8080", api::State::up)}), "s", t0);
    std::mt19937_64 rng(1);
    Choice c = b.choose(Policy::least, "host1.a.co.jp", {}, t0, rng);
    BOOST_TEST(c.target.host == "web1.example");
    BOOST_TEST(c.target.port == 8080);
    b.apply(state(2, {server("web2.example", api::State::up)}), "s", t0);
    c = b.choose(Policy::least, "host1.a.co.jp", {}, t0, rng);
    BOOST_TEST(c.server == "web2.example");
    BOOST_TEST(c.target.port == 80);
}

BOOST_AUTO_TEST_CASE(target_belongs_to_the_chosen_server_past_excluded_ones)
{
    StateBook b(Millis{30000});
    b.apply(state(1, {server("w1:8001", api::State::up), server("w2:8002", api::State::up),
                      server("w3:8003", api::State::down), server("w4:8004", api::State::up)}),
            "s", t0);
    std::mt19937_64 rng(7);
    for (int i = 0; i < 50; ++i) {
        Choice c = b.choose(Policy::p2c, "host1.a.co.jp", ids(b, {"w1:8001"}), t0, rng);
        BOOST_TEST_REQUIRE(c.ok());
        BOOST_TEST(c.server != "w1:8001");
        BOOST_TEST(c.server == c.target.host + ":" + std::to_string(c.target.port));
    }
}

BOOST_AUTO_TEST_CASE(stale_state_makes_servers_unknown_but_keeps_pins)
{
    StateBook b(Millis{2000});
    b.apply(state(1, {server("up:80", api::State::up), server("down:80", api::State::down),
                      server("pinned:80", api::State::down, 0, 1, true)}),
            "s", t0);
    // Fresh: only the up server.
    auto fresh = tally(b, Policy::p2c, t0 + 1000);
    BOOST_TEST(fresh.size() == 1u);
    BOOST_TEST(fresh["up:80"] == 300);
    // Stale: up and down are both unknown now, used since nothing is up; the pin stays down.
    auto cands = b.candidates("host1.a.co.jp", t0 + 2001);
    BOOST_TEST((cands[0].state == api::State::unknown));
    BOOST_TEST((cands[1].state == api::State::unknown));
    BOOST_TEST((cands[2].state == api::State::down));
    auto stale = tally(b, Policy::p2c, t0 + 2001);
    BOOST_TEST(stale["up:80"] > 0);
    BOOST_TEST(stale["down:80"] > 0);
    BOOST_TEST(stale.count("pinned:80") == 0u);
    // A confirmation makes the state fresh again.
    b.confirm(t0 + 3000);
    BOOST_TEST(!b.stale(t0 + 3000));
    BOOST_TEST(tally(b, Policy::p2c, t0 + 3000)["up:80"] == 300);
}

BOOST_AUTO_TEST_CASE(suspect_servers_are_avoided_while_another_is_eligible)
{
    StateBook b(Millis{30000});
    b.apply(state(1, {server("a:80", api::State::up), server("b:80", api::State::up)}), "s", t0);
    b.mark_suspect(b.find_server("a:80"), t0 + 5000);
    BOOST_TEST(b.suspect(b.find_server("a:80"), t0 + 4999));
    auto during = tally(b, Policy::p2c, t0 + 100);
    BOOST_TEST(during["b:80"] == 300);
    auto after = tally(b, Policy::p2c, t0 + 5000);
    BOOST_TEST(after["a:80"] > 0);
    // Both suspect: a suspect server is better than none.
    b.mark_suspect(b.find_server("b:80"), t0 + 5000);
    auto both = tally(b, Policy::p2c, t0 + 100);
    BOOST_TEST(both["a:80"] + both["b:80"] == 300);
}

BOOST_AUTO_TEST_CASE(excluded_servers_are_never_chosen)
{
    StateBook b(Millis{30000});
    b.apply(state(1, {server("a:80", api::State::up), server("b:80", api::State::up)}), "s", t0);
    auto t = tally(b, Policy::least, t0, 100, {"a:80"});
    BOOST_TEST(t["b:80"] == 100);
    std::mt19937_64 rng(3);
    Choice c = b.choose(Policy::p2c, "host1.a.co.jp", ids(b, {"a:80", "b:80"}), t0, rng);
    BOOST_TEST(!c.ok());
    BOOST_TEST(c.error.find("host1.a.co.jp") != std::string::npos);
    BOOST_TEST(c.group == "host1.a.co.jp");
}

BOOST_AUTO_TEST_CASE(no_server_up_explains_why)
{
    StateBook b(Millis{30000});
    b.apply(state(1, {server("a:80", api::State::down), server("b:80", api::State::down, 0, 1, true)}), "s", t0);
    std::mt19937_64 rng(3);
    Choice c = b.choose(Policy::p2c, "host1.a.co.jp", {}, t0, rng);
    BOOST_TEST(!c.ok());
    BOOST_TEST(c.error.find("host1.a.co.jp") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(least_follows_load_over_ratio_and_central_falls_back_to_p2c)
{
    StateBook b(Millis{30000});
    b.apply(state(1, {server("a:80", api::State::up, 20, 2), server("b:80", api::State::up, 15, 1),
                      server("c:80", api::State::down, 0, 2)}),
            "s", t0);
    BOOST_TEST(tally(b, Policy::least, t0)["a:80"] == 300);  // 10 < 15
    auto central = tally(b, Policy::central, t0);
    BOOST_TEST(central.count("c:80") == 0u);
    BOOST_TEST(central["a:80"] + central["b:80"] == 300);
}

BOOST_AUTO_TEST_CASE(inflight_counts_started_minus_finished)
{
    StateBook b(Millis{30000});
    b.request_started(b.intern("a:80"));
    b.request_started(b.intern("a:80"));
    b.request_finished(b.intern("a:80"));
    BOOST_TEST(b.inflight(b.find_server("a:80")) == 1);
    b.request_finished(b.intern("a:80"));
    b.request_finished(b.intern("a:80"));  // an extra finish never goes negative
    BOOST_TEST(b.inflight(b.find_server("a:80")) == 0);
    b.apply(state(1, {server("a:80", api::State::up)}), "s", t0);
    b.request_started(b.intern("a:80"));
    BOOST_TEST(b.candidates("host1.a.co.jp", t0)[0].inflight == 1.0);
}

// A request holds its server's id across a state change: the new state may
// drop the server, put another where it was, or bring it back elsewhere,
// and the id still names the same server and finishes the right request.
BOOST_AUTO_TEST_CASE(a_state_change_between_choice_and_finish_keeps_the_server)
{
    StateBook b(Millis{30000});
    b.apply(state(1, {server("a:80", api::State::up)}), "s", t0);
    std::mt19937_64 rng(1);
    Choice c = b.choose(Policy::p2c, "host1.a.co.jp", {}, t0, rng);
    BOOST_TEST_REQUIRE(c.ok());
    BOOST_TEST(b.server_name(c.id) == "a:80");
    b.request_started(c.id);
    // Version 2 drops a:80 and puts n:80 where it was.
    b.apply(state(2, {server("n:80", api::State::up)}), "s", t0 + 1);
    BOOST_TEST(b.server_name(c.id) == "a:80");
    BOOST_TEST(b.inflight(c.id) == 1);
    BOOST_TEST(b.candidates("host1.a.co.jp", t0 + 1)[0].inflight == 0.0);
    Choice next = b.choose(Policy::p2c, "host1.a.co.jp", {c.id}, t0 + 1, rng);
    BOOST_TEST_REQUIRE(next.ok());
    BOOST_TEST(next.server == "n:80");
    BOOST_TEST(next.id != c.id);
    b.request_finished(c.id);
    BOOST_TEST(b.inflight(c.id) == 0);
    BOOST_TEST(b.inflight(next.id) == 0);
    // Version 3 brings a:80 back behind n:80: the same id, in flight again,
    // and still excluded for a request that tried it.
    b.request_started(c.id);
    b.apply(state(3, {server("n:80", api::State::up), server("a:80", api::State::up)}), "s", t0 + 2);
    BOOST_TEST(b.find_server("a:80") == c.id);
    BOOST_TEST(b.candidates("host1.a.co.jp", t0 + 2)[1].inflight == 1.0);
    for (int i = 0; i < 20; ++i)
        BOOST_TEST(b.choose(Policy::p2c, "host1.a.co.jp", {c.id}, t0 + 2, rng).server == "n:80");
    // An id no state gave is ignored.
    b.request_started(no_server);
    b.request_finished(no_server);
    BOOST_TEST(b.inflight(no_server) == 0);
}

BOOST_AUTO_TEST_CASE(json_shows_effective_state_and_local_facts)
{
    StateBook b(Millis{1000});
    b.apply(state(7, {server("a:80", api::State::up)}), "s1:7400", t0);
    b.mark_suspect(b.find_server("a:80"), t0 + 10000);
    b.request_started(b.intern("a:80"));
    auto j = b.to_json(t0 + 500);
    BOOST_TEST(j["version"].get<uint64_t>() == 7u);
    BOOST_TEST(j["source"].get<std::string>() == "s1:7400");
    BOOST_TEST(j["stale"].get<bool>() == false);
    auto s = j["groups"][0]["servers"][0];
    BOOST_TEST(s["state"].get<std::string>() == "up");
    BOOST_TEST(s["suspect"].get<bool>() == true);
    BOOST_TEST(s["inflight"].get<int64_t>() == 1);
    auto later = b.to_json(t0 + 1500);
    BOOST_TEST(later["stale"].get<bool>() == true);
    BOOST_TEST(later["groups"][0]["servers"][0]["state"].get<std::string>() == "unknown");
    BOOST_TEST(later["groups"][0]["servers"][0]["reported_state"].get<std::string>() == "up");
}

BOOST_AUTO_TEST_CASE(changes_are_described_for_the_log)
{
    auto a = state(1, {server("a:80", api::State::up, 1), server("b:80", api::State::up)});
    auto loads = state(2, {server("a:80", api::State::up, 9), server("b:80", api::State::up)});
    BOOST_TEST(describe_changes(a, loads) == "");
    auto b = state(3, {server("a:80", api::State::down, 0, 1, true), server("c:80", api::State::unknown)});
    BOOST_TEST(describe_changes(a, b) == "a:80 up->down pinned, c:80 new (unknown), b:80 removed");
    api::StateView empty;
    BOOST_TEST(describe_changes(empty, a) == "group host1.a.co.jp new, a:80 new (up), b:80 new (up)");

    // A pin of a server that two groups share: one entry that names both.
    auto two = state(4, {server("a:80", api::State::up)}, "www.a.co.jp");
    two.groups.push_back({"img.a.co.jp", {server("a:80", api::State::up), server("b:80", api::State::up)}});
    auto pinned = two;
    pinned.groups[0].servers[0] = server("a:80", api::State::down, 0, 1, true);
    pinned.groups[1].servers[0] = server("a:80", api::State::down, 0, 1, true);
    BOOST_TEST(describe_changes(two, pinned) == "a:80 up->down pinned (groups img.a.co.jp, www.a.co.jp)");
}

// Local facts of the selection: requests sent since the state, slow start,
// passive ejection.
namespace {

const std::string G = "host1.a.co.jp";

lbkit::select::Candidate cand(const StateBook& b, const std::string& name, int64_t now)
{
    for (const auto& c : b.candidates(G, now))
        if (c.name == name) return c;
    BOOST_FAIL("no candidate " + name);
    return {};
}

std::vector<api::ServerView> up3()
{
    return {server("a:80", api::State::up), server("b:80", api::State::up), server("c:80", api::State::up)};
}

Passive passive(int eject_after, int max_percent = 50, int64_t slow_ms = 10000)
{
    Passive p;
    p.eject_after = eject_after;
    p.max_percent = max_percent;
    p.slow_start = Millis{slow_ms};
    return p;
}

void fail(StateBook& b, const std::string& s, int n, int64_t now)
{
    for (int i = 0; i < n; ++i) b.server_failed(b.find_server(s), now);
}

}  // namespace

BOOST_AUTO_TEST_CASE(sent_since_figure_counts_until_a_new_state_is_applied)
{
    StateBook b(Millis{30000});
    b.apply(state(1, up3()), "s1:7400", t0);
    for (int i = 0; i < 3; ++i) b.request_started(b.intern("a:80"));
    b.request_started(b.intern("b:80"));
    b.request_finished(b.intern("a:80"));  // answered, but still not in the figure
    BOOST_TEST(cand(b, "a:80", t0).sent_since_figure == 3.0);
    BOOST_TEST(cand(b, "b:80", t0).sent_since_figure == 1.0);
    BOOST_TEST(cand(b, "c:80", t0).sent_since_figure == 0.0);
    // The same version again is a confirmation, not new figures.
    b.apply(state(1, up3()), "s1:7400", t0 + 100);
    BOOST_TEST(cand(b, "a:80", t0).sent_since_figure == 3.0);
    b.apply(state(2, up3()), "s1:7400", t0 + 200);
    BOOST_TEST(cand(b, "a:80", t0).sent_since_figure == 0.0);
    BOOST_TEST(cand(b, "b:80", t0).sent_since_figure == 0.0);
    BOOST_TEST(b.to_json(t0)["groups"][0]["servers"][0]["sent_since_state"] == 0);
}

BOOST_AUTO_TEST_CASE(slow_start_ramps_a_server_that_came_up_linearly)
{
    StateBook b(Millis{30000}, passive(5));
    b.apply(state(1, {server("a:80", api::State::up), server("b:80", api::State::down)}), "s1:7400", t0);
    BOOST_TEST(cand(b, "a:80", t0).ramp == 1.0);
    b.apply(state(2, {server("a:80", api::State::up), server("b:80", api::State::up)}), "s1:7400", t0 + 1000);
    BOOST_TEST(cand(b, "a:80", t0 + 1000).ramp == 1.0);
    BOOST_TEST(cand(b, "b:80", t0 + 1000).ramp == 0.1, boost::test_tools::tolerance(1e-9));
    BOOST_TEST(cand(b, "b:80", t0 + 6000).ramp == 0.55, boost::test_tools::tolerance(1e-9));
    BOOST_TEST(cand(b, "b:80", t0 + 9000).ramp == 0.82, boost::test_tools::tolerance(1e-9));
    BOOST_TEST(cand(b, "b:80", t0 + 11000).ramp == 1.0);
    BOOST_TEST(b.to_json(t0 + 6000)["groups"][0]["servers"][1]["slow_start"].get<double>() > 0.5);
    // Unknown to up ramps as well; a later state while ramping does not restart it.
    b.apply(state(3, {server("a:80", api::State::unknown), server("b:80", api::State::up)}), "s1:7400", t0 + 2000);
    b.apply(state(4, {server("a:80", api::State::up), server("b:80", api::State::up)}), "s1:7400", t0 + 3000);
    BOOST_TEST(cand(b, "a:80", t0 + 3000).ramp == 0.1, boost::test_tools::tolerance(1e-9));
    BOOST_TEST(cand(b, "b:80", t0 + 6000).ramp == 0.55, boost::test_tools::tolerance(1e-9));
}

BOOST_AUTO_TEST_CASE(no_slow_start_at_the_first_state_received_or_restored)
{
    StateBook fresh(Millis{30000}, passive(5));
    fresh.apply(state(1, up3()), "s1:7400", t0);
    BOOST_TEST(cand(fresh, "a:80", t0).ramp == 1.0);
    // A server new in a later state was unknown to this proxy: it ramps.
    auto four = up3();
    four.push_back(server("d:80", api::State::up));
    fresh.apply(state(2, four), "s1:7400", t0 + 10);
    BOOST_TEST(cand(fresh, "d:80", t0 + 10).ramp == 0.1, boost::test_tools::tolerance(1e-9));
    BOOST_TEST(cand(fresh, "c:80", t0 + 10).ramp == 1.0);

    StateBook restored(Millis{30000}, passive(5));
    restored.restore(state(1, {server("a:80", api::State::down)}), "s1:7400", t0 - 60000);
    restored.apply(state(2, {server("a:80", api::State::up)}), "s1:7400", t0);
    BOOST_TEST(cand(restored, "a:80", t0).ramp == 1.0);
    restored.apply(state(3, {server("a:80", api::State::down)}), "s1:7400", t0 + 10);
    restored.apply(state(4, {server("a:80", api::State::up)}), "s1:7400", t0 + 20);
    BOOST_TEST(cand(restored, "a:80", t0 + 20).ramp == 0.1, boost::test_tools::tolerance(1e-9));
}

BOOST_AUTO_TEST_CASE(slow_start_after_unpin_and_never_when_off)
{
    StateBook b(Millis{30000}, passive(5));
    b.apply(state(1, {server("a:80", api::State::up, 0, 1, true), server("b:80", api::State::up)}), "s1:7400", t0);
    b.apply(state(2, {server("a:80", api::State::up), server("b:80", api::State::up)}), "s1:7400", t0 + 100);
    BOOST_TEST(cand(b, "a:80", t0 + 100).ramp == 0.1, boost::test_tools::tolerance(1e-9));
    BOOST_TEST(cand(b, "b:80", t0 + 100).ramp == 1.0);

    StateBook off(Millis{30000}, passive(5, 50, 0));
    off.apply(state(1, {server("a:80", api::State::down)}), "s1:7400", t0);
    off.apply(state(2, {server("a:80", api::State::up)}), "s1:7400", t0 + 100);
    BOOST_TEST(cand(off, "a:80", t0 + 100).ramp == 1.0);
}

BOOST_AUTO_TEST_CASE(consecutive_failures_eject_and_a_success_resets_them)
{
    StateBook b(Millis{30000}, passive(3));
    b.apply(state(1, up3()), "s1:7400", t0);
    fail(b, "a:80", 2, t0);
    b.server_ok(b.find_server("a:80"), t0);
    fail(b, "a:80", 2, t0);
    BOOST_TEST(!b.ejected(b.find_server("a:80"), t0));
    FailureOutcome o = b.server_failed(b.find_server("a:80"), t0 + 5);
    BOOST_TEST((o.kind == FailureOutcome::ejected));
    BOOST_TEST(o.ejections == 1);
    BOOST_TEST(o.until_ms == t0 + 5 + 30000);
    BOOST_TEST(b.ejected(b.find_server("a:80"), t0 + 5));
    BOOST_TEST(cand(b, "a:80", t0 + 5).ejected);
    BOOST_TEST(!cand(b, "b:80", t0 + 5).ejected);
    BOOST_TEST(b.next_return_ms() == t0 + 30005);
    BOOST_TEST((b.ejected_servers(t0 + 10) == std::vector<std::string>{"a:80"}));
    auto shares = tally(b, Policy::p2c, t0 + 10, 200);
    BOOST_TEST(shares.count("a:80") == 0u);
    BOOST_TEST(shares["b:80"] + shares["c:80"] == 200);
    auto j = b.to_json(t0 + 10);
    BOOST_TEST(j["groups"][0]["ejected"] == 1);
    BOOST_TEST(j["groups"][0]["servers"][0]["ejected"] == true);
    BOOST_TEST(j["groups"][0]["servers"][0]["ejected_until_ms"] == t0 + 30005);
    BOOST_TEST(j["groups"][0]["servers"][0]["ejections"] == 1);
    // Outcomes of requests that were in flight when it went out change nothing.
    fail(b, "a:80", 10, t0 + 20);
    BOOST_TEST(b.next_return_ms() == t0 + 30005);
    // It returns at its time, once, with slow start.
    BOOST_TEST(b.take_returned(t0 + 30004).empty());
    BOOST_TEST((b.take_returned(t0 + 30005) == std::vector<std::string>{"a:80"}));
    BOOST_TEST(b.take_returned(t0 + 30006).empty());
    BOOST_TEST(b.next_return_ms() == 0);
    BOOST_TEST(!cand(b, "a:80", t0 + 30005).ejected);
    BOOST_TEST(cand(b, "a:80", t0 + 30005).ramp == 0.1, boost::test_tools::tolerance(1e-9));
    BOOST_TEST(cand(b, "a:80", t0 + 35005).ramp == 0.55, boost::test_tools::tolerance(1e-9));
    BOOST_TEST(b.to_json(t0 + 30005)["groups"][0]["servers"][0]["ejected_until_ms"] == 0);
    // The count of failures started again at the ejection.
    fail(b, "a:80", 2, t0 + 30010);
    BOOST_TEST(!b.ejected(b.find_server("a:80"), t0 + 30010));
}

BOOST_AUTO_TEST_CASE(ejection_time_grows_with_the_count_is_capped_and_forgotten)
{
    StateBook b(Millis{30000}, passive(1, 100));
    b.apply(state(1, up3()), "s1:7400", t0);
    int64_t now = t0;
    std::vector<int64_t> spans;
    for (int i = 0; i < 12; ++i) {
        FailureOutcome o = b.server_failed(b.find_server("a:80"), now);
        BOOST_TEST((o.kind == FailureOutcome::ejected));
        spans.push_back(o.until_ms - now);
        now = o.until_ms;  // back, and failing again at once
    }
    BOOST_TEST(spans[0] == 30000);
    BOOST_TEST(spans[1] == 60000);
    BOOST_TEST(spans[2] == 90000);
    BOOST_TEST(spans[9] == 300000);
    BOOST_TEST(spans[11] == 300000);
    BOOST_TEST(b.ejections(b.find_server("a:80"), now) == 12);
    // Five minutes healthy after the last ejection: the count starts over.
    BOOST_TEST(b.ejections(b.find_server("a:80"), now + 299999) == 12);
    BOOST_TEST(b.ejections(b.find_server("a:80"), now + 300000) == 0);
    FailureOutcome o = b.server_failed(b.find_server("a:80"), now + 300000);
    BOOST_TEST(o.ejections == 1);
    BOOST_TEST(o.until_ms - (now + 300000) == 30000);
}

BOOST_AUTO_TEST_CASE(max_ejection_percent_keeps_servers_in_but_one_may_always_go)
{
    StateBook b(Millis{30000}, passive(2, 50));
    b.apply(state(1, up3()), "s1:7400", t0);
    fail(b, "a:80", 2, t0);
    BOOST_TEST(b.ejected(b.find_server("a:80"), t0));
    // 50% of 3 is one server: the next ones are held however often they fail.
    fail(b, "b:80", 1, t0);
    FailureOutcome o = b.server_failed(b.find_server("b:80"), t0);
    BOOST_TEST((o.kind == FailureOutcome::held));
    BOOST_TEST(o.group == G);
    fail(b, "c:80", 5, t0);
    BOOST_TEST(!b.ejected(b.find_server("b:80"), t0));
    BOOST_TEST(!b.ejected(b.find_server("c:80"), t0));
    BOOST_TEST(b.ejected_in_group(0, t0) == 1);
    // When a returns, the next failure of b ejects it.
    b.take_returned(t0 + 30000);
    o = b.server_failed(b.find_server("b:80"), t0 + 30000);
    BOOST_TEST((o.kind == FailureOutcome::ejected));

    // 0% still lets one server go; 50% of 4 is two.
    StateBook none(Millis{30000}, passive(1, 0));
    none.apply(state(1, up3()), "s1:7400", t0);
    BOOST_TEST((none.server_failed(none.find_server("a:80"), t0).kind == FailureOutcome::ejected));
    BOOST_TEST((none.server_failed(none.find_server("b:80"), t0).kind == FailureOutcome::held));
    StateBook four(Millis{30000}, passive(1, 50));
    auto s4 = up3();
    s4.push_back(server("d:80", api::State::up));
    four.apply(state(1, s4), "s1:7400", t0);
    fail(four, "a:80", 1, t0);
    fail(four, "b:80", 1, t0);
    fail(four, "c:80", 1, t0);
    BOOST_TEST(four.ejected_in_group(0, t0) == 2);
}

BOOST_AUTO_TEST_CASE(eject_after_zero_never_ejects)
{
    StateBook b(Millis{30000}, passive(0));
    b.apply(state(1, up3()), "s1:7400", t0);
    fail(b, "a:80", 100, t0);
    BOOST_TEST(!b.ejected(b.find_server("a:80"), t0));
    BOOST_TEST(b.next_return_ms() == 0);
}

// A server that two groups have is one id: what the proxy learns of it
// through one group (requests in flight, a failed connect, an ejection)
// holds in the other, and --max-ejection-percent counts it in both.
BOOST_AUTO_TEST_CASE(a_server_in_two_groups_shares_its_facts)
{
    StateBook b(Millis{30000}, passive(1, 50));
    auto v = state(1, {server("a:80", api::State::up), server("b:80", api::State::up)}, "www.a.co.jp");
    v.groups.push_back({"img.a.co.jp", {server("c:80", api::State::up), server("a:80", api::State::up)}});
    b.apply(v, "s1:7400", t0);
    auto in = [&b](const std::string& group, std::size_t index, int64_t now) {
        return b.candidates(group, now).at(index);
    };
    ServerId a = b.find_server("a:80");
    BOOST_TEST(in("www.a.co.jp", 0, t0).name == "a:80");
    BOOST_TEST(in("img.a.co.jp", 1, t0).name == "a:80");

    b.request_started(a);
    BOOST_TEST(in("www.a.co.jp", 0, t0).inflight == 1.0);
    BOOST_TEST(in("img.a.co.jp", 1, t0).inflight == 1.0);
    b.mark_suspect(a, t0 + 100);
    BOOST_TEST(in("img.a.co.jp", 1, t0).suspect);

    FailureOutcome o = b.server_failed(a, t0);
    BOOST_TEST((o.kind == FailureOutcome::ejected));
    BOOST_TEST(in("www.a.co.jp", 0, t0).ejected);
    BOOST_TEST(in("img.a.co.jp", 1, t0).ejected);
    BOOST_TEST(b.ejected_in_group(0, t0) == 1);
    BOOST_TEST(b.ejected_in_group(1, t0) == 1);
    auto j = b.to_json(t0);
    BOOST_TEST(j["groups"][0]["servers"][0]["ejected_until_ms"] == o.until_ms);
    BOOST_TEST(j["groups"][1]["servers"][1]["ejected_until_ms"] == o.until_ms);
    BOOST_TEST((b.ejected_servers(t0) == std::vector<std::string>{"a:80"}));
    // Each group of two is at its limit with a out: their other servers stay.
    FailureOutcome c = b.server_failed(b.find_server("c:80"), t0);
    BOOST_TEST((c.kind == FailureOutcome::held));
    BOOST_TEST(c.group == "img.a.co.jp");
    BOOST_TEST(b.server_failed(b.find_server("b:80"), t0).group == "www.a.co.jp");
    // It returns once, and ramps in both groups.
    BOOST_TEST((b.take_returned(o.until_ms) == std::vector<std::string>{"a:80"}));
    BOOST_TEST(in("www.a.co.jp", 0, o.until_ms).ramp == 0.1, boost::test_tools::tolerance(1e-9));
    BOOST_TEST(in("img.a.co.jp", 1, o.until_ms).ramp == 0.1, boost::test_tools::tolerance(1e-9));
}

// Candidates view the book's names, which outlive the state that named them.
BOOST_AUTO_TEST_CASE(candidate_names_outlive_their_state)
{
    StateBook b(Millis{30000});
    const std::string name = "a-server-with-a-name-longer-than-a-short-string.example:8080";
    b.apply(state(1, {server(name, api::State::up)}), "s1:7400", t0);
    auto held = b.candidates(G, t0);
    b.apply(state(2, {server("b:80", api::State::up)}), "s1:7400", t0 + 1);
    BOOST_TEST(held.at(0).name == name);
    BOOST_TEST(b.candidates(G, t0 + 1).at(0).name == "b:80");
}

// Ids and their facts stay for the book's life: a server dropped by one
// state and named again by a later one is still ejected, under its old id.
BOOST_AUTO_TEST_CASE(a_server_dropped_and_named_again_keeps_its_id_and_facts)
{
    StateBook b(Millis{30000}, passive(1, 100));
    b.apply(state(1, up3()), "s1:7400", t0);
    ServerId a = b.find_server("a:80");
    FailureOutcome o = b.server_failed(a, t0);
    BOOST_TEST((o.kind == FailureOutcome::ejected));
    b.apply(state(2, {server("b:80", api::State::up), server("c:80", api::State::up)}), "s1:7400", t0 + 1);
    BOOST_TEST(b.find_server("a:80") == a);
    BOOST_TEST(b.ejected(a, t0 + 1));
    b.apply(state(3, up3()), "s1:7400", t0 + 2);
    BOOST_TEST(b.find_server("a:80") == a);
    BOOST_TEST(cand(b, "a:80", t0 + 2).ejected);
    // An id the book never gave has no facts and takes none.
    b.mark_suspect(no_server, t0 + 5000);
    BOOST_TEST(!b.suspect(no_server, t0));
    BOOST_TEST((b.server_failed(no_server, t0).kind == FailureOutcome::counted));
    BOOST_TEST(!b.ejected(no_server, t0));
    BOOST_TEST(b.ramp(no_server, t0) == 1.0);
}

BOOST_AUTO_TEST_CASE(lagging_behind_an_announced_version_degrades_after_stale_after)
{
    StateBook b(Millis{1000});
    b.apply(state(5, {server("a:80", api::State::up)}), "s1:7400", t0);
    // The same version announced: a confirmation, not a lag.
    BOOST_TEST(!b.announced("s1:7400", 5, t0));
    BOOST_TEST(b.behind_since_ms() == 0);
    BOOST_TEST(b.newest_announced() == 5u);
    // A newer version announced: the caller fetches it; the lag counts from now.
    BOOST_TEST(b.announced("s1:7400", 7, t0 + 100));
    BOOST_TEST(b.behind_since_ms() == t0 + 100);
    BOOST_TEST(!b.degraded(t0 + 1100));
    BOOST_TEST(b.degraded_reason(t0 + 1100).empty());
    BOOST_TEST(b.degraded(t0 + 1101));
    BOOST_TEST(b.degraded_reason(t0 + 1101) ==
               "this proxy holds state version 5 while state server s1:7400 announces version 7, "
               "and has been behind for 1001ms (--stale-after 1s)");
    // Announced again: the lag keeps counting from the first sight.
    BOOST_TEST(b.announced("s1:7400", 7, t0 + 1200));
    BOOST_TEST(b.behind_since_ms() == t0 + 100);
    // A state between the two is not the newest: still behind.
    b.apply(state(6, {server("a:80", api::State::up)}), "s1:7400", t0 + 1300);
    BOOST_TEST(b.degraded(t0 + 1300));
    // Caught up.
    b.apply(state(7, {server("a:80", api::State::up)}), "s1:7400", t0 + 1400);
    BOOST_TEST(b.behind_since_ms() == 0);
    BOOST_TEST(!b.degraded(t0 + 1400));
    // Lagging does not make the state stale, nor does a stale state lag.
    BOOST_TEST(!b.stale(t0 + 1400));
    BOOST_TEST(b.stale(t0 + 2500));
    BOOST_TEST(!b.degraded(t0 + 2500));
}

BOOST_AUTO_TEST_CASE(a_state_that_moves_faster_than_the_checks_is_no_lag)
{
    // lbstated's version moves between every two health checks; each check
    // fetches the state and catches up with what it saw: never degraded.
    StateBook b(Millis{1000});
    b.apply(state(1, {server("a:80", api::State::up)}), "s1:7400", t0);
    for (int i = 0; i < 50; ++i) {
        int64_t t = t0 + i * 200;
        uint64_t v = 2 + 3 * static_cast<uint64_t>(i);
        BOOST_TEST(b.announced("s1:7400", v, t));
        BOOST_TEST(!b.degraded(t));
        b.apply(state(v + 1, {server("a:80", api::State::up)}), "s1:7400", t + 20);  // moved on meanwhile
        BOOST_TEST(b.behind_since_ms() == 0);
    }
}

BOOST_AUTO_TEST_CASE(a_silent_state_server_announces_nothing)
{
    StateBook b(Millis{1000});
    b.apply(state(5, {server("a:80", api::State::up)}), "s1:7400", t0);
    b.announced("s1:7400", 9, t0);
    BOOST_TEST(b.degraded(t0 + 2000));
    // Its health check failed: stale later, but not degraded.
    b.silent("s1:7400", t0 + 2000);
    BOOST_TEST(!b.degraded(t0 + 2000));
    BOOST_TEST(b.behind_since_ms() == 0);
    BOOST_TEST(b.newest_announced() == 0u);
    // Back, still ahead: the lag counts again from then.
    BOOST_TEST(b.announced("s1:7400", 9, t0 + 5000));
    BOOST_TEST(b.behind_since_ms() == t0 + 5000);
}

BOOST_AUTO_TEST_CASE(the_newest_version_of_any_state_server_counts)
{
    StateBook b(Millis{1000});
    b.apply(state(5, {server("a:80", api::State::up)}), "s1:7400", t0);
    BOOST_TEST(!b.announced("s1:7400", 5, t0));
    BOOST_TEST(b.announced("s2:7400", 8, t0));
    BOOST_TEST(b.newest_announced() == 8u);
    BOOST_TEST(b.degraded(t0 + 1001));
    BOOST_TEST(b.degraded_reason(t0 + 1001).find("state server s2:7400 announces version 8") != std::string::npos);
    b.apply(state(8, {server("b:80", api::State::up)}), "s2:7400", t0 + 1100);
    BOOST_TEST(!b.degraded(t0 + 1100));
    // The other server's older version is no lag.
    BOOST_TEST(!b.announced("s1:7400", 6, t0 + 1200));
    BOOST_TEST(b.behind_since_ms() == 0);
}

BOOST_AUTO_TEST_CASE(after_a_restart_any_other_version_of_the_source_is_to_take)
{
    StateBook b(Millis{1000});
    b.apply(state(100, {server("a:80", api::State::up)}), "s1:7400", t0);
    // s1 restarted and counts from 1 again: its version is to be taken.
    b.source_restarted("s1:7400");
    BOOST_TEST(b.announced("s1:7400", 2, t0));
    BOOST_TEST(b.behind_since_ms() == t0);
    BOOST_TEST((b.apply(state(2, {server("b:80", api::State::up)}), "s1:7400", t0 + 10) ==
                StateBook::Outcome::accepted));
    BOOST_TEST(b.behind_since_ms() == 0);
    BOOST_TEST(!b.announced("s1:7400", 2, t0 + 20));
    // Another server restarting with lower versions does not pull the state back.
    b.source_restarted("s2:7400");
    BOOST_TEST(!b.announced("s2:7400", 1, t0 + 30));
    BOOST_TEST(b.behind_since_ms() == 0);
    // A restored state yields to its source's version, whatever it is.
    StateBook r(Millis{1000});
    r.restore(state(70, {server("a:80", api::State::up)}), "s1:7400", t0);
    BOOST_TEST(r.announced("s1:7400", 3, t0));
    BOOST_TEST(!r.announced("s9:7400", 3, t0 + 1));
}
