#include "store.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "error.hpp"
#include "log.hpp"

namespace lbkit::store {
namespace {

[[noreturn]] void fail(sqlite3* db, const std::string& what)
{
    throw Error(EX_SOFTWARE, what + ": " + (db ? sqlite3_errmsg(db) : "out of memory"));
}

}  // namespace

Stmt::Stmt(sqlite3* db, const std::string& sql) : db_(db)
{
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), static_cast<int>(sql.size()), &s, nullptr) != SQLITE_OK)
        fail(db, "prepare '" + sql.substr(0, 60) + "'");
    stmt_.reset(s);
}

Stmt& Stmt::bind(int idx, int64_t v)
{
    if (sqlite3_bind_int64(stmt_.get(), idx, v) != SQLITE_OK) fail(db_, "bind");
    return *this;
}

Stmt& Stmt::bind(int idx, double v)
{
    if (sqlite3_bind_double(stmt_.get(), idx, v) != SQLITE_OK) fail(db_, "bind");
    return *this;
}

Stmt& Stmt::bind(int idx, const std::string& v)
{
    if (sqlite3_bind_text(stmt_.get(), idx, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT) != SQLITE_OK)
        fail(db_, "bind");
    return *this;
}

Stmt& Stmt::bind_view(int idx, std::string_view v)
{
    if (sqlite3_bind_text(stmt_.get(), idx, v.data(), static_cast<int>(v.size()), SQLITE_STATIC) != SQLITE_OK)
        fail(db_, "bind");
    return *this;
}

Stmt& Stmt::bind(int idx, std::nullptr_t)
{
    if (sqlite3_bind_null(stmt_.get(), idx) != SQLITE_OK) fail(db_, "bind");
    return *this;
}

bool Stmt::step()
{
    int rc = sqlite3_step(stmt_.get());
    if (rc == SQLITE_ROW)
        return true;
    if (rc == SQLITE_DONE)
        return false;
    std::string sql = sqlite3_sql(stmt_.get());
    sqlite3_reset(stmt_.get());
    fail(db_, "step '" + sql.substr(0, 60) + "'");
}

void Stmt::run()
{
    while (step()) {
    }
    reset();
}

void Stmt::reset()
{
    sqlite3_reset(stmt_.get());
    sqlite3_clear_bindings(stmt_.get());
}

bool Stmt::is_null(int col) const { return sqlite3_column_type(stmt_.get(), col) == SQLITE_NULL; }
int64_t Stmt::i64(int col) const { return sqlite3_column_int64(stmt_.get(), col); }
double Stmt::f64(int col) const { return sqlite3_column_double(stmt_.get(), col); }

std::string Stmt::text(int col) const
{
    auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_.get(), col));
    return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_.get(), col))) : std::string();
}

namespace {

// State files hold tokens' effects, URLs, history and tables: nobody else's
// business. SQLite creates its files 0644 and gives the -wal and -shm files
// the database file's mode, so the file is made (or tightened) 0600 first.
void restrict_mode(const std::string& path)
{
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return;  // sqlite3_open_v2 says why, with the path
    fchmod(fd, 0600);
    ::close(fd);
}

}  // namespace

Db::Db(const std::string& path, const std::vector<std::string>& migrations) : path_(path)
{
    restrict_mode(path);
    sqlite3* d = nullptr;
    int rc = sqlite3_open_v2(path.c_str(), &d, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    db_.reset(d);
    if (rc != SQLITE_OK)
        throw Error(EX_CANTCREAT, "state file " + path + ": " + (d ? sqlite3_errmsg(d) : "cannot open"));
    sqlite3_busy_timeout(d, 5000);
    // WAL with synchronous=NORMAL: a committed transaction survives kill -9
    // (it is in the WAL file); only a power loss can take the last ones.
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA synchronous=NORMAL");
    exec("PRAGMA foreign_keys=ON");
    int have = user_version();
    int want = static_cast<int>(migrations.size());
    if (have > want)
        throw Error(EX_CONFIG, "state file " + path + ": schema version " + std::to_string(have) +
                                   " is newer than this program's " + std::to_string(want));
    for (int v = have; v < want; ++v) {
        Transaction tx(*this);
        exec(migrations[static_cast<std::size_t>(v)]);
        exec("PRAGMA user_version=" + std::to_string(v + 1));
        tx.commit();
        log::debug("state file ", path, ": migrated to schema ", v + 1);
    }
}

void Db::exec(const std::string& sql)
{
    char* err = nullptr;
    if (sqlite3_exec(db_.get(), sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
        std::string msg = err ? err : "unknown error";
        sqlite3_free(err);
        throw Error(EX_SOFTWARE, "state file " + path_ + ": " + msg);
    }
}

int Db::user_version()
{
    Stmt s(db_.get(), "PRAGMA user_version");
    s.step();
    return static_cast<int>(s.i64(0));
}

Transaction::Transaction(Db& db) : db_(db)
{
    db_.exec("BEGIN IMMEDIATE");
}

Transaction::~Transaction()
{
    if (!done_) {
        try {
            db_.exec("ROLLBACK");
        } catch (const std::exception& e) {
            log::error("rollback: ", e.what());
        }
    }
}

void Transaction::commit()
{
    db_.exec("COMMIT");
    done_ = true;
}

std::string state_path(const std::string& dir, const std::string& name)
{
    if (mkdir(dir.c_str(), 0750) != 0 && errno != EEXIST)
        throw Error(EX_CANTCREAT, "state directory " + dir + ": " + errno_text(errno));
    return dir + "/" + name;
}

StateLock::StateLock(const std::string& dir, const std::string& daemon)
{
    std::string path = state_path(dir, daemon + ".lock");
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ < 0)
        throw Error(EX_CANTCREAT, "state directory " + dir + ": " + path + ": " + errno_text(errno));
    if (flock(fd_, LOCK_EX | LOCK_NB) != 0) {
        int err = errno;
        char buf[32] = {};
        ssize_t n = pread(fd_, buf, sizeof buf - 1, 0);
        std::string pid = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "";
        while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
        ::close(fd_);
        fd_ = -1;
        if (err == EWOULDBLOCK)
            throw Error(EX_TEMPFAIL, "state directory " + dir + " is in use by " + daemon +
                                         (pid.empty() ? "" : " (pid " + pid + ")") + "; stop it first or give another --state-dir");
        throw Error(EX_CANTCREAT, "state directory " + dir + ": lock " + path + ": " + errno_text(err));
    }
    std::string me = std::to_string(getpid()) + "\n";
    if (ftruncate(fd_, 0) != 0 || pwrite(fd_, me.data(), me.size(), 0) < 0)
        log::warn("state directory ", dir, ": cannot write the pid to ", path, ": ", errno_text(errno));
}

StateLock::~StateLock()
{
    if (fd_ >= 0)
        ::close(fd_);  // releases the lock; the file stays, empty of meaning
}

}  // namespace lbkit::store
