#include "tables_api.hpp"

#include <cmath>

#include "api.hpp"
#include "client_tables.hpp"
#include "error.hpp"
#include "log.hpp"
#include "output.hpp"
#include "proxy_store.hpp"
#include "state_book.hpp"
#include "table.hpp"

namespace lbproxy {

using lbkit::httpd::HttpError;
using lbkit::httpd::Request;
using lbkit::httpd::Response;
using Json = nlohmann::json;

namespace {

const std::string& table_name(const Request& req)
{
    const std::string& name = req.params.at(0);
    if (!lbkit::client_tables::known(name))
        throw HttpError(404, "no table '" + name + "' (tables: " + lbkit::output::join(lbkit::client_tables::names()) + ")");
    return name;
}

Json summary(const proxy_store::StoredTable& t)
{
    return {{"name", t.name}, {"version", t.version}, {"rows", t.rows}, {"updated_ms", t.updated_ms}};
}

Response list(lbkit::store::Db& db)
{
    Json out = Json::array();
    for (const auto& t : proxy_store::list_tables(db)) out.push_back(summary(t));
    return Response::json({{"tables", std::move(out)}});
}

Response get(lbkit::store::Db& db, Request& req)
{
    const std::string& name = table_name(req);
    auto t = proxy_store::load_table(db, name);
    if (!t) throw HttpError(404, "table " + name + " was never pushed to this proxy");
    Json j = summary(*t);
    j["table"] = t->text;
    return Response::json(j);
}

struct PutBody {
    int64_t version = 0;
    std::string text;
    bool force = false;  // take a version older than the one in force (lbpush --force)
};

PutBody put_body(const Request& req)
{
    try {
        Json j = req.json_object();
        double v = lbkit::api::get_number(j, "version", "body", 1, 9007199254740991.0);
        if (v != std::floor(v)) throw lbkit::BadInput("body.version: must be a whole number");
        PutBody b{static_cast<int64_t>(v), lbkit::api::get_string(j, "table", "body", lbkit::table::max_bytes)};
        if (j.contains("force")) {
            if (!j["force"].is_boolean()) throw lbkit::BadInput("body.force: must be true or false");
            b.force = j["force"].get<bool>();
        }
        return b;
    } catch (const lbkit::BadInput& e) {
        throw HttpError(400, e.what());
    }
}

Response put(lbkit::store::Db& db, lbkit::Metrics& metrics, const TableUsers& users, Request& req)
{
    const std::string& name = table_name(req);
    auto user = users.find(name);
    if (user == users.end())
        throw HttpError(501, "table " + name + " is not used by this release of lbproxy");
    PutBody body = put_body(req);
    auto refuse = [&](int status, const std::string& why) {
        metrics.counter("lbproxy_table_updates_total", "Client table pushes, by table and outcome",
                        {{"table", name}, {"outcome", status == 409 ? "older" : "invalid"}}).inc();
        lbkit::log::warn("PUT /v1/tables/", name, " version ", body.version, " from ", req.peer, ": ", why);
        return HttpError(status, why);
    };
    auto stored = proxy_store::load_table(db, name);
    if (stored && body.version <= stored->version && !body.force) {
        // The version in force goes with the refusal: a pusher that sent
        // the same one knows the proxy already has it.
        std::string why = name + ": version " + std::to_string(body.version) + " is not newer than version " +
                          std::to_string(stored->version) + " in force";
        if (body.version == stored->version)  // lbpush from cron, every few minutes: not worth a warning
            lbkit::log::debug("PUT /v1/tables/", name, " version ", body.version, " from ", req.peer, ": already in force");
        else
            refuse(409, why);
        return Response::json({{"error", why}, {"version", stored->version}}, 409);
    }
    std::size_t rows = 0;
    try {
        rows = lbkit::client_tables::validate(name, body.text);
    } catch (const lbkit::BadInput& e) {
        throw refuse(400, e.what());
    }
    proxy_store::StoredTable t{name, body.version, body.text, static_cast<int64_t>(rows), unix_ms(), "push", req.peer};
    proxy_store::save_table(db, t);
    user->second(t);
    metrics.counter("lbproxy_table_updates_total", "Client table pushes, by table and outcome",
                    {{"table", name}, {"outcome", "accepted"}}).inc();
    metrics.gauge("lbproxy_table_version", "Version of each stored client table", {{"table", name}})
        .set(static_cast<double>(body.version));
    lbkit::log::info("table ", name, ": version ", body.version, " (", rows, " rows) from ", req.peer,
                     stored && body.version <= stored->version ? ", forced over version " + std::to_string(stored->version) : "");
    return Response::json(summary(t));
}

}  // namespace

std::vector<lbkit::httpd::Route> tables_routes(lbkit::store::Db& db, lbkit::Metrics& metrics, TableUsers users)
{
    return {
        {"GET", "/v1/tables", false, [&db](Request&) { return list(db); }},
        {"GET", "/v1/tables/{}", false, [&db](Request& r) { return get(db, r); }},
        {"PUT", "/v1/tables/{}", true,
         [&db, &metrics, users = std::move(users)](Request& r) { return put(db, metrics, users, r); }},
    };
}

}  // namespace lbproxy
