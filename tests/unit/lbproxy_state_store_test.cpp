// lbproxy's SQLite file: state round trip, state saver, history writer,
// history queries off the loop, client tables.
#define BOOST_TEST_MODULE lbproxy_state_store
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>

#include "history_query.hpp"
#include "history_store.hpp"
#include "loop.hpp"
#include "proxy_store.hpp"
#include "state_book.hpp"
#include "state_saver.hpp"

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

// Batches are inserted 16 rows per statement, the rest one by one: every
// row must come back whole and in order whichever statement carried it.
BOOST_AUTO_TEST_CASE(appender_keeps_every_field_of_every_row)
{
    TempDir dir;
    auto db = proxy_store::open(dir.db());
    std::vector<Exchange> batch;
    for (int i = 0; i < 37; ++i) {
        Exchange e = exchange(i, "s" + std::to_string(i) + ":80", 200 + i, i % 2 == 0, i % 3 ? "" : "e" + std::to_string(i));
        e.client = "127.0.0.1:" + std::to_string(40000 + i);
        e.method = i % 2 ? "POST" : "GET";
        e.url = "http://host1.a.co.jp/" + std::string(std::size_t(i), 'u');
        e.upstream_proxy = i % 5 ? "DIRECT" : "proxy" + std::to_string(i) + ":8080";
        e.bytes_in = 1000 + i;
        e.bytes_out = 2000 + i;
        e.duration_ms = 3000 + i;
        e.session = i % 4 ? "" : "c" + std::to_string(i) + ".s";
        e.reached = i % 3 != 1;
        batch.push_back(e);
    }
    proxy_store::HistoryAppender appender(db);
    appender.append(batch, 1000);
    proxy_store::HistoryFilter f;
    f.limit = 1000;
    auto rows = proxy_store::query_history(db, f);
    BOOST_REQUIRE(rows.size() == batch.size());
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const Exchange& got = rows[i].e;
        const Exchange& want = batch[i];
        BOOST_TEST_CONTEXT("row " << i)
        {
            BOOST_TEST(got.time_ms == want.time_ms);
            BOOST_TEST(got.client == want.client);
            BOOST_TEST(got.method == want.method);
            BOOST_TEST(got.url == want.url);
            BOOST_TEST(got.group == want.group);
            BOOST_TEST(got.server == want.server);
            BOOST_TEST(got.upstream_proxy == want.upstream_proxy);
            BOOST_TEST(got.status == want.status);
            BOOST_TEST(got.bytes_in == want.bytes_in);
            BOOST_TEST(got.bytes_out == want.bytes_out);
            BOOST_TEST(got.duration_ms == want.duration_ms);
            BOOST_TEST(got.delivered == want.delivered);
            BOOST_TEST(got.session == want.session);
            BOOST_TEST(got.error == want.error);
            BOOST_TEST(got.reached == want.reached);
        }
    }
    // A second batch over the bound keeps the newest max_rows.
    appender.append(batch, 40);
    rows = proxy_store::query_history(db, f);
    BOOST_REQUIRE(rows.size() == 40u);
    BOOST_TEST(rows.front().e.time_ms == 34);
    BOOST_TEST(rows.back().e.time_ms == 36);
}

// A file written before rows said whether a server was reached: its rows
// are judged reached when they name a server.
BOOST_AUTO_TEST_CASE(rows_from_before_reached_are_judged_by_their_server)
{
    TempDir dir;
    {
        // The history and client tables as the first two migrations left them.
        lbkit::store::Db old(dir.db(), {R"(CREATE TABLE history (
               id INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL, client TEXT NOT NULL,
               method TEXT NOT NULL, url TEXT NOT NULL, grp TEXT NOT NULL, server TEXT NOT NULL,
               upstream_proxy TEXT NOT NULL, status INTEGER NOT NULL, bytes_in INTEGER NOT NULL,
               bytes_out INTEGER NOT NULL, duration_ms INTEGER NOT NULL, delivered INTEGER NOT NULL,
               session TEXT NOT NULL, error TEXT NOT NULL);
               CREATE INDEX history_time ON history (time_ms);
               CREATE TABLE client_tables (name TEXT PRIMARY KEY, version INTEGER NOT NULL,
               text TEXT NOT NULL, rows INTEGER NOT NULL, updated_ms INTEGER NOT NULL);)",
                                           "DROP INDEX history_time;"});
        old.exec("INSERT INTO history (time_ms, client, method, url, grp, server, upstream_proxy, status, "
                 "bytes_in, bytes_out, duration_ms, delivered, session, error) VALUES "
                 "(1, 'c', 'GET', 'u', 'g', 's1:80', 'DIRECT', 200, 1, 2, 3, 1, '', ''), "
                 "(2, 'c', 'GET', 'u', 'g', '', 'DIRECT', 503, 1, 2, 3, 1, '', 'none up')");
    }
    auto db = proxy_store::open(dir.db());
    auto rows = proxy_store::query_history(db, {});
    BOOST_REQUIRE(rows.size() == 2u);
    BOOST_TEST(rows[0].e.reached);
    BOOST_TEST(!rows[1].e.reached);
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

// Runs the loop until the query is answered; returns the seconds it took.
double run_query(lbkit::Loop& loop, HistoryQueries& queries, std::shared_ptr<HistoryQuery>& q,
                 proxy_store::HistoryFilter f)
{
    auto t0 = std::chrono::steady_clock::now();
    q = queries.submit(std::move(f), true);
    BOOST_REQUIRE(q);
    lbkit::Timer give_up(loop, [&loop] { event_base_loopbreak(loop.base()); });
    give_up.start(lbkit::Millis{20000});
    loop.run();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The history writer holds a batch it cannot commit (another connection
// holds the write lock, as a slow disk would): a query answers at once
// with what is committed, through the loop, without waiting for the batch.
BOOST_AUTO_TEST_CASE(a_query_answers_at_once_while_the_writer_holds_a_batch)
{
    TempDir dir;
    auto db = proxy_store::open(dir.db());
    HistoryStore h(dir.db(), HistoryLimits{1000});
    h.record(exchange(1000, "a:80", 200, true));
    BOOST_REQUIRE(h.sync(lbkit::Millis{5000}));

    lbkit::Loop loop;
    int answered = 0;
    HistoryQueries queries(loop, dir.db(), [&] { ++answered; event_base_loopbreak(loop.base()); });
    {
        lbkit::store::Transaction lock(db);  // the writer's next commit waits (busy timeout: 5 s)
        h.record(exchange(2000, "b:80", 200, true));
        BOOST_TEST(!h.sync(lbkit::Millis{300}));  // the batch is held
        std::shared_ptr<HistoryQuery> q;
        double took = run_query(loop, queries, q, {});
        BOOST_TEST(took < 2.0);
        BOOST_TEST(answered == 1);
        BOOST_REQUIRE(q->done.load());
        BOOST_TEST(q->error.empty());
        auto j = nlohmann::json::parse(q->body);
        BOOST_REQUIRE(j["rows"].size() == 1u);
        BOOST_TEST(j["rows"][0]["server"] == "a:80");
        BOOST_TEST(j["enabled"] == true);
    }
    BOOST_TEST(h.sync(lbkit::Millis{5000}));  // the lock gone, the batch is committed
    std::shared_ptr<HistoryQuery> q;
    run_query(loop, queries, q, {});
    BOOST_TEST(nlohmann::json::parse(q->body)["rows"].size() == 2u);
}

BOOST_AUTO_TEST_CASE(a_query_applies_its_filter_and_reports_errors)
{
    TempDir dir;
    HistoryStore h(dir.db(), HistoryLimits{1000});
    for (int i = 0; i < 5; ++i) h.record(exchange(i, i % 2 ? "b:80" : "a:80", 200, true));
    BOOST_REQUIRE(h.sync(lbkit::Millis{5000}));
    lbkit::Loop loop;
    HistoryQueries queries(loop, dir.db(), [&] { event_base_loopbreak(loop.base()); });
    std::shared_ptr<HistoryQuery> q;
    proxy_store::HistoryFilter f;
    f.server = "b:80";
    run_query(loop, queries, q, f);
    auto rows = nlohmann::json::parse(q->body)["rows"];
    BOOST_REQUIRE(rows.size() == 2u);
    BOOST_TEST(rows[0]["time_ms"] == 1);  // oldest first
    BOOST_TEST(rows[1]["time_ms"] == 3);

    // The reader cannot write, and a broken table is an error, not a crash.
    auto db = proxy_store::open(dir.db());
    db.exec("ALTER TABLE history RENAME TO history_gone");
    run_query(loop, queries, q, {});
    BOOST_TEST(q->body.empty());
    BOOST_TEST(q->error.find("history") != std::string::npos);
}

// The thread busy with a large query (tens of ms), questions that arrive
// meanwhile queue up to the bound and the next one is refused at once.
BOOST_AUTO_TEST_CASE(queries_beyond_the_bound_are_refused)
{
    TempDir dir;
    {
        auto db = proxy_store::open(dir.db());
        proxy_store::HistoryAppender appender(db);
        std::vector<Exchange> rows(20000, exchange(1, "a:80", 200, true));
        appender.append(rows, 100000);
    }
    lbkit::Loop loop;
    int answered = 0;
    HistoryQueries queries(loop, dir.db(), [&] { ++answered; event_base_loopbreak(loop.base()); }, 2);
    proxy_store::HistoryFilter all;
    all.limit = 20000;
    std::vector<std::shared_ptr<HistoryQuery>> accepted;
    int refused = 0;
    for (int i = 0; i < 6; ++i) {
        if (auto q = queries.submit(all, true)) accepted.push_back(q);
        else ++refused;
    }
    // Two wait at most, plus the one the thread may have taken already.
    BOOST_TEST(accepted.size() >= 2u);
    BOOST_TEST(accepted.size() <= 3u);
    BOOST_TEST(refused == 6 - int(accepted.size()));
    lbkit::Timer give_up(loop, [&loop] { event_base_loopbreak(loop.base()); });
    give_up.start(lbkit::Millis{30000});
    while (!accepted.back()->done.load() && give_up.pending()) loop.run();
    for (auto& q : accepted) BOOST_TEST(nlohmann::json::parse(q->body)["rows"].size() == 20000u);
    BOOST_TEST(answered >= 1);
}

BOOST_AUTO_TEST_CASE(the_state_saver_writes_the_newest_state_and_confirmation)
{
    TempDir dir;
    {
        StateSaver saver(dir.db());
        for (uint64_t v = 1; v <= 200; ++v) saver.save({v, "127.0.0.1:7400", "{\"version\":" + std::to_string(v) + "}", 10});
        saver.save_confirmed(5000);
        BOOST_TEST(saver.flush(lbkit::Millis{5000}));
        BOOST_TEST(saver.writes() <= 201u);
        auto db = proxy_store::open(dir.db());
        auto s = proxy_store::load_state(db);
        BOOST_REQUIRE(s.has_value());
        BOOST_TEST(s->version == 200u);
        BOOST_TEST(s->confirmed_ms == 5000);
        saver.save({201, "127.0.0.1:7400", "{}", 6000});
    }  // destruction writes what is waiting
    auto db = proxy_store::open(dir.db());
    auto s = proxy_store::load_state(db);
    BOOST_REQUIRE(s.has_value());
    BOOST_TEST(s->version == 201u);
    BOOST_TEST(s->confirmed_ms == 6000);
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
