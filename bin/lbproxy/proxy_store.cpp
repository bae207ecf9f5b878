#include "proxy_store.hpp"

#include <algorithm>

namespace lbproxy::proxy_store {

using lbkit::store::Db;
using lbkit::store::Stmt;

namespace {

// migrations[i] takes user_version i to i+1; never edit a shipped one.
const std::vector<std::string> migrations = {
    R"(CREATE TABLE state (
           id INTEGER PRIMARY KEY CHECK (id = 1),
           version INTEGER NOT NULL,
           source TEXT NOT NULL,
           json TEXT NOT NULL,
           confirmed_ms INTEGER NOT NULL);
       CREATE TABLE history (
           id INTEGER PRIMARY KEY,
           time_ms INTEGER NOT NULL,
           client TEXT NOT NULL,
           method TEXT NOT NULL,
           url TEXT NOT NULL,
           grp TEXT NOT NULL,
           server TEXT NOT NULL,
           upstream_proxy TEXT NOT NULL,
           status INTEGER NOT NULL,
           bytes_in INTEGER NOT NULL,
           bytes_out INTEGER NOT NULL,
           duration_ms INTEGER NOT NULL,
           delivered INTEGER NOT NULL,
           session TEXT NOT NULL,
           error TEXT NOT NULL);
       CREATE INDEX history_time ON history (time_ms);
       CREATE TABLE client_tables (
           name TEXT PRIMARY KEY,
           version INTEGER NOT NULL,
           text TEXT NOT NULL,
           rows INTEGER NOT NULL,
           updated_ms INTEGER NOT NULL);)",
    // Every history insert paid for this index; a --since query scans
    // from the newest row instead (the table is bounded by max_rows).
    "DROP INDEX history_time;",
    // Whether a server was reached, so that a log can tell a request no
    // server answered for from one a server failed. Older rows are judged
    // as lbctl judged them before: reached when a server is named.
    R"(ALTER TABLE history ADD COLUMN reached INTEGER NOT NULL DEFAULT 0;
       UPDATE history SET reached = (server != '');)",
    // Where the table in force came from: a push (and from whom) or the
    // --proxymap file; the newest version wins, whichever it is.
    R"(ALTER TABLE client_tables ADD COLUMN origin TEXT NOT NULL DEFAULT 'push';
       ALTER TABLE client_tables ADD COLUMN source TEXT NOT NULL DEFAULT '';)",
};

const char* history_columns =
    "id, time_ms, client, method, url, grp, server, upstream_proxy, status, "
    "bytes_in, bytes_out, duration_ms, delivered, session, error, reached";

HistoryRow read_history_row(const Stmt& s)
{
    HistoryRow r;
    r.id = s.i64(0);
    Exchange& e = r.e;
    e.time_ms = s.i64(1);
    e.client = s.text(2);
    e.method = s.text(3);
    e.url = s.text(4);
    e.group = s.text(5);
    e.server = s.text(6);
    e.upstream_proxy = s.text(7);
    e.status = static_cast<int>(s.i64(8));
    e.bytes_in = s.i64(9);
    e.bytes_out = s.i64(10);
    e.duration_ms = s.i64(11);
    e.delivered = s.i64(12) != 0;
    e.session = s.text(13);
    e.error = s.text(14);
    e.reached = s.i64(15) != 0;
    return r;
}

}  // namespace

Db open(const std::string& path)
{
    // store::Db sets WAL, synchronous=NORMAL and a busy timeout, so the loop
    // thread and the history writer wait for each other instead of failing.
    return Db(path, migrations);
}

std::optional<SavedState> load_state(Db& db)
{
    Stmt s = db.prepare("SELECT version, source, json, confirmed_ms FROM state WHERE id = 1");
    if (!s.step()) return std::nullopt;
    SavedState st;
    st.version = static_cast<uint64_t>(s.i64(0));
    st.source = s.text(1);
    st.json = s.text(2);
    st.confirmed_ms = s.i64(3);
    return st;
}

void save_state(Db& db, const SavedState& st)
{
    db.prepare("INSERT INTO state (id, version, source, json, confirmed_ms) VALUES (1, ?, ?, ?, ?) "
               "ON CONFLICT (id) DO UPDATE SET version = excluded.version, source = excluded.source, "
               "json = excluded.json, confirmed_ms = excluded.confirmed_ms")
        .bind_all(static_cast<int64_t>(st.version), st.source, st.json, st.confirmed_ms)
        .run();
}

void save_confirmed(Db& db, int64_t confirmed_ms)
{
    db.prepare("UPDATE state SET confirmed_ms = ? WHERE id = 1").bind_all(confirmed_ms).run();
}

namespace {

constexpr std::size_t rows_per_insert = 16;
constexpr int history_insert_columns = 15;

std::string history_insert(std::size_t rows)
{
    std::string sql = "INSERT INTO history (time_ms, client, method, url, grp, server, upstream_proxy, status, "
                      "bytes_in, bytes_out, duration_ms, delivered, session, error, reached) VALUES ";
    for (std::size_t i = 0; i < rows; ++i)
        sql += i ? ", (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)" : "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    return sql;
}

// Binds n rows to a statement made by history_insert(n) and runs it.
void insert_rows(Stmt& s, const Exchange* rows, std::size_t n)
{
    for (std::size_t r = 0; r < n; ++r) {
        const Exchange& e = rows[r];
        int i = int(r) * history_insert_columns;
        s.bind(i + 1, e.time_ms);
        s.bind_view(i + 2, e.client).bind_view(i + 3, e.method).bind_view(i + 4, e.url);
        s.bind_view(i + 5, e.group).bind_view(i + 6, e.server).bind_view(i + 7, e.upstream_proxy);
        s.bind(i + 8, e.status).bind(i + 9, e.bytes_in).bind(i + 10, e.bytes_out);
        s.bind(i + 11, e.duration_ms).bind(i + 12, e.delivered ? 1 : 0);
        s.bind_view(i + 13, e.session).bind_view(i + 14, e.error).bind(i + 15, e.reached ? 1 : 0);
    }
    s.run();
}

}  // namespace

HistoryAppender::HistoryAppender(Db& db)
    : db_(db),
      many_(db.prepare(history_insert(rows_per_insert))),
      one_(db.prepare(history_insert(1))),
      // Rows are only ever deleted from the old end, so ids stay contiguous
      // and max(id) - max_rows is exactly the cut.
      trim_(db.prepare("DELETE FROM history WHERE id <= (SELECT MAX(id) FROM history) - ?"))
{
}

void HistoryAppender::append(const std::vector<Exchange>& rows, int64_t max_rows)
{
    lbkit::store::Transaction tx(db_);
    std::size_t i = 0;
    for (; i + rows_per_insert <= rows.size(); i += rows_per_insert)
        insert_rows(many_, &rows[i], rows_per_insert);
    for (; i < rows.size(); ++i)
        insert_rows(one_, &rows[i], 1);
    trim_.bind(1, max_rows).run();
    tx.commit();
}

std::vector<HistoryRow> query_history(Db& db, const HistoryFilter& f)
{
    std::string sql = std::string("SELECT ") + history_columns +
        " FROM history WHERE time_ms >= ?1"
        " AND (?2 IS NULL OR server = ?2)"
        " AND (?3 IS NULL OR grp = ?3 COLLATE NOCASE)"  // group names are host names
        " AND (?4 = 0 OR error != '' OR delivered = 0 OR status = 0 OR status >= 500)"
        " ORDER BY id DESC LIMIT ?5";
    Stmt s = db.prepare(sql);
    s.bind_all(f.since_ms, f.server, f.group, static_cast<int64_t>(f.failed_only ? 1 : 0), f.limit);
    std::vector<HistoryRow> out;
    while (s.step()) out.push_back(read_history_row(s));
    std::reverse(out.begin(), out.end());
    return out;
}

int64_t history_count(Db& db)
{
    Stmt s = db.prepare("SELECT COUNT(*) FROM history");
    return s.step() ? s.i64(0) : 0;
}

std::optional<StoredTable> load_table(Db& db, const std::string& name)
{
    Stmt s = db.prepare("SELECT name, version, text, rows, updated_ms, origin, source FROM client_tables "
                        "WHERE name = ?");
    s.bind_all(name);
    if (!s.step()) return std::nullopt;
    return StoredTable{s.text(0), s.i64(1), s.text(2), s.i64(3), s.i64(4), s.text(5), s.text(6)};
}

std::vector<StoredTable> list_tables(Db& db)
{
    Stmt s = db.prepare("SELECT name, version, '', rows, updated_ms, origin, source FROM client_tables ORDER BY name");
    std::vector<StoredTable> out;
    while (s.step()) out.push_back({s.text(0), s.i64(1), s.text(2), s.i64(3), s.i64(4), s.text(5), s.text(6)});
    return out;
}

void save_table(Db& db, const StoredTable& t)
{
    db.prepare("INSERT INTO client_tables (name, version, text, rows, updated_ms, origin, source) "
               "VALUES (?, ?, ?, ?, ?, ?, ?) "
               "ON CONFLICT (name) DO UPDATE SET version = excluded.version, text = excluded.text, "
               "rows = excluded.rows, updated_ms = excluded.updated_ms, origin = excluded.origin, "
               "source = excluded.source")
        .bind_all(t.name, t.version, t.text, t.rows, t.updated_ms, t.origin, t.source)
        .run();
}

}  // namespace lbproxy::proxy_store
