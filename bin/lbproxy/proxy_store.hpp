// lbproxy's SQLite file (--state-dir/lbproxy.db): the last state received
// from lbstated, the relay history and the pushed client tables. Plain
// functions over a store::Db, so the loop thread and the history writer
// thread each use their own connection to the same file.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "history.hpp"
#include "store.hpp"

namespace lbproxy::proxy_store {

inline constexpr const char* file_name = "lbproxy.db";

// Opens (creating and migrating) the database; throws Error.
lbkit::store::Db open(const std::string& path);

// --- last known state -------------------------------------------------------
struct SavedState {
    uint64_t version = 0;
    std::string source;      // state server (host:port) it came from
    std::string json;        // the StateView as lbstated sent it
    int64_t confirmed_ms = 0;  // Unix ms when a state server last confirmed it
};
std::optional<SavedState> load_state(lbkit::store::Db& db);
void save_state(lbkit::store::Db& db, const SavedState& s);
void save_confirmed(lbkit::store::Db& db, int64_t confirmed_ms);

// --- history ------------------------------------------------------------------
// The history writer's statements, prepared once: a batch is inserted
// several rows per statement with its text bound in place, since the
// writer thread's share of the CPU is taken from the proxy on a busy box.
class HistoryAppender {
public:
    explicit HistoryAppender(lbkit::store::Db& db);
    // Appends rows in one transaction, then deletes the oldest beyond max_rows.
    void append(const std::vector<Exchange>& rows, int64_t max_rows);

private:
    lbkit::store::Db& db_;
    lbkit::store::Stmt many_;  // rows_per_insert rows
    lbkit::store::Stmt one_;
    lbkit::store::Stmt trim_;
};

struct HistoryFilter {
    int64_t since_ms = 0;
    std::optional<std::string> server;
    std::optional<std::string> group;
    bool failed_only = false;  // error set, not delivered, no status or 5xx
    int64_t limit = 100;
};
struct HistoryRow {
    int64_t id = 0;
    Exchange e;
};
// The newest `limit` rows matching, oldest first.
std::vector<HistoryRow> query_history(lbkit::store::Db& db, const HistoryFilter& f);
int64_t history_count(lbkit::store::Db& db);

// --- pushed tables ------------------------------------------------------------
struct StoredTable {
    std::string name;
    int64_t version = 0;
    std::string text;
    int64_t rows = 0;
    int64_t updated_ms = 0;
    std::string origin = "push";  // "push", or "file" (lbproxy --proxymap)
    std::string source;           // the pushing peer, or the file
};
std::optional<StoredTable> load_table(lbkit::store::Db& db, const std::string& name);
std::vector<StoredTable> list_tables(lbkit::store::Db& db);
void save_table(lbkit::store::Db& db, const StoredTable& t);


}  // namespace lbproxy::proxy_store
