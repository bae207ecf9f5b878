// lbproxy's admin API (lbproxy(8), Admin API), one route per row; rows marked
// mutating need the token:
//   POST /v1/state              state pushed by lbstated (?source=host:port)
//   GET  /v1/state[?group=G]    what the proxy knows, with local suspect/in-flight
//   GET  /v1/history            ?since=UNIX_SECONDS&server=S&group=G&failed=1&limit=N
//   GET  /v1/tables             the stored client tables and their versions
//   GET  /v1/tables/NAME        one table's text
//   PUT  /v1/tables/NAME        {"version":N,"table":"..."}: older or equal -> 409;
//                               a table this release does not use -> 501
//   GET  /v1/proxymap           the proxy map in force, proxies in the order tried now
// GET /metrics and /v1/health come with lbkit::httpd::Server.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "api.hpp"
#include "httpd.hpp"
#include "metrics.hpp"
#include "state_book.hpp"

namespace lbkit::store { class Db; }

namespace lbproxy {

class HistoryQueries;
class HistoryStore;
class ProxyMapSource;
class StateSources;

struct AdminDeps {
    StateBook& book;
    StateSources& sources;
    lbkit::store::Db& db;
    HistoryStore& history;
    HistoryQueries& queries;  // GET /v1/history, off the loop
    ProxyMapSource& proxymap;  // takes pushed proxy maps; GET /v1/proxymap
    lbkit::Metrics& metrics;
    std::string mode;     // --state-mode, for GET /v1/state
    std::string policy;   // --policy
    // Applies a state to the book and persists it; throws BadInput.
    std::function<StateBook::Outcome(lbkit::api::StateView, const std::string& source)> receive;
};

std::vector<lbkit::httpd::Route> admin_routes(AdminDeps& deps);

}  // namespace lbproxy
