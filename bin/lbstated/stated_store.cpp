#include "stated_store.hpp"

#include <ctime>

namespace lbstated {
namespace {

const std::vector<std::string> migrations = {
    R"(CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);
       CREATE TABLE groups_table(id INTEGER PRIMARY KEY CHECK (id = 1),
                                 text TEXT NOT NULL, source TEXT NOT NULL, file_text TEXT NOT NULL);
       CREATE TABLE pins(server TEXT PRIMARY KEY, state TEXT, load REAL, ratio REAL, set_at INTEGER NOT NULL);
       CREATE TABLE drains(server TEXT PRIMARY KEY, set_at INTEGER NOT NULL);
       CREATE TABLE subscribers(id INTEGER PRIMARY KEY AUTOINCREMENT, url TEXT NOT NULL UNIQUE,
                                mode TEXT NOT NULL, interval_ms INTEGER NOT NULL, created_at INTEGER NOT NULL);)",
    // Where the table in force came from, for GET /v1/groups and the start log.
    R"(ALTER TABLE groups_table ADD COLUMN from_api INTEGER NOT NULL DEFAULT 0;
       ALTER TABLE groups_table ADD COLUMN set_ms INTEGER NOT NULL DEFAULT 0;
       UPDATE groups_table SET from_api = (source LIKE 'api%');)",
};

int64_t now_s() { return static_cast<int64_t>(std::time(nullptr)); }

}  // namespace

StatedStore::StatedStore(const std::string& path) : db_(path, migrations) {}

uint64_t StatedStore::version_ceiling()
{
    auto s = db_.prepare("SELECT value FROM meta WHERE key = 'version_ceiling'");
    return s.step() ? static_cast<uint64_t>(s.i64(0)) : 0;
}

void StatedStore::set_version_ceiling(uint64_t v)
{
    db_.prepare("INSERT INTO meta(key, value) VALUES('version_ceiling', ?1) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value")
        .bind_all(static_cast<int64_t>(v))
        .run();
}

std::optional<StoredGroups> StatedStore::groups()
{
    auto s = db_.prepare("SELECT text, source, file_text, from_api, set_ms FROM groups_table WHERE id = 1");
    if (!s.step())
        return std::nullopt;
    return StoredGroups{s.text(0), s.text(1), s.text(2), s.i64(3) != 0, s.i64(4)};
}

void StatedStore::save_groups(const StoredGroups& g)
{
    db_.prepare("INSERT INTO groups_table(id, text, source, file_text, from_api, set_ms) VALUES(1, ?1, ?2, ?3, ?4, ?5) "
                "ON CONFLICT(id) DO UPDATE SET text = excluded.text, source = excluded.source, "
                "file_text = excluded.file_text, from_api = excluded.from_api, set_ms = excluded.set_ms")
        .bind_all(g.text, g.source, g.file_text, static_cast<int64_t>(g.from_api ? 1 : 0), g.set_ms)
        .run();
}

std::vector<std::pair<std::string, lbkit::api::Pin>> StatedStore::pins()
{
    std::vector<std::pair<std::string, lbkit::api::Pin>> out;
    auto s = db_.prepare("SELECT server, state, load, ratio FROM pins ORDER BY server");
    while (s.step()) {
        lbkit::api::Pin p;
        if (!s.is_null(1)) p.state = lbkit::api::state_from_string(s.text(1), "pins.state");
        if (!s.is_null(2)) p.load = s.f64(2);
        if (!s.is_null(3)) p.ratio = s.f64(3);
        out.emplace_back(s.text(0), p);
    }
    return out;
}

void StatedStore::save_pin(const std::string& server, const lbkit::api::Pin& p)
{
    std::optional<std::string> state;
    if (p.state) state = lbkit::api::to_string(*p.state);
    db_.prepare("INSERT INTO pins(server, state, load, ratio, set_at) VALUES(?1, ?2, ?3, ?4, ?5) "
                "ON CONFLICT(server) DO UPDATE SET state = excluded.state, load = excluded.load, "
                "ratio = excluded.ratio, set_at = excluded.set_at")
        .bind_all(server, state, p.load, p.ratio, now_s())
        .run();
}

void StatedStore::delete_pin(const std::string& server)
{
    db_.prepare("DELETE FROM pins WHERE server = ?1").bind_all(server).run();
}

std::vector<std::string> StatedStore::drains()
{
    std::vector<std::string> out;
    auto s = db_.prepare("SELECT server FROM drains ORDER BY server");
    while (s.step())
        out.push_back(s.text(0));
    return out;
}

void StatedStore::set_drain(const std::string& server, bool on)
{
    if (on)
        db_.prepare("INSERT OR IGNORE INTO drains(server, set_at) VALUES(?1, ?2)").bind_all(server, now_s()).run();
    else
        db_.prepare("DELETE FROM drains WHERE server = ?1").bind_all(server).run();
}

std::vector<StoredSubscriber> StatedStore::subscribers()
{
    std::vector<StoredSubscriber> out;
    auto s = db_.prepare("SELECT id, url, mode, interval_ms FROM subscribers ORDER BY id");
    while (s.step()) {
        StoredSubscriber sub;
        sub.id = s.i64(0);
        sub.spec.url = s.text(1);
        sub.spec.mode = s.text(2) == "periodic" ? lbkit::api::PushMode::periodic : lbkit::api::PushMode::change;
        sub.spec.interval_ms = s.i64(3);
        out.push_back(std::move(sub));
    }
    return out;
}

int64_t StatedStore::save_subscriber(const lbkit::api::Subscriber& sub)
{
    db_.prepare("INSERT INTO subscribers(url, mode, interval_ms, created_at) VALUES(?1, ?2, ?3, ?4) "
                "ON CONFLICT(url) DO UPDATE SET mode = excluded.mode, interval_ms = excluded.interval_ms")
        .bind_all(sub.url, std::string(lbkit::api::to_string(sub.mode)), sub.interval_ms, now_s())
        .run();
    auto s = db_.prepare("SELECT id FROM subscribers WHERE url = ?1");
    s.bind_all(sub.url);
    s.step();
    return s.i64(0);
}

bool StatedStore::delete_subscriber(int64_t id)
{
    db_.prepare("DELETE FROM subscribers WHERE id = ?1").bind_all(id).run();
    return sqlite3_changes(db_.handle()) > 0;
}

}  // namespace lbstated
