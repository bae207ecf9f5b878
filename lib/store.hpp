// SQLite state files: one database per daemon, WAL, schema versioned with
// PRAGMA user_version and migrated on open. Prepared statements only: values
// are always bound, never pasted into SQL.
#pragma once
#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lbkit::store {

class Stmt {
public:
    Stmt(sqlite3* db, const std::string& sql);
    Stmt(Stmt&&) noexcept = default;
    Stmt& operator=(Stmt&&) noexcept = default;

    Stmt& bind(int idx, int64_t v);
    Stmt& bind(int idx, int v) { return bind(idx, static_cast<int64_t>(v)); }
    Stmt& bind(int idx, double v);
    Stmt& bind(int idx, const std::string& v);
    Stmt& bind(int idx, const char* v) { return bind(idx, std::string(v)); }
    Stmt& bind(int idx, std::nullptr_t);
    // Binds text without copying it: v must stay valid until the statement
    // is next reset (bulk inserts, where the copy is most of the cost).
    Stmt& bind_view(int idx, std::string_view v);
    template <typename T>
    Stmt& bind(int idx, const std::optional<T>& v) { return v ? bind(idx, *v) : bind(idx, nullptr); }

    // Binds 1..N in order.
    template <typename... Args>
    Stmt& bind_all(const Args&... args) { int i = 0; (bind(++i, args), ...); return *this; }

    bool step();   // true: a row is ready
    void run();    // step to the end, then reset
    void reset();  // reset and clear bindings

    bool is_null(int col) const;
    int64_t i64(int col) const;
    double f64(int col) const;
    std::string text(int col) const;

private:
    struct Finalize { void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); } };
    sqlite3* db_;
    std::unique_ptr<sqlite3_stmt, Finalize> stmt_;
};

class Db {
public:
    // migrations[i] takes the schema from user_version i to i+1.
    // Throws Error(EX_CANTCREAT/EX_SOFTWARE) with the path and SQLite's sentence.
    Db(const std::string& path, const std::vector<std::string>& migrations);
    sqlite3* handle() const { return db_.get(); }
    Stmt prepare(const std::string& sql) { return Stmt(db_.get(), sql); }
    // Runs fixed SQL with no parameters (migrations, BEGIN/COMMIT).
    void exec(const std::string& sql);
    int user_version();
    const std::string& path() const { return path_; }

private:
    struct Close { void operator()(sqlite3* d) const { sqlite3_close_v2(d); } };
    std::unique_ptr<sqlite3, Close> db_;
    std::string path_;
};

// BEGIN IMMEDIATE on construction; ROLLBACK unless commit() was called.
class Transaction {
public:
    explicit Transaction(Db& db);
    ~Transaction();
    void commit();

private:
    Db& db_;
    bool done_ = false;
};

// Creates dir (mode 0750) if missing; returns dir + "/" + name.
std::string state_path(const std::string& dir, const std::string& name);

// A daemon's claim on its state directory: an exclusive lock on
// DIR/DAEMON.lock, with the holder's PID written in it, held for the
// object's life. A second lbstated on the same directory would load the
// first one's subscribers and push to them as its own. Throws
// Error(EX_TEMPFAIL, "state directory DIR is in use by DAEMON (pid N)").
class StateLock {
public:
    StateLock(const std::string& dir, const std::string& daemon);
    ~StateLock();
    StateLock(const StateLock&) = delete;
    StateLock& operator=(const StateLock&) = delete;

private:
    int fd_ = -1;
};

}  // namespace lbkit::store
