#define BOOST_TEST_MODULE select
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <map>

#include "select.hpp"

using namespace lbkit;
using select::Candidate;
using api::State;

namespace {

// DESIGN.md's reference example: loads 20, 15, 0; ratios 2, 1, 2; the third down.
std::vector<Candidate> reference()
{
    return {{"host1:80", 20, 2, State::up}, {"host2:80", 15, 1, State::up}, {"host3:80", 0, 2, State::down}};
}

std::map<std::string, int> tally(select::Policy p, const std::vector<Candidate>& c, int n)
{
    std::mt19937_64 rng(7);
    std::map<std::string, int> out;
    for (int i = 0; i < n; ++i) {
        int k = select::choose(p, c, rng);
        out[k < 0 ? "-" : c[static_cast<std::size_t>(k)].name]++;
    }
    return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(least_picks_reference_first)
{
    auto c = reference();
    BOOST_TEST(select::relative_load(c[0]) == 10);
    BOOST_TEST(select::relative_load(c[1]) == 15);
    auto t = tally(select::Policy::least, c, 100);
    BOOST_TEST(t["host1:80"] == 100);
}

BOOST_AUTO_TEST_CASE(pin_down_overrides_a_report)
{
    // host1 reported up with the lowest relative load, but pinned down with
    // load 0 and ratio 3: it must not be chosen.
    auto c = reference();
    c[0].state = State::down;
    c[0].pinned = true;
    c[0].load = 0;
    c[0].ratio = 3;
    auto t = tally(select::Policy::least, c, 50);
    BOOST_TEST(t["host2:80"] == 50);
    std::string why = select::explain_none("host1.a.co.jp", std::vector<Candidate>{c[0], c[2]});
    BOOST_TEST(why == "no server of group host1.a.co.jp is up (2 known: 1 down, 1 pinned down)");
}

BOOST_AUTO_TEST_CASE(pin_up_with_load_zero_attracts)
{
    auto c = reference();
    c[2].state = State::up;  // pinned up with load 0: relative load 0
    c[2].pinned = true;
    auto t = tally(select::Policy::least, c, 20);
    BOOST_TEST(t["host3:80"] == 20);
}

BOOST_AUTO_TEST_CASE(none_eligible)
{
    std::vector<Candidate> c = {{"a", 0, 1, State::down}, {"b", 0, 1, State::up, false, true}};
    std::mt19937_64 rng(1);
    BOOST_TEST(select::choose(select::Policy::p2c, c, rng) == -1);
    BOOST_TEST(select::explain_none("g", c) == "no server of group g is up (2 known: 1 down, 1 draining)");
    BOOST_TEST(select::explain_none("g", {}) == "no server of group g is up (the group has no servers)");
}

BOOST_AUTO_TEST_CASE(unknown_only_when_none_up)
{
    std::vector<Candidate> c = {{"u", 0, 1, State::unknown}, {"up", 100, 1, State::up}};
    BOOST_TEST(tally(select::Policy::least, c, 20)["up"] == 20);
    c[1].state = State::down;
    BOOST_TEST(tally(select::Policy::least, c, 20)["u"] == 20);
}

BOOST_AUTO_TEST_CASE(suspect_is_skipped)
{
    auto c = reference();
    c[0].suspect = true;
    BOOST_TEST(tally(select::Policy::p2c, c, 50)["host2:80"] == 50);
}

BOOST_AUTO_TEST_CASE(weighted_follows_ratio)
{
    std::vector<Candidate> c = {{"a", 999, 2, State::up}, {"b", 0, 1, State::up}, {"c", 0, 2, State::up}};
    auto t = tally(select::Policy::weighted, c, 50000);
    BOOST_TEST(std::abs(t["a"] / 50000.0 - 0.4) < 0.02);
    BOOST_TEST(std::abs(t["b"] / 50000.0 - 0.2) < 0.02);
}

BOOST_AUTO_TEST_CASE(p2c_prefers_lower_relative_load_and_equal_loads_follow_ratio)
{
    std::vector<Candidate> c = {{"a", 0, 2, State::up}, {"b", 0, 1, State::up}, {"c", 0, 2, State::up}};
    auto t = tally(select::Policy::p2c, c, 50000);
    BOOST_TEST(std::abs(t["b"] / 50000.0 - 0.2) < 0.02);
    // Equal relative loads (not idle): still exactly the ratio shares.
    c[0].load = 20; c[1].load = 10; c[2].load = 20;
    t = tally(select::Policy::p2c, c, 50000);
    BOOST_TEST(std::abs(t["a"] / 50000.0 - 0.4) < 0.02);
    BOOST_TEST(std::abs(t["b"] / 50000.0 - 0.2) < 0.02);
    c = {{"a", 100, 2, State::up}, {"b", 0, 1, State::up}, {"c", 0, 2, State::up}};
    c[1].inflight = 1;  // a is busy: it loses almost every comparison
    auto busy = tally(select::Policy::p2c, c, 10000);
    BOOST_TEST(busy["a"] > 0);     // soft: never starved completely
    // a is drawn twice 16% of the time, and wins 1/51 of its pairs or fewer.
    BOOST_TEST(busy["a"] < 1800);
    c[2].load = 0;                 // an idle server beats any busy one
    c[1].load = 50;
    std::vector<Candidate> two = {c[0], c[2]};
    BOOST_TEST(tally(select::Policy::p2c, two, 1000)["c"] > 600);
}

BOOST_AUTO_TEST_CASE(policy_names)
{
    BOOST_TEST((select::policy_from_string("least") == select::Policy::least));
    BOOST_TEST(std::string(select::to_string(select::Policy::central)) == "central");
    BOOST_CHECK_THROW(select::policy_from_string("random"), std::exception);
}
