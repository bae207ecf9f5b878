#include "reporter.hpp"

#include <algorithm>
#include <chrono>

#include "addr.hpp"
#include "log.hpp"

namespace lbsniff {

namespace api = lbkit::api;
using lbkit::Millis;

namespace {
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
    const bool answered = r.error.empty() && r.status >= 400;
    // The token (401, 403) is fixed by an administrator, a 5xx, timeout or
    // rate limit passes: keep the figures and resend. Any other 4xx says the
    // report itself is wrong and would be refused again: drop it, say why,
    // and go on with newer reports.
    const bool refused = answered && (r.status == 401 || r.status == 403);
    const bool malformed = answered && r.status < 500 && !refused && r.status != 408 && r.status != 429;
    if (r.ok()) {
        ok_.inc();
        if (failing_ || refused_)
            lbkit::log::info("report to ", url_, ": delivered again");
        failing_ = refused_ = false;
        last_result_ = "ok";
        consecutive_failures_ = 0;
        last_ok_ms_ = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::system_clock::now().time_since_epoch()).count();
        backoff_.reset();
        post();
    } else if (malformed) {
        failed_.inc();
        lbkit::log::error("report to ", url_, ": refused as malformed: ", r.describe(), ": report dropped");
        last_result_ = "dropped";
        refused_ = true;
        ++consecutive_failures_;
        last_refusal_ = r.describe();
        post();
    } else {
        failed_.inc();
        outbox_.restore(batch);
        if (refused && !refused_)
            lbkit::log::error("report to ", url_, ": refused: ", r.describe(),
                              ": keeping the latest state of each server to resend (check --token-file, then SIGHUP)");
        else if (!refused && !failing_)
            lbkit::log::warn("report to ", url_, ": ", r.describe(),
                             ": keeping the latest state of each server until it can be sent");
        (refused ? refused_ : failing_) = true;
        (refused ? last_refusal_ : last_failure_) = r.describe();
        last_result_ = refused ? "refused" : "failed";
        ++consecutive_failures_;
        retry_.start(backoff_.next());
    }
    waiting_.set(double(outbox_.size()));
    if (done_)
        done_();
}

void Reporter::set_token(std::string token)
{
    if (token == token_)
        return;
    token_ = std::move(token);
    backoff_.reset();
    if (retry_.pending())
        flush_now();
}

nlohmann::json Reporter::health() const
{
    const std::string& error = last_result_ == "failed" ? last_failure_ : last_refusal_;
    return {{"url", url_},
            {"last_result", last_result_},
            {"consecutive_failures", consecutive_failures_},
            {"last_error", last_result_ == "ok" || last_result_ == "none" ? "" : error},
            {"last_ok_ms", last_ok_ms_},
            {"waiting", outbox_.size()}};
}

std::string Reporter::trouble() const
{
    if (last_result_ == "ok" || last_result_ == "none")
        return "";
    const std::string n = std::to_string(consecutive_failures_);
    if (last_result_ == "dropped")
        return "report to " + url_ + ": refused as malformed (" + last_refusal_ + "), " + n +
               " in a row dropped";
    if (last_result_ == "refused")
        return "report to " + url_ + ": " + n + " in a row refused (" + last_refusal_ +
               "); the latest figures are kept to resend";
    return "report to " + url_ + ": " + n + " in a row failed (" + last_failure_ +
           "); the latest figures are kept to resend";
}

}  // namespace lbsniff
