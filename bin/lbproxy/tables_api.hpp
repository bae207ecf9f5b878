// GET/PUT /v1/tables/{proxymap,charsets,sessions} (from lbpush): a table is
// replaced only by a newer version (else 409) whose every line is valid
// (else 400 "NAME:LINE: reason"); the stored one stays in force otherwise.
// A table no part of lbproxy uses is refused with 501: accepted, it would
// have no effect.
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "httpd.hpp"
#include "metrics.hpp"
#include "proxy_store.hpp"
#include "store.hpp"

namespace lbproxy {

// Who uses each table: called with a push once it is checked and stored.
using TableUsers = std::map<std::string, std::function<void(const proxy_store::StoredTable&)>>;

std::vector<lbkit::httpd::Route> tables_routes(lbkit::store::Db& db, lbkit::Metrics& metrics, TableUsers users);

}  // namespace lbproxy
