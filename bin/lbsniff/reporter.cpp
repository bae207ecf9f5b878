#include "reporter.hpp"

#include <algorithm>

#include "addr.hpp"
#include "log.hpp"

namespace lbsniff {

namespace api = lbkit::api;
using lbkit::Millis;

namespace {
constexpr Millis first_backoff{1000}, max_backoff{10000};
}

std::string Reporter::endpoint(const std::string& url)
{
    std::string base = lbkit::http_base_url(url);
    bool has_path = base.find('/', base.find("://") + 3) != std::string::npos;
    return has_path ? base : base + "/v1/reports";
}

Reporter::Reporter(lbkit::Loop& loop, lbkit::httpc::Client& http, lbkit::Metrics& metrics, const std::string& url,
                   std::string token, std::string notifier, Millis interval)
    : http_(http), url_(endpoint(url)), token_(std::move(token)), notifier_(std::move(notifier)),
      interval_(interval), retry_(loop, [this] { post(); }),
      ok_(metrics.counter("lbsniff_reports_total", "Reports sent to lbstated", {{"url", url_}, {"result", "ok"}})),
      failed_(metrics.counter("lbsniff_reports_total", "Reports sent to lbstated", {{"url", url_}, {"result", "failed"}})),
      waiting_(metrics.gauge("lbsniff_reports_waiting", "Server reports waiting for lbstated", {{"url", url_}}))
{
}

void Reporter::send(const std::vector<api::ServerReport>& servers)
{
    for (const auto& s : servers)
        outbox_.put(s);
    waiting_.set(double(outbox_.size()));
    if (!in_flight_ && !retry_.pending())
        post();
}

void Reporter::flush_now()
{
    retry_.cancel();
    if (!in_flight_)
        post();
}

void Reporter::post()
{
    if (in_flight_ || outbox_.empty())
        return;
    api::Report report{notifier_, interval_.count(), outbox_.take()};
    lbkit::httpc::Request req;
    req.method = "POST";
    req.url = url_;
    req.body = api::dump(api::to_json(report));
    req.bearer = token_;
    in_flight_ = true;
    try {
        http_.start(std::move(req), [this, batch = report.servers](const lbkit::httpc::Result& r) mutable {
            finished(std::move(batch), r);
        });
    } catch (const std::exception& e) {
        // Runs from timers and the capture callback: fail like a transfer would.
        lbkit::httpc::Result r;
        r.error = e.what();
        finished(std::move(report.servers), r);
    }
}

void Reporter::finished(std::vector<api::ServerReport> batch, const lbkit::httpc::Result& r)
{
    in_flight_ = false;
    // A 4xx other than timeout and rate limit will be refused again: drop
    // it, say why, and go on with newer reports.
    bool refused = r.error.empty() && r.status >= 400 && r.status < 500 && r.status != 408 && r.status != 429;
    if (r.ok()) {
        ok_.inc();
        if (failing_)
            lbkit::log::info("report to ", url_, ": delivered again");
        failing_ = refused_ = false;
        backoff_ = Millis{0};
        post();
    } else if (refused) {
        failed_.inc();
        if (!refused_)
            lbkit::log::error("report to ", url_, ": refused: ", r.describe(), ": report dropped");
        refused_ = true;
        last_refusal_ = r.describe();
        post();
    } else {
        failed_.inc();
        outbox_.restore(batch);
        if (!failing_)
            lbkit::log::warn("report to ", url_, ": ", r.describe(),
                             ": keeping the latest state of each server until it can be sent");
        failing_ = true;
        last_failure_ = r.describe();
        backoff_ = std::min(max_backoff, backoff_.count() ? backoff_ * 2 : first_backoff);
        retry_.start(backoff_);
    }
    waiting_.set(double(outbox_.size()));
    if (done_)
        done_();
}

}  // namespace lbsniff
