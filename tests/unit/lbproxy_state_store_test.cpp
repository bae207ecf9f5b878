// lbproxy's SQLite file: state round trip, history writer, client tables.
#define BOOST_TEST_MODULE lbproxy_state_store
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "history_store.hpp"
#include "proxy_store.hpp"
#include "state_book.hpp"

using namespace lbproxy;
namespace api = lbkit::api;
namespace fs = std::filesystem;

namespace {

struct TempDir {
    fs::path path;
    TempDir()
    {
        char tmpl[] = "/tmp/lbproxy-store-test.XXXXXX";
        path = mkdtemp(tmpl);
    }
    ~TempDir() { fs::remove_all(path); }
    std::string db() const { return (path / proxy_store::file_name).string(); }
};

Exchange exchange(int64_t t, const std::string& server, int status, bool delivered, const std::string& error = "")
{
    Exchange e;
    e.time_ms = t;
    e.client = "127.0.0.1:40000";
    e.method = "GET";
    e.url = "http://host1.a.co.jp/x";
    e.group = "host1.a.co.jp";
    e.server = server;
    e.upstream_proxy = "DIRECT";
    e.status = status;
    e.bytes_in = 80;
    e.bytes_out = 1234;
    e.duration_ms = 12;
    e.delivered = delivered;
    e.error = error;
    return e;
}

}  // namespace

BOOST_AUTO_TEST_CASE(state_survives_a_reopen_and_restores_the_book)
{
    TempDir dir;
    api::StateView v;
    v.version = 42;
    api::ServerView s;
    s.name = "web1:8080";
    s.load = 12.5;
    s.ratio = 2;
    s.state = api::State::down;
    s.pinned = true;
    v.groups.push_back({"host1.a.co.jp", {s}});
    {
        auto db = proxy_store::open(dir.db());
        BOOST_TEST(!proxy_store::load_state(db).has_value());
        proxy_store::save_state(db, {42, "127.0.0.1:7400", api::to_json(v).dump(), 1000});
        proxy_store::save_confirmed(db, 2000);
    }
    auto db = proxy_store::open(dir.db());
    auto saved = proxy_store::load_state(db);
    BOOST_REQUIRE(saved.has_value());
    BOOST_TEST(saved->version == 42u);
    BOOST_TEST(saved->source == "127.0.0.1:7400");
    BOOST_TEST(saved->confirmed_ms == 2000);
    StateBook b(lbkit::Millis{30000});
    b.restore(api::state_from_json(nlohmann::json::parse(saved->json)), saved->source, saved->confirmed_ms);
    BOOST_TEST(b.version() == 42u);
    BOOST_TEST(b.is_group("host1.a.co.jp"));
    const auto& r = b.view().groups[0].servers[0];
    BOOST_TEST(r.name == "web1:8080");
    BOOST_TEST(r.load == 12.5);
    BOOST_TEST(r.ratio == 2.0);
    BOOST_TEST(r.pinned);
    BOOST_TEST((r.state == api::State::down));
}

BOOST_AUTO_TEST_CASE(history_rows_are_written_in_batches_and_queried)
{
    TempDir dir;
    auto db = proxy_store::open(dir.db());
    HistoryStore h(dir.db(), HistoryLimits{1000});
    h.record(exchange(1000, "a:80", 200, true));
    h.record(exchange(2000, "b:80", 502, true, "connect: connection refused"));
    h.record(exchange(3000, "a:80", 200, false));
    BOOST_TEST(h.sync(lbkit::Millis{5000}));
    auto all = proxy_store::query_history(db, {});
    BOOST_REQUIRE(all.size() == 3u);
    BOOST_TEST(all[0].e.time_ms == 1000);  // oldest first
    BOOST_TEST(all[2].e.delivered == false);
    BOOST_TEST(all[1].e.error == "connect: connection refused");
    BOOST_TEST(all[0].e.bytes_out == 1234);
    BOOST_TEST(all[0].e.upstream_proxy == "DIRECT");

    proxy_store::HistoryFilter f;
    f.server = "a:80";
    BOOST_TEST(proxy_store::query_history(db, f).size() == 2u);
    f = {};
    f.failed_only = true;
    auto failed = proxy_store::query_history(db, f);
    BOOST_REQUIRE(failed.size() == 2u);
    BOOST_TEST(failed[0].e.server == "b:80");
    f = {};
    f.since_ms = 2000;
    BOOST_TEST(proxy_store::query_history(db, f).size() == 2u);
    f = {};
    f.limit = 1;
    auto newest = proxy_store::query_history(db, f);
    BOOST_REQUIRE(newest.size() == 1u);
    BOOST_TEST(newest[0].e.time_ms == 3000);
    BOOST_TEST(h.written() == 3u);
}

BOOST_AUTO_TEST_CASE(history_is_bounded_by_max_rows)
{
    TempDir dir;
    auto db = proxy_store::open(dir.db());
    HistoryStore h(dir.db(), HistoryLimits{50, 7});
    for (int i = 0; i < 200; ++i) h.record(exchange(i, "a:80", 200, true));
    BOOST_TEST(h.sync(lbkit::Millis{5000}));
    BOOST_TEST(proxy_store::history_count(db) == 50);
    proxy_store::HistoryFilter f;
    f.limit = 1000;
    auto rows = proxy_store::query_history(db, f);
    BOOST_TEST(rows.front().e.time_ms == 150);
    BOOST_TEST(rows.back().e.time_ms == 199);
}

BOOST_AUTO_TEST_CASE(stop_flushes_what_is_queued)
{
    TempDir dir;
    {
        HistoryLimits lim{1000};
        lim.flush_every = lbkit::Millis{60000};  // only stop() can write these
        HistoryStore h(dir.db(), lim);
        for (int i = 0; i < 10; ++i) h.record(exchange(i, "a:80", 200, true));
        h.stop();
        h.record(exchange(99, "a:80", 200, true));  // after stop: dropped, not lost silently
        BOOST_TEST(h.dropped() == 1u);
    }
    auto db = proxy_store::open(dir.db());
    BOOST_TEST(proxy_store::history_count(db) == 10);
}

BOOST_AUTO_TEST_CASE(a_full_queue_drops_and_counts)
{
    TempDir dir;
    HistoryLimits lim{1000, 1000, 5, lbkit::Millis{60000}};
    HistoryStore h(dir.db(), lim);
    for (int i = 0; i < 8; ++i) h.record(exchange(i, "a:80", 200, true));
    BOOST_TEST(h.dropped() == 3u);
    BOOST_TEST(h.queued() == 5u);
}

BOOST_AUTO_TEST_CASE(history_off_records_nothing)
{
    TempDir dir;
    auto db = proxy_store::open(dir.db());
    HistoryStore h(dir.db(), HistoryLimits{0});
    BOOST_TEST(!h.enabled());
    h.record(exchange(1, "a:80", 200, true));
    BOOST_TEST(h.sync(lbkit::Millis{100}));
    BOOST_TEST(proxy_store::history_count(db) == 0);
}

BOOST_AUTO_TEST_CASE(tables_are_stored_by_name_with_version)
{
    TempDir dir;
    auto db = proxy_store::open(dir.db());
    BOOST_TEST(!proxy_store::load_table(db, "proxymap").has_value());
    proxy_store::save_table(db, {"proxymap", 3, "* DIRECT\n", 1, 111});
    proxy_store::save_table(db, {"proxymap", 4, "* proxy1:3128\n", 1, 222});
    proxy_store::save_table(db, {"charsets", 1, "a EUC-JP\n", 1, 333});
    auto t = proxy_store::load_table(db, "proxymap");
    BOOST_REQUIRE(t.has_value());
    BOOST_TEST(t->version == 4);
    BOOST_TEST(t->text == "* proxy1:3128\n");
    auto all = proxy_store::list_tables(db);
    BOOST_REQUIRE(all.size() == 2u);
    BOOST_TEST(all[0].name == "charsets");
}
