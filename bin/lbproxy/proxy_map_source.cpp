#include "proxy_map_source.hpp"

#include <sys/stat.h>

#include <cerrno>

#include "clock.hpp"
#include "error.hpp"
#include "log.hpp"
#include "table.hpp"

namespace lbproxy {

namespace log = lbkit::log;

ProxyMapSource::FileTable ProxyMapSource::read(const std::string& file)
{
    struct stat st{};
    // The time before the text: an edit in between is seen by the next reload.
    if (stat(file.c_str(), &st) != 0)
        throw lbkit::Error(EX_NOINPUT, file + ": " + lbkit::errno_text(errno));
    FileTable f{static_cast<int64_t>(st.st_mtime), lbkit::table::read_file(file)};
    lbkit::client_tables::parse_proxymap(f.text, file);
    return f;
}

void ProxyMapSource::check_file(const std::string& file)
{
    if (!file.empty()) read(file);
}

void ProxyMapSource::take(const proxy_store::StoredTable& t)
{
    ProxyMap m;
    m.rules = lbkit::client_tables::parse_proxymap(t.text, t.origin == "file" ? t.source : "proxymap");
    m.version = t.version;
    m.origin = t.origin;
    m.source = t.source;
    map_ = std::move(m);
}

void ProxyMapSource::take_file(const FileTable& f)
{
    proxy_store::StoredTable t{"proxymap", f.version, f.text, 0, lbkit::unix_ms(), "file", file_};
    take(t);
    t.rows = static_cast<int64_t>(map_.rules.size());
    proxy_store::save_table(db_, t);
}

std::string ProxyMapSource::describe() const
{
    if (map_.version == 0) return "no proxy map: every host is reached DIRECT";
    return "proxy map version " + std::to_string(map_.version) + " from " +
           (map_.origin == "file" ? map_.source : "a push by " + map_.source) + " in force (" +
           std::to_string(map_.rules.size()) + " rules)";
}

void ProxyMapSource::start()
{
    if (auto stored = proxy_store::load_table(db_, "proxymap")) {
        try {
            take(*stored);
        } catch (const lbkit::BadInput& e) {
            log::warn("stored proxy map ignored: ", e.what());
        }
    }
    if (!file_.empty()) {
        FileTable f = read(file_);
        // The same version from the same file: the file as it is now.
        bool same_file = map_.origin == "file" && map_.source == file_ && f.version == map_.version;
        if (f.version > map_.version || same_file) take_file(f);
        else
            log::info("proxy map ", file_, ": version ", f.version, " is older than version ", map_.version,
                      " in force");
    }
    log::info(describe());
}

void ProxyMapSource::reload()
{
    if (file_.empty()) return;
    FileTable f;
    try {
        f = read(file_);
    } catch (const std::exception& e) {
        log::error("reload: proxy map refused: ", e.what(), "; ", describe());
        return;
    }
    if (f.version <= map_.version) {
        if (!(map_.origin == "file" && f.version == map_.version))
            log::info("reload: proxy map ", file_, ": version ", f.version, " is not newer than version ",
                      map_.version, " in force");
        return;
    }
    take_file(f);
    log::info("reload: ", describe());
}

void ProxyMapSource::pushed(const proxy_store::StoredTable& t)
{
    take(t);
    log::info(describe());
}

}  // namespace lbproxy
