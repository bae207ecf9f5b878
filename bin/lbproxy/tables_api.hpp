// GET/PUT /v1/tables/{proxymap,charsets,sessions} (from lbpush): a table is
// replaced only by a newer version (else 409) whose every line is valid
// (else 400 "NAME:LINE: reason"); the stored one stays in force otherwise.
#pragma once
#include <vector>

#include "httpd.hpp"
#include "metrics.hpp"
#include "store.hpp"

namespace lbproxy {

std::vector<lbkit::httpd::Route> tables_routes(lbkit::store::Db& db, lbkit::Metrics& metrics);

}  // namespace lbproxy
