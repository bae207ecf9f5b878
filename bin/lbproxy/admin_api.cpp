#include "admin_api.hpp"

#include <cmath>

#include "error.hpp"
#include "history_query.hpp"
#include "history_store.hpp"
#include "log.hpp"
#include "proxy_map_source.hpp"
#include "proxy_store.hpp"
#include "state_source.hpp"
#include "tables_api.hpp"
#include "upstream_proxies.hpp"

namespace lbproxy {

using lbkit::httpd::HttpError;
using lbkit::httpd::Request;
using lbkit::httpd::Response;
using Json = nlohmann::json;

namespace {

Response post_state(AdminDeps& d, Request& req)
{
    std::string source = req.arg("source").value_or("");
    try {
        auto view = lbkit::api::state_from_json(req.json_object());
        if (source.empty()) source = "push from " + req.peer;
        d.sources.pushed(source);
        auto outcome = d.receive(std::move(view), source);
        return Response::json({{"accepted", outcome == StateBook::Outcome::accepted},
                               {"outcome", to_string(outcome)},
                               {"version", d.book.version()}});
    } catch (const lbkit::BadInput& e) {
        d.metrics.counter("lbproxy_state_updates_total", "States received, by outcome",
                          {{"outcome", "rejected"}}).inc();
        lbkit::log::warn("POST /v1/state from ", req.peer, ": refused: ", e.what());
        throw HttpError(400, std::string("state refused: ") + e.what());
    }
}

Response state_now(AdminDeps& d, const std::optional<std::string>& group)
{
    Json j = d.book.to_json(unix_ms());
    if (group) {
        Json kept = Json::array();
        for (auto& x : j["groups"])
            if (x["name"] == *group) kept.push_back(x);
        if (kept.empty()) throw HttpError(404, "no group '" + *group + "' in the state of version " +
                                                   std::to_string(d.book.version()));
        j["groups"] = std::move(kept);
    }
    j["mode"] = d.mode;
    j["policy"] = d.policy;
    j["sources"] = d.sources.to_json();
    return Response::json(j);
}

// ?since=N&wait=D waits for a state newer than N, as on lbstated.
Response get_state(AdminDeps& d, Request& req)
{
    auto group = req.arg("group");
    if (group)
        state_now(d, group);  // an unknown group is refused at once, not after the wait
    return lbkit::httpd::versioned(req, [&d] { return d.book.version(); },
                                   [&d, group] { return state_now(d, group); });
}

bool bool_arg(const Request& req, const char* name)
{
    auto v = req.arg(name);
    if (!v) return false;
    if (*v == "1" || *v == "true" || *v == "yes" || v->empty()) return true;
    if (*v == "0" || *v == "false" || *v == "no") return false;
    throw HttpError(400, std::string(name) + ": '" + *v + "' is not 1 or 0");
}

// since: Unix seconds, fractions allowed.
int64_t since_arg(const Request& req)
{
    auto v = req.arg("since");
    if (!v) return 0;
    std::size_t used = 0;
    double s = -1;
    try {
        s = std::stod(*v, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used == 0 || used != v->size() || !std::isfinite(s) || s < 0 || s > 1e11)
        throw HttpError(400, "since: '" + *v + "' is not a Unix time in seconds");
    return static_cast<int64_t>(s * 1000);
}

// Answered off the loop from what the history writer has committed (rows
// of the last flush interval may not be there yet); the request waits
// parked while the query thread works.
Response get_history(AdminDeps& d, Request& req)
{
    proxy_store::HistoryFilter f;
    f.since_ms = since_arg(req);
    f.server = req.arg("server");
    f.group = req.arg("group");
    f.failed_only = bool_arg(req, "failed");
    f.limit = req.int_arg("limit", 100, 1, 100000);
    auto q = d.queries.submit(std::move(f), d.history.enabled());
    if (!q) {
        Response busy = Response::error(503, "too many history queries at once; try again later");
        busy.headers.emplace_back("Retry-After", "1");
        return busy;
    }
    // Dropped with the parked request (answered, or the client gone): a
    // query still queued then is skipped.
    std::shared_ptr<HistoryQuery> watch(q.get(), [q](HistoryQuery* p) { p->abandoned = true; });
    return Response::later({lbkit::Millis{60000},
                            [watch] { return watch->done.load(std::memory_order_acquire); },
                            [watch] {
                                if (!watch->done.load(std::memory_order_acquire))
                                    throw HttpError(503, "history query still running after 60 s; ask for fewer rows");
                                if (!watch->error.empty())
                                    throw HttpError(500, "history query: " + watch->error);
                                Response r;
                                r.body = std::move(watch->body);
                                return r;
                            }});
}

}  // namespace

std::vector<lbkit::httpd::Route> admin_routes(AdminDeps& d)
{
    std::vector<lbkit::httpd::Route> routes = {
        {"POST", "/v1/state", true, [&d](Request& r) { return post_state(d, r); }},
        {"GET", "/v1/state", false, [&d](Request& r) { return get_state(d, r); }},
        {"GET", "/v1/history", false, [&d](Request& r) { return get_history(d, r); }},
        {"GET", "/v1/proxymap", false,
         [&d](Request&) { return Response::json(proxymap_json(d.proxymap.current(), d.book, unix_ms())); }},
    };
    TableUsers users = {{"proxymap", [&d](const proxy_store::StoredTable& t) { d.proxymap.pushed(t); }}};
    for (auto& r : tables_routes(d.db, d.metrics, std::move(users))) routes.push_back(std::move(r));
    return routes;
}

}  // namespace lbproxy
