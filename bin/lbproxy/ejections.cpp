#include "ejections.hpp"

#include <algorithm>

#include "api.hpp"
#include "httpd.hpp"
#include "log.hpp"
#include "state_source.hpp"

namespace lbproxy {

namespace log = lbkit::log;
namespace httpc = lbkit::httpc;
using lbkit::Millis;

// Reports to the state servers ------------------------------------------------

EjectionReports::EjectionReports(httpc::Client& http, const std::vector<std::string>& state_servers,
                                 std::string token, Millis timeout)
    : http_(http), token_(std::move(token)), timeout_(timeout)
{
    for (const auto& u : state_servers) {
        auto t = std::make_unique<Target>();
        t->url = normalize_state_url(u);
        t->key = source_key(t->url);
        targets_.push_back(std::move(t));
    }
}

EjectionReports::~EjectionReports()
{
    stop({});
}

void EjectionReports::stop(const std::vector<std::string>& ejected)
{
    if (stopped_) return;
    stopped_ = true;
    for (uint64_t id : in_flight_) http_.cancel(id);
    in_flight_.clear();
    for (const auto& server : ejected)
        for (auto& t : targets_) {
            auto req = end_request(*t, server);
            req.timeout = std::min(timeout_, Millis{500});
            req.connect_timeout = req.timeout;
            auto r = httpc::fetch(req);
            if (!r.ok()) failed(*t, "DELETE /v1/servers/" + server + "/ejection", r);
        }
}

void EjectionReports::failed(Target& t, const std::string& what, const httpc::Result& r)
{
    // Once per streak of failures: the ejection itself goes on regardless.
    if (!t.warned)
        log::warn("state server ", t.url, ": ", what, ": ", r.describe(),
                  " (the ejection stays local; further failed reports are not logged)");
    else
        log::debug("state server ", t.url, ": ", what, ": ", r.describe());
    t.warned = true;
}

httpc::Request EjectionReports::end_request(const Target& t, const std::string& server) const
{
    httpc::Request req;
    req.method = "DELETE";
    req.url = t.url + "/v1/servers/" + lbkit::httpd::url_encode(server) + "/ejection?proxy=" +
              lbkit::httpd::url_encode(proxy_);
    req.bearer = token_;
    return req;
}

void EjectionReports::send(Target& t, httpc::Request req, const std::string& what)
{
    if (stopped_) return;
    req.bearer = token_;
    req.timeout = timeout_;
    req.connect_timeout = std::min(timeout_, Millis{2000});
    auto id = std::make_shared<uint64_t>(0);
    Target* tp = &t;
    *id = http_.start(std::move(req), [this, id, tp, what](const httpc::Result& r) {
        in_flight_.erase(*id);
        if (!r.ok()) return failed(*tp, what, r);
        if (tp->warned) log::info("state server ", tp->url, ": ejection reports accepted again");
        tp->warned = false;
    });
    in_flight_.insert(*id);
}

void EjectionReports::ejected(const std::string& server, int64_t remaining_ms, const std::string& only_to)
{
    std::string path = "/v1/servers/" + lbkit::httpd::url_encode(server) + "/ejection";
    std::string body = lbkit::api::dump({{"proxy", proxy_}, {"until_ms", remaining_ms}});
    for (auto& t : targets_) {
        if (!only_to.empty() && t->key != only_to) continue;
        httpc::Request req;
        req.method = "POST";
        req.url = t->url + path;
        req.body = body;
        send(*t, std::move(req), "POST " + path);
    }
}

void EjectionReports::returned(const std::string& server)
{
    for (auto& t : targets_) send(*t, end_request(*t, server), "DELETE /v1/servers/" + server + "/ejection");
}

// Ejections on the loop ------------------------------------------------------

Ejections::Ejections(lbkit::Loop& loop, lbkit::Metrics& metrics, StateBook& book, EjectionReports& reports)
    : metrics_(metrics), book_(book), reports_(reports), timer_(loop, [this] { end_due(); })
{
    metrics_.on_scrape([this] { update_gauges(); });
}

void Ejections::ok(ServerId server)
{
    book_.server_ok(server, unix_ms());
}

void Ejections::failed(ServerId id)
{
    int64_t now = unix_ms();
    FailureOutcome o = book_.server_failed(id, now);
    const std::string& server = book_.server_name(id);
    const Passive& p = book_.passive();
    if (o.kind == FailureOutcome::held) {
        // Said once per streak; the failures go on counting, and the next
        // one ejects the server as soon as another one of its group is back.
        if (o.failures == p.eject_after)
            log::info("server ", server, ": ", o.failures, " failures in a row, but group ", o.group,
                      " has as many servers ejected as --max-ejection-percent ", p.max_percent, " allows; kept");
        return;
    }
    if (o.kind != FailureOutcome::ejected) return;
    log::warn("server ", server, ": ", o.failures, " failures in a row; ejected for ",
              lbkit::format_duration(Millis{o.until_ms - now}), " (ejection ", o.ejections, ")");
    metrics_.counter("lbproxy_ejections_total", "Passive ejections of each server", {{"server", server}}).inc();
    reports_.ejected(server, o.until_ms - now);
    arm();
}

void Ejections::state_server_restarted(const std::string& key)
{
    if (stopped_) return;
    int64_t now = unix_ms();
    std::vector<std::string> out = book_.ejected_servers(now);
    for (const auto& server : out)
        reports_.ejected(server, book_.ejection_end_ms(book_.find_server(server)) - now, key);
    if (!out.empty())
        log::info("state server ", key, " restarted: ", out.size(), " ejection", out.size() == 1 ? "" : "s",
                  " in force reported again");
}

void Ejections::arm()
{
    if (stopped_) return;
    int64_t next = book_.next_return_ms();
    if (next == 0) return timer_.cancel();
    timer_.start(Millis{std::max<int64_t>(0, next - unix_ms())});
}

void Ejections::end_due()
{
    for (const auto& server : book_.take_returned(unix_ms())) {
        log::info("server ", server, ": ejection over; back",
                  book_.passive().slow_start.count() > 0
                      ? " with slow start over " + lbkit::format_duration(book_.passive().slow_start)
                      : std::string());
        reports_.returned(server);
    }
    arm();
}

void Ejections::update_gauges()
{
    int64_t now = unix_ms();
    std::set<std::string> seen;
    const auto& groups = book_.view().groups;
    for (std::size_t gi = 0; gi < groups.size(); ++gi) {
        metrics_.gauge("lbproxy_ejected_servers", "Servers of each group ejected now", {{"group", groups[gi].name}})
            .set(book_.ejected_in_group(gi, now));
        seen.insert(groups[gi].name);
    }
    for (const auto& g : gauged_)
        if (!seen.count(g)) metrics_.erase("lbproxy_ejected_servers", {{"group", g}});
    gauged_ = std::move(seen);
}

void Ejections::stop()
{
    if (stopped_) return;
    stopped_ = true;
    timer_.cancel();
    reports_.stop(book_.ejected_servers(unix_ms()));
}

}  // namespace lbproxy
