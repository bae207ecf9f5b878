// lbstated's model: reports, staleness, pins, drains, versions, groups; and
// the rule that refuses a loopback push URL registered from another host.
#define BOOST_TEST_MODULE stated_model
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <algorithm>

#include "error.hpp"
#include "groups.hpp"
#include "model.hpp"
#include "subscribers.hpp"

using namespace lbstated;
using lbkit::api::State;

namespace {

const char* reference_groups =
    "# reference example\n"
    "host1.a.co.jp 127.0.0.1:8081 2\n"
    "host1.a.co.jp 127.0.0.1:8082 1\n"
    "host1.a.co.jp 127.0.0.1:8083 2\n";

lbkit::api::Report report(double l1, double l2, double l3, State s3 = State::down)
{
    return {"lan-a", 1000, {{"127.0.0.1:8081", l1, State::up}, {"127.0.0.1:8082", l2, State::up}, {"127.0.0.1:8083", l3, s3}}};
}

std::string groups_error(const std::string& text)
{
    try {
        parse_groups(text, "groups", false);
    } catch (const lbkit::BadInput& e) {
        return e.what();
    }
    return "";
}

}  // namespace

BOOST_AUTO_TEST_CASE(groups_table)
{
    auto g = parse_groups(reference_groups, "groups", false);
    BOOST_REQUIRE_EQUAL(g.groups.size(), 1u);
    BOOST_TEST(g.groups[0].members.size() == 3u);
    BOOST_TEST(g.groups[0].members[1].ratio == 1);
    BOOST_TEST(g.has_server("127.0.0.1:8082"));
    BOOST_TEST(groups_error("a b\n") == "groups:1: expected 3 columns (representative server[:port] ratio), got 2");
    BOOST_TEST(groups_error("\na b 0\n") == "groups:2: ratio must be > 0");
    BOOST_TEST(groups_error("a b x\n") == "groups:1: ratio 'x' is not a number");
    BOOST_TEST(groups_error("a b:0 1\n") == "groups:1: bad port '0' in 'b:0': must be 1 to 65535");
    BOOST_TEST(groups_error("a:80 b 1\n") == "groups:1: representative name 'a:80' must not have a port");
    BOOST_TEST(groups_error("a b 1\na b 2\n") == "groups:2: server b is listed twice in group a");
}

// Group names are host names: any case finds them, and rows that differ
// only in case are one group, named as its first row writes it.
BOOST_AUTO_TEST_CASE(group_names_match_in_any_case)
{
    auto g = parse_groups("Web.example a:80 1\nweb.EXAMPLE b:80 2\n", "groups", false);
    BOOST_REQUIRE_EQUAL(g.groups.size(), 1u);
    BOOST_TEST(g.groups[0].name == "Web.example");
    BOOST_TEST(g.groups[0].members.size() == 2u);
    BOOST_REQUIRE(g.find("WEB.example") != nullptr);
    BOOST_TEST(g.find("WEB.example")->name == "Web.example");
    BOOST_TEST(g.find("web.example2") == nullptr);
    BOOST_TEST(groups_error("w a 1\nW a 2\n") == "groups:2: server a is listed twice in group w");
    BOOST_TEST(same_name("A-z.0", "a-Z.0"));
    BOOST_TEST(!same_name("a[", "A{"));  // only letters fold
}

BOOST_AUTO_TEST_CASE(resolved_addresses_match_reports)
{
    auto g = parse_groups("g localhost:8081 1\n", "groups", true);
    Model m(0);
    m.set_groups(g);
    auto out = m.apply_report({"n", 1000, {{"127.0.0.1:8081", 5, State::up}}}, 0);
    BOOST_TEST(out.applied == 1);
    BOOST_TEST((m.effective_state("localhost:8081") == State::up));
}

BOOST_AUTO_TEST_CASE(reference_example_selects_first)
{
    Model m(0);
    m.set_groups(parse_groups(reference_groups, "groups", false));
    auto v0 = m.version();
    auto out = m.apply_report(report(20, 15, 0), 1000);
    BOOST_TEST(out.applied == 3);
    BOOST_TEST(out.transition);
    BOOST_TEST(m.version() > v0);
    auto cands = m.candidates(m.groups().groups[0]);
    std::mt19937_64 rng(3);
    auto chosen = lbkit::select::choose(lbkit::select::Policy::least, cands, rng);
    BOOST_TEST(cands[static_cast<std::size_t>(chosen)].name == "127.0.0.1:8081");
}

BOOST_AUTO_TEST_CASE(pin_overrides_reports_until_released)
{
    Model m(0);
    m.set_groups(parse_groups(reference_groups, "groups", false));
    m.apply_report(report(20, 15, 0), 0);
    lbkit::api::Pin pin{State::down, 0.0, 3.0};
    BOOST_TEST(m.pin("127.0.0.1:8081", pin));
    BOOST_TEST(!m.pin("127.0.0.1:8081", pin));  // idempotent
    m.apply_report(report(1, 15, 0), 500);      // reports keep coming
    auto c = m.candidates(m.groups().groups[0]);
    BOOST_TEST((c[0].state == State::down));
    BOOST_TEST(c[0].pinned);
    BOOST_TEST(c[0].load == 0);
    BOOST_TEST(c[0].ratio == 3);
    std::mt19937_64 rng(3);
    BOOST_TEST(lbkit::select::choose(lbkit::select::Policy::least, c, rng) == 1);
    BOOST_TEST(m.unpin("127.0.0.1:8081"));
    BOOST_TEST(!m.unpin("127.0.0.1:8081"));
    BOOST_TEST((m.effective_state("127.0.0.1:8081") == State::up));
    BOOST_TEST(m.candidates(m.groups().groups[0])[0].load == 1);
}

BOOST_AUTO_TEST_CASE(stale_reports_become_unknown)
{
    Model m(0);
    m.set_groups(parse_groups(reference_groups, "groups", false));
    m.apply_report(report(20, 15, 0), 0);
    BOOST_TEST(m.sweep(3000).empty());  // three intervals of 1000 ms: not yet
    auto v = m.version();
    auto gone = m.sweep(3001);
    BOOST_TEST(std::count(gone.begin(), gone.end(), "127.0.0.1:8081") == 1);  // named, for the log
    BOOST_TEST(m.version() > v);
    BOOST_TEST((m.effective_state("127.0.0.1:8081") == State::unknown));
    BOOST_TEST(m.sweep(4000).empty());  // once only
    m.apply_report(report(20, 15, 0), 5000);
    BOOST_TEST((m.effective_state("127.0.0.1:8081") == State::up));
}

BOOST_AUTO_TEST_CASE(fixed_stale_after)
{
    Model m(500);
    m.set_groups(parse_groups(reference_groups, "groups", false));
    m.apply_report(report(20, 15, 0), 0);
    BOOST_TEST(!m.sweep(501).empty());
}

BOOST_AUTO_TEST_CASE(unknown_addresses_are_reported_back)
{
    Model m(0);
    m.set_groups(parse_groups(reference_groups, "groups", false));
    auto v = m.version();
    auto out = m.apply_report({"n", 1000, {{"10.9.9.9:80", 1, State::up}}}, 0);
    BOOST_TEST(out.applied == 0);
    BOOST_TEST(out.unknown.size() == 1u);
    BOOST_TEST(m.version() == v);
}

BOOST_AUTO_TEST_CASE(load_change_bumps_version_without_transition)
{
    Model m(0);
    m.set_groups(parse_groups(reference_groups, "groups", false));
    m.apply_report(report(20, 15, 0), 0);
    auto v = m.version();
    auto out = m.apply_report(report(21, 15, 0), 100);
    BOOST_TEST(!out.transition);
    BOOST_TEST(m.version() == v + 1);
}

// A report that repeats what the state shows (same states, same loads, of
// servers reported before) keeps the version: long polls and subscribers
// are not woken for nothing. Anything the state shows that moves is a change.
BOOST_AUTO_TEST_CASE(identical_report_keeps_the_version)
{
    Model m(0);
    m.set_groups(parse_groups(reference_groups, "groups", false));
    auto v0 = m.version();
    auto first = m.apply_report(report(20, 15, 0), 0);
    BOOST_TEST(first.changed);
    BOOST_TEST(m.version() == v0 + 1);
    auto v = m.version();
    auto serial = m.report_serial();

    auto same = m.apply_report(report(20, 15, 0), 1000);
    BOOST_TEST(same.applied == 3);
    BOOST_TEST(!same.changed);
    BOOST_TEST(!same.transition);
    BOOST_TEST(m.version() == v);
    BOOST_TEST(m.report_serial() != serial);  // the ages moved: the body is built again
    BOOST_TEST(m.view(1500).groups[0].servers[0].age_ms == 500);  // the figure is fresh
    BOOST_TEST(m.sweep(3500).empty());  // and keeps the server from going stale

    // Each thing the state shows is a change: a load, a state, of one server.
    auto load = m.apply_report(report(20, 15.5, 0), 2000);
    BOOST_TEST(load.changed);
    BOOST_TEST(!load.transition);
    BOOST_TEST(m.version() == v + 1);
    auto state = m.apply_report(report(20, 15.5, 0, State::up), 3000);
    BOOST_TEST(state.changed);
    BOOST_TEST(state.transition);
    BOOST_TEST(m.version() == v + 2);
    // A partial report naming one server with its figure unchanged.
    m.apply_report({"lan-b", 1000, {{"127.0.0.1:8082", 15.5, State::up}}}, 3100);
    BOOST_TEST(m.version() == v + 2);
    // A server named twice in one report: the last entry is what counts.
    m.apply_report({"lan-b", 1000, {{"127.0.0.1:8082", 99, State::down}, {"127.0.0.1:8082", 15.5, State::up}}}, 3200);
    BOOST_TEST(m.version() == v + 2);
}

BOOST_AUTO_TEST_CASE(report_changes_are_what_the_state_shows)
{
    Model m(0);
    m.set_groups(parse_groups(reference_groups, "groups", false));
    // A first report is news even when it says what the state assumed
    // (unknown, load 0): the server now has a figure and an age.
    auto v = m.version();
    auto first = m.apply_report({"n", 1000, {{"127.0.0.1:8081", 0, State::unknown}}}, 0);
    BOOST_TEST(first.changed);
    BOOST_TEST(!first.transition);
    BOOST_TEST(m.version() == v + 1);

    // A stale server reported again as before comes back up: a transition.
    m.apply_report(report(20, 15, 0), 0);
    BOOST_TEST(!m.sweep(3001).empty());
    v = m.version();
    auto back = m.apply_report(report(20, 15, 0), 4000);
    BOOST_TEST(back.transition);
    BOOST_TEST(m.version() == v + 1);

    // The load a pin sets hides the reported one: a new reported figure
    // behind it shows nowhere, and the unpin shows it.
    BOOST_TEST(m.pin("127.0.0.1:8081", lbkit::api::Pin{std::nullopt, 5.0, std::nullopt}));
    v = m.version();
    BOOST_TEST(!m.apply_report(report(30, 15, 0), 5000).changed);
    BOOST_TEST(m.version() == v);
    BOOST_TEST(m.view(5000).groups[0].servers[0].load == 5);
    BOOST_TEST(m.unpin("127.0.0.1:8081"));
    BOOST_TEST(m.view(5000).groups[0].servers[0].load == 30);
    // A pin of the state alone: a new load still shows.
    BOOST_TEST(m.pin("127.0.0.1:8081", lbkit::api::Pin{State::down, std::nullopt, std::nullopt}));
    v = m.version();
    auto behind = m.apply_report(report(40, 15, 0), 6000);
    BOOST_TEST(behind.changed);
    BOOST_TEST(!behind.transition);  // pinned down whatever is reported
    BOOST_TEST(m.version() == v + 1);
}

// The peer that registers a subscriber × the host of its push URL.
BOOST_AUTO_TEST_CASE(loopback_push_url_from_another_host_is_refused)
{
    const std::vector<std::string> mine = {"127.0.0.1", "::1", "10.203.0.1", "fd00:203::1"};
    auto refused = [&](const std::string& url, const std::string& peer) {
        return !loopback_push_refusal(url, peer, mine).empty();
    };
    const char* loopback_urls[] = {
        "http://127.0.0.1:7401/v1/state?source=a%3A1", "http://127.9.8.7:7401/v1/state", "http://127.1:7401/",
        "http://localhost:7401/v1/state", "http://LocalHost.:7401/v1/state", "http://proxy.localhost/v1/state",
        "https://[::1]:7401/v1/state", "http://[::ffff:127.0.0.1]:7401/", "http://0.0.0.0:7401/v1/state",
        "http://[::]:7401/", "http://user@127.0.0.1:7401/", "http://127.0.0.1/v1/state", "http://2130706433:7401/",
    };
    const char* reachable_urls[] = {
        "http://10.203.0.2:7401/v1/state", "http://[fd00:203::2]:7401/v1/state", "http://client7.example:7401/v1/state",
        "http://localhost.example:7401/", "http://127.0.0.1.example/", "http://[fe80::1%25eth0]:7401/",
        "http://128.0.0.1:7401/",
    };
    // From another host, IPv4 or IPv6 (mapped too): every loopback URL is
    // refused, every other accepted.
    for (const char* peer : {"10.203.0.2", "fd00:203::2", "::ffff:10.203.0.2", "192.0.2.9"}) {
        for (const char* url : loopback_urls)
            BOOST_TEST(refused(url, peer), url << " from " << peer);
        for (const char* url : reachable_urls)
            BOOST_TEST(!refused(url, peer), url << " from " << peer);
    }
    // From this host, on loopback or on one of its own addresses: all accepted.
    for (const char* peer : {"127.0.0.1", "127.0.0.5", "::1", "::ffff:127.0.0.1", "10.203.0.1", "::ffff:10.203.0.1",
                             "fd00:203::1"}) {
        for (const char* url : loopback_urls)
            BOOST_TEST(!refused(url, peer), url << " from " << peer);
        for (const char* url : reachable_urls)
            BOOST_TEST(!refused(url, peer), url << " from " << peer);
    }
    // A peer that is no address (not an IP socket) is not judged.
    BOOST_TEST(!refused("http://127.0.0.1:7401/", ""));
    // The sentence says what is wrong and what to do.
    std::string why = loopback_push_refusal("http://127.0.0.1:7401/v1/state", "10.203.0.2", mine);
    BOOST_TEST(why.rfind("url: host 127.0.0.1 means lbstated's own host (loopback), but the subscription comes from "
                         "10.203.0.2 on another host", 0) == 0u);
    BOOST_TEST(why.find("--admin") != std::string::npos);
    BOOST_TEST(why.find("--state-mode pull") != std::string::npos);
    BOOST_TEST(loopback_push_refusal("http://[::1]:7401/", "fd00:203::2", mine).find("host ::1 means") !=
               std::string::npos);

    BOOST_TEST(url_host("http://[::1]:80/x") == "::1");
    BOOST_TEST(url_host("https://Web.Example.:8443?x=1") == "web.example");
    BOOST_TEST(url_host("http://a@b@host/p") == "host");
    BOOST_TEST(url_host("not a url") == "");
    BOOST_TEST(this_host("127.255.255.254"));
    BOOST_TEST(!this_host("10.0.0.1"));
    BOOST_TEST(!this_host("::2"));
}

BOOST_AUTO_TEST_CASE(versions_survive_restart_above_every_handed_out)
{
    uint64_t persisted = 0;
    uint64_t last = 0;
    {
        Model m(0);
        m.on_reserve([&](uint64_t c) { persisted = c; });
        m.restore_version(0);
        m.set_groups(parse_groups(reference_groups, "groups", false));
        for (int i = 0; i < 10; ++i)
            m.apply_report(report(i, 1, 0), i);
        last = m.version();
    }
    BOOST_TEST(persisted >= last);
    Model again(0);
    again.restore_version(persisted);
    again.set_groups(parse_groups(reference_groups, "groups", false));
    BOOST_TEST(again.version() > last);
}

BOOST_AUTO_TEST_CASE(drain_excludes_from_selection)
{
    Model m(0);
    m.set_groups(parse_groups(reference_groups, "groups", false));
    m.apply_report(report(20, 15, 0), 0);
    BOOST_TEST(m.set_draining("127.0.0.1:8081", true));
    BOOST_TEST(!m.set_draining("127.0.0.1:8081", true));
    std::mt19937_64 rng(1);
    for (int i = 0; i < 20; ++i)
        BOOST_TEST(*m.select(m.groups().groups[0], rng) == "127.0.0.1:8082");
}

BOOST_AUTO_TEST_CASE(central_selection_counts_assignments)
{
    Model m(0);
    m.set_groups(parse_groups("g a:1 1\ng b:1 1\n", "groups", false));
    m.apply_report({"n", 1000, {{"a:1", 0, State::up}, {"b:1", 0, State::up}}}, 0);
    std::mt19937_64 rng(5);
    std::map<std::string, int> n;
    for (int i = 0; i < 100; ++i)
        n[*m.select(m.groups().groups[0], rng)]++;
    // Counting its own assignments keeps the two even between reports.
    BOOST_TEST(std::abs(n["a:1"] - n["b:1"]) <= 1);
}

BOOST_AUTO_TEST_CASE(ejections_by_proxies_show_without_changing_state_or_version)
{
    Model m(0);
    m.set_groups(parse_groups(reference_groups, "groups", false));
    m.apply_report(report(20, 15, 0, State::up), 0);
    uint64_t v = m.version(), serial = m.ejection_serial();
    m.eject("127.0.0.1:8081", "proxy-a:7401", 30000);
    m.eject("127.0.0.1:8081", "proxy-b:7401", 10000);
    m.eject("127.0.0.1:8081", "proxy-a:7401", 40000);  // renewed, not counted twice
    BOOST_TEST(m.ejected_by("127.0.0.1:8081", 5000) == 2);
    BOOST_TEST(m.ejected_by("127.0.0.1:8082", 5000) == 0);
    BOOST_TEST(m.version() == v);
    BOOST_TEST(m.ejection_serial() != serial);
    auto view = m.view(5000);
    BOOST_TEST(view.groups[0].servers[0].ejected_by == 2);
    BOOST_TEST((view.groups[0].servers[0].state == State::up));
    BOOST_TEST(view.groups[0].servers[0].load == 20);
    BOOST_TEST(lbkit::api::to_json(view.groups[0].servers[0])["ejected_by"] == 2);
    // Expired ones stop counting at once and are dropped by the sweep.
    BOOST_TEST(m.ejected_by("127.0.0.1:8081", 10000) == 1);
    serial = m.ejection_serial();
    BOOST_TEST(m.expire_ejections(10000));
    BOOST_TEST(m.ejection_serial() != serial);
    BOOST_TEST(!m.expire_ejections(10001));
    BOOST_TEST(m.ejections("127.0.0.1:8081", 10000).count("proxy-a:7401") == 1u);
    BOOST_TEST(m.end_ejection("127.0.0.1:8081", "proxy-a:7401"));
    BOOST_TEST(!m.end_ejection("127.0.0.1:8081", "proxy-a:7401"));
    BOOST_TEST(m.ejected_by("127.0.0.1:8081", 10000) == 0);
    BOOST_TEST(m.version() == v);
}
