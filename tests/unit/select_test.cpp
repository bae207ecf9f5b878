#define BOOST_TEST_MODULE select
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <map>

#include "select.hpp"

using namespace lbkit;
using select::Candidate;
using api::State;

namespace {

// The reference example of lbkit(7): loads 20, 15, 0; ratios 2, 1, 2; the third down.
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
        out[std::string(k < 0 ? "-" : c[static_cast<std::size_t>(k)].name)]++;
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

namespace {

double fraction(const std::map<std::string, int>& t, const std::string& name, int n)
{
    auto it = t.find(name);
    return it == t.end() ? 0 : it->second / static_cast<double>(n);
}

// Loads as the servers would report them after receiving the shares a
// selector holds now, plus foreign load on some of them.
void follow_shares(std::vector<Candidate>& c, double total,
                   const std::map<std::string, double, std::less<>>& foreign = {})
{
    double w = 0;
    for (const auto& k : c) w += k.ratio * k.share;
    for (auto& k : c) {
        auto f = foreign.find(k.name);
        k.load = total * k.ratio * k.share / w + (f == foreign.end() ? 0 : f->second);
    }
}

}  // namespace

BOOST_AUTO_TEST_CASE(adaptive_equal_relative_loads_give_the_ratio_shares)
{
    std::vector<Candidate> c = {{"a", 40, 2, State::up}, {"b", 20, 1, State::up}, {"c", 40, 2, State::up}};
    select::adapt(c);
    for (const auto& k : c) BOOST_TEST(k.share == 1.0, boost::test_tools::tolerance(1e-9));
    auto t = tally(select::Policy::adaptive, c, 50000);
    BOOST_TEST(std::abs(fraction(t, "a", 50000) - 0.4) < 0.02);
    BOOST_TEST(std::abs(fraction(t, "b", 50000) - 0.2) < 0.02);
}

BOOST_AUTO_TEST_CASE(adaptive_shuns_a_server_loaded_from_elsewhere_and_takes_it_back)
{
    // The figures of the first field test: 50, 5, 5 with equal ratios.
    std::vector<Candidate> c = {{"hot", 50, 1, State::up}, {"b", 5, 1, State::up}, {"c", 5, 1, State::up}};
    select::adapt(c);
    BOOST_TEST(fraction(tally(select::Policy::adaptive, c, 20000), "hot", 20000) <= 0.05);
    // While the foreign load lasts, the next figures keep it out.
    follow_shares(c, 30, {{"hot", 45}});
    select::adapt(c);
    BOOST_TEST(fraction(tally(select::Policy::adaptive, c, 20000), "hot", 20000) <= 0.05);
    // The foreign load stops: the next figure gives the share back at once,
    // even when the few requests of its floor share made no load at all.
    auto shunned = c;
    follow_shares(c, 30);
    select::adapt(c);
    BOOST_TEST(std::abs(fraction(tally(select::Policy::adaptive, c, 30000), "hot", 30000) - 1.0 / 3) < 0.03);
    follow_shares(shunned, 30);
    shunned[0].load = 0;
    select::adapt(shunned);
    BOOST_TEST(std::abs(fraction(tally(select::Policy::adaptive, shunned, 30000), "hot", 30000) - 1.0 / 3) < 0.03);
    // And when every load falls to 0 (nobody sends anything any more).
    shunned[0].share = 0.02;
    for (auto& k : shunned) k.load = 0;
    select::adapt(shunned);
    BOOST_TEST(shunned[0].share == 1.0);
}

BOOST_AUTO_TEST_CASE(adaptive_fills_up_to_a_common_relative_load)
{
    // Equal shares; the selectors send 24 (b and c show 8 each), a carries
    // 18 from elsewhere (16 beyond the noise band): the level where every
    // server has the same relative load is 12, below a's foreign load, so a
    // gets only its floor and b and c share the 24 evenly.
    std::vector<Candidate> c = {{"a", 26, 1, State::up}, {"b", 8, 1, State::up}, {"c", 8, 1, State::up}};
    select::adapt(c);
    auto t = tally(select::Policy::adaptive, c, 30000);
    BOOST_TEST(fraction(t, "a", 30000) < 0.03);
    BOOST_TEST(std::abs(fraction(t, "b", 30000) - fraction(t, "c", 30000)) < 0.03);
    // With 10 from elsewhere (8 beyond the band) the level, 32 / 3, is above
    // it: a gets the difference, 8/3 of the 24.
    c = {{"a", 18, 1, State::up}, {"b", 8, 1, State::up}, {"c", 8, 1, State::up}};
    select::adapt(c);
    t = tally(select::Policy::adaptive, c, 30000);
    BOOST_TEST(std::abs(fraction(t, "a", 30000) - 1.0 / 9) < 0.02);
}

BOOST_AUTO_TEST_CASE(adaptive_uses_unknown_servers_only_when_none_is_up)
{
    std::vector<Candidate> c = {{"a", 10, 1, State::up}, {"b", 10, 1, State::up}, {"new", 0, 1, State::unknown}};
    BOOST_TEST(fraction(tally(select::Policy::adaptive, c, 1000), "new", 1000) == 0.0);
    c[0].state = c[1].state = State::down;
    BOOST_TEST(fraction(tally(select::Policy::adaptive, c, 100), "new", 100) == 1.0);
}

BOOST_AUTO_TEST_CASE(adaptive_follows_its_own_sends_exactly)
{
    // One selector, no new figure: what it already sent decides the next.
    std::vector<Candidate> c = {{"a", 0, 1, State::up}, {"b", 0, 1, State::up}};
    c[0].sent_since_figure = 5;
    c[1].sent_since_figure = 2;
    std::mt19937_64 rng(3);
    for (int i = 0; i < 3; ++i) {
        int k = select::choose(select::Policy::adaptive, c, rng);
        BOOST_TEST(k == 1);
        c[static_cast<std::size_t>(k)].sent_since_figure += 1;
    }
    // Requests not answered yet weigh too: a server that turned slow gets less.
    c = {{"a", 0, 1, State::up}, {"slow", 0, 1, State::up}};
    c[1].inflight = 20;
    BOOST_TEST(fraction(tally(select::Policy::adaptive, c, 100), "slow", 100) == 0.0);
}

BOOST_AUTO_TEST_CASE(ramp_and_ejection_shape_every_policy)
{
    std::vector<Candidate> c = {{"a", 0, 1, State::up}, {"b", 0, 1, State::up}};
    c[1].ramp = 0.25;  // slow start: a quarter of its share
    for (auto p : {select::Policy::adaptive, select::Policy::weighted})
        BOOST_TEST(std::abs(fraction(tally(p, c, 40000), "b", 40000) - 0.2) < 0.02);
    c[1].ramp = 1;
    c[1].ejected = true;
    for (auto p : {select::Policy::adaptive, select::Policy::p2c, select::Policy::least})
        BOOST_TEST(fraction(tally(p, c, 100), "a", 100) == 1.0);
    BOOST_TEST(select::explain_none("g", std::vector<Candidate>{c[1]}) == "no server of group g is up (1 known: 1 ejected)");
}

BOOST_AUTO_TEST_CASE(adaptive_is_the_default)
{
    BOOST_TEST((select::default_policy == select::Policy::adaptive));
    BOOST_TEST((select::policy_from_string("adaptive") == select::Policy::adaptive));
}
