// Which proxy map is in force (lbproxy(8), Upstream proxies): the
// --proxymap file or a table pushed to PUT /v1/tables/proxymap, whichever
// has the newest version. A file's version is its modification time in
// whole seconds, what lbpush sends by default, so pushing the same file
// changes nothing. The table in force is kept in the state file
// (client_tables, with its origin) and is in force again after a restart
// unless the file is newer. Reload is all or nothing: a bad file is
// refused with FILE:LINE and the table in force stays.
#pragma once
#include <cstdint>
#include <string>

#include "proxy_map.hpp"
#include "proxy_store.hpp"
#include "store.hpp"

namespace lbproxy {

class ProxyMapSource {
public:
    // file: --proxymap, or "" for none.
    ProxyMapSource(lbkit::store::Db& db, std::string file) : db_(db), file_(std::move(file)) {}

    // At start: the stored table, then the file when it is newer. Throws
    // BadInput ("FILE:LINE: reason") for a bad file, Error(EX_NOINPUT) when
    // it cannot be read.
    void start();
    // SIGHUP: the file again, taken when it is newer than the table in
    // force; refusals are logged, never thrown.
    void reload();
    // A push the tables API accepted (checked, newer, stored).
    void pushed(const proxy_store::StoredTable& t);

    const ProxyMap& current() const { return map_; }

    // lbproxy -n: the file parses (throws as start).
    static void check_file(const std::string& file);

private:
    struct FileTable {
        int64_t version = 0;
        std::string text;
    };
    static FileTable read(const std::string& file);
    void take(const proxy_store::StoredTable& t);
    void take_file(const FileTable& f);
    std::string describe() const;

    lbkit::store::Db& db_;
    std::string file_;
    ProxyMap map_;
};

}  // namespace lbproxy
