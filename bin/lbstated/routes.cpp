#include "routes.hpp"

#include "error.hpp"
#include "log.hpp"

namespace lbstated {
namespace {

using lbkit::httpd::HttpError;
using lbkit::httpd::Json;
using lbkit::httpd::Request;
using lbkit::httpd::Response;

const Group& group_arg(Stated& d, const Request& req)
{
    auto name = req.arg("group");
    if (!name || name->empty())
        throw HttpError(400, "missing query parameter group");
    const Group* g = d.model().groups().find(*name);
    if (!g)
        throw HttpError(404, "no such group '" + *name + "'");
    return *g;
}

// The {} of /v1/servers/{}/...: a server named as the groups table names it.
const std::string& server_param(Stated& d, const Request& req)
{
    const std::string& name = req.params.at(0);
    if (!d.model().groups().has_server(name))
        throw HttpError(404, "no such server '" + name + "' (servers are named as in the groups table)");
    return name;
}

Response post_report(Stated& d, Request& req)
{
    auto report = lbkit::api::report_from_json(req.json_object());
    auto& m = d.metrics();
    m.counter("lbstated_reports_total", "Reports received").inc();
    m.counter("lbstated_report_servers_total", "Server entries in reports").inc(static_cast<double>(report.servers.size()));
    auto outcome = d.apply_report(report);
    if (!outcome.unknown.empty())
        m.counter("lbstated_report_unknown_total", "Report entries naming no configured server").inc(static_cast<double>(outcome.unknown.size()));
    // A report that names only unknown servers changes nothing and says so.
    if (outcome.applied == 0 && !outcome.unknown.empty())
        throw HttpError(404, "no such server '" + outcome.unknown.front() + "' in the groups table (report from " +
                                 report.notifier + ")");
    Json j = {{"version", d.model().version()}, {"applied", outcome.applied}};
    if (!outcome.unknown.empty())
        j["ignored"] = outcome.unknown;
    return Response::json(j);
}

// ?since=N&wait=D waits for a version after N; with group=G too, for a
// change anywhere (the version numbers the whole state), answered with G.
Response get_state(Stated& d, Request& req)
{
    std::function<Response()> answer = [&d] {
        Response r;
        r.body = *d.state_body().json;
        return r;
    };
    if (auto g = req.arg("group")) {
        group_arg(d, req);
        answer = [&d, name = *g] {
            // Found again: the groups may have changed during a long poll.
            const Group* found = d.model().groups().find(name);
            if (!found)
                throw HttpError(404, "no such group '" + name + "'");
            return Response::json(lbkit::api::to_json(d.model().view(d.now_ms(), found->name)));
        };
    }
    return lbkit::httpd::versioned(req, [&d] { return d.model().version(); }, std::move(answer));
}

Response get_select(Stated& d, Request& req)
{
    const Group& g = group_arg(d, req);
    auto chosen = d.model().select(g, d.rng());
    if (!chosen) {
        auto cands = d.model().candidates(g);
        throw HttpError(503, lbkit::select::explain_none(g.name, cands));
    }
    Json j = {{"group", g.name}, {"server", *chosen}, {"version", d.model().version()}};
    if (auto c = req.arg("client"))
        j["client"] = *c;
    return Response::json(j);
}

Response get_groups(Stated& d, Request&)
{
    Json groups = Json::array();
    for (const auto& g : d.model().groups().groups) {
        Json members = Json::array();
        for (const auto& m : g.members)
            members.push_back({{"server", m.server}, {"ratio", m.ratio}});
        groups.push_back({{"name", g.name}, {"servers", std::move(members)}});
    }
    const Groups& in_force = d.model().groups();
    Json j = {{"source", in_force.source}, {"origin", in_force.from_api ? "api" : in_force.source.empty() ? "none" : "file"},
              {"set_ms", in_force.set_ms}, {"table", in_force.text}, {"groups", groups}};
    // Where `lbctl reload` would return to.
    if (!d.options().groups_file.empty())
        j["groups_file"] = d.options().groups_file;
    return Response::json(j);
}

Response put_groups(Stated& d, Request& req)
{
    Json body = req.json_object();
    std::string text = lbkit::api::get_string(body, "table", "", 4 << 20);
    d.replace_groups(text, req.peer);
    lbkit::log::info("groups replaced through the API by ", req.peer);
    return get_groups(d, req);
}

Response reload_groups(Stated& d, Request& req)
{
    if (d.options().groups_file.empty())
        throw HttpError(409, "no groups file: lbstated was started without --groups");
    try {
        d.reload_groups_file();
    } catch (const lbkit::BadInput& e) {
        // Logged as a SIGHUP with the same file is: the operator may read
        // the log, not the answer.
        lbkit::log::error("reload at the request of ", req.peer, ": ", e.what(), "; keeping the groups in force");
        throw;
    }
    lbkit::log::info("groups reloaded from ", d.options().groups_file, " at the request of ", req.peer);
    return get_groups(d, req);
}

Json pin_json(Stated& d, const std::string& server)
{
    Json j = {{"server", server}, {"state", lbkit::api::to_string(d.model().effective_state(server))},
              {"pinned", d.model().pins().count(server) != 0}, {"draining", d.model().draining(server)},
              {"groups", d.model().groups().groups_of(server)}, {"version", d.model().version()}};
    if (auto p = d.model().pins().find(server); p != d.model().pins().end())
        j["pin"] = lbkit::api::to_json(p->second);
    return j;
}

Response put_pin(Stated& d, Request& req)
{
    const std::string& server = server_param(d, req);
    lbkit::api::Pin pin;
    if (!req.body.empty())
        pin = lbkit::api::pin_from_json(req.json_object());
    if (!pin.state && !pin.load && !pin.ratio)
        pin.state = State::down;  // a bare pin takes the server out
    d.pin(server, pin, req.peer);
    return Response::json(pin_json(d, server));
}

Response delete_pin(Stated& d, Request& req)
{
    const std::string& server = req.params.at(0);
    if (!d.model().pins().count(server))
        server_param(d, req);  // 404 for a name that is neither pinned nor configured
    d.unpin(server, req.peer);
    return Response::json(pin_json(d, server));
}

Response set_drain(Stated& d, Request& req, bool on)
{
    const std::string& server = on ? server_param(d, req) : req.params.at(0);
    if (!on && !d.model().draining(server))
        server_param(d, req);
    d.set_drain(server, on, req.peer);
    return Response::json(pin_json(d, server));
}

// Passive ejection reported by a proxy: counted in the state view
// (ejected_by), never a change of the server's state.
Json ejection_json(Stated& d, const std::string& server)
{
    int64_t now = d.now_ms();
    Json proxies = Json::array();
    for (const auto& [proxy, until] : d.model().ejections(server, now))
        proxies.push_back({{"proxy", proxy}, {"remaining_ms", until - now}});
    return {{"server", server}, {"ejected_by", proxies.size()}, {"proxies", std::move(proxies)}};
}

Response post_ejection(Stated& d, Request& req)
{
    const std::string& server = server_param(d, req);
    Json body = req.json_object();
    std::string proxy = lbkit::api::get_string(body, "proxy", "", 256);
    auto ms = static_cast<int64_t>(lbkit::api::get_number(body, "until_ms", "", 1, 86'400'000));
    d.eject(server, proxy, lbkit::Millis(ms));
    return Response::json(ejection_json(d, server));
}

Response delete_ejection(Stated& d, Request& req)
{
    const std::string& server = req.params.at(0);
    auto proxy = req.arg("proxy");
    if (!proxy || proxy->empty())
        throw HttpError(400, "missing query parameter proxy");
    if (!d.end_ejection(server, *proxy))
        server_param(d, req);  // 404 for a name that is neither ejected nor configured
    return Response::json(ejection_json(d, server));
}

Response post_subscriber(Stated& d, Request& req)
{
    auto spec = lbkit::api::subscriber_from_json(req.json_object());
    // A loopback URL from another host would be accepted and every push to
    // it would fail: refused, with what to do instead.
    if (auto why = loopback_push_refusal(spec.url, req.peer, host_addresses()); !why.empty()) {
        lbkit::log::warn("subscriber ", spec.url, " from ", req.peer, " refused: its host is this host's loopback");
        throw HttpError(400, why);
    }
    int64_t id = d.subscribers().add(spec);
    lbkit::log::info("subscriber ", id, " ", spec.url, " (", lbkit::api::to_string(spec.mode), ") registered by ", req.peer);
    Json j = lbkit::api::to_json(spec);
    j["id"] = id;
    return Response::json(j, 201);
}

Response delete_subscriber(Stated& d, Request& req)
{
    const std::string& p = req.params.at(0);
    if (p.empty() || p.size() > 18 || p.find_first_not_of("0123456789") != std::string::npos)
        throw HttpError(400, "subscriber id '" + p + "' is not a number");
    if (!d.subscribers().remove(std::stoll(p)))
        throw HttpError(404, "no such subscriber " + p);
    lbkit::log::info("subscriber ", p, " removed by ", req.peer);
    return Response::no_content();
}

}  // namespace

std::vector<lbkit::httpd::Route> routes(Stated& d)
{
    auto h = [&d](Response (*fn)(Stated&, Request&)) {
        return [&d, fn](Request& r) { return fn(d, r); };
    };
    return {
        {"POST", "/v1/reports", true, h(post_report)},
        {"GET", "/v1/state", false, h(get_state)},
        {"GET", "/v1/select", false, h(get_select)},
        {"GET", "/v1/groups", false, h(get_groups)},
        {"PUT", "/v1/groups", true, h(put_groups)},
        {"POST", "/v1/groups/reload", true, h(reload_groups)},
        {"PUT", "/v1/servers/{}/pin", true, h(put_pin)},
        {"DELETE", "/v1/servers/{}/pin", true, h(delete_pin)},
        {"PUT", "/v1/servers/{}/drain", true, [&d](Request& r) { return set_drain(d, r, true); }},
        {"DELETE", "/v1/servers/{}/drain", true, [&d](Request& r) { return set_drain(d, r, false); }},
        {"POST", "/v1/servers/{}/ejection", true, h(post_ejection)},
        {"DELETE", "/v1/servers/{}/ejection", true, h(delete_ejection)},
        {"GET", "/v1/subscribers", false, [&d](Request&) { return Response::json(d.subscribers().list()); }},
        {"POST", "/v1/subscribers", true, h(post_subscriber)},
        {"DELETE", "/v1/subscribers/{}", true, h(delete_subscriber)},
    };
}

}  // namespace lbstated
