// Sends reports to one lbstated (POST /v1/reports, Bearer token). One
// request in flight at a time; what arrives meanwhile waits in an Outbox
// (latest per server). While lbstated is unreachable, answers 5xx, or
// refuses the token (401, 403), retries back off from 1 s to 10 s and the
// outbox keeps only the newest state of each server; a report lbstated
// calls malformed (another 4xx) would be refused again and is dropped.
// health() says how the last reports went (lbsniff(8), GET /v1/health).
#pragma once
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "httpc.hpp"
#include "loop.hpp"
#include "metrics.hpp"
#include "outbox.hpp"

namespace lbsniff {

class Reporter {
public:
    Reporter(lbkit::Loop& loop, lbkit::httpc::Client& http, lbkit::Metrics& metrics, const std::string& url,
             std::string token, std::string notifier, lbkit::Millis interval);

    void send(const std::vector<lbkit::api::ServerReport>& servers);
    // Sends what is waiting now, skipping any back-off (end of a file).
    void flush_now();
    bool busy() const { return in_flight_; }
    bool delivered() const { return !in_flight_ && outbox_.empty(); }
    // The last attempt was refused by lbstated (4xx); why.
    bool refused() const { return refused_; }
    const std::string& last_refusal() const { return last_refusal_; }
    const std::string& last_failure() const { return last_failure_; }
    const std::string& url() const { return url_; }
    // A token read again (SIGHUP): the next attempt, at once, carries it.
    void set_token(std::string token);
    // {"url","last_result":"ok"|"refused"|"failed"|"dropped"|"none","consecutive_failures",
    //  "last_error","last_ok_ms"}
    nlohmann::json health() const;
    // Empty when the last report went through (or none was sent yet), else
    // a sentence: "report to URL: N in a row refused: 401 ...; kept to resend".
    std::string trouble() const;
    // Called whenever a request finishes.
    void on_done(std::function<void()> fn) { done_ = std::move(fn); }

    // "http://h:7400" -> "http://h:7400/v1/reports"; a URL with a path is kept.
    static std::string endpoint(const std::string& url);

private:
    void post();
    void finished(std::vector<lbkit::api::ServerReport> batch, const lbkit::httpc::Result& r);

    lbkit::httpc::Client& http_;
    std::string url_, token_, notifier_;
    lbkit::Millis interval_;
    Outbox outbox_;
    lbkit::Timer retry_;
    lbkit::Backoff backoff_{lbkit::Millis{1000}, lbkit::Millis{10000}};
    bool in_flight_ = false;
    bool failing_ = false;
    bool refused_ = false;
    std::string last_refusal_, last_failure_;
    std::string last_result_ = "none";
    int consecutive_failures_ = 0;
    int64_t last_ok_ms_ = 0;
    lbkit::Series& ok_;
    lbkit::Series& failed_;
    lbkit::Series& waiting_;
    std::function<void()> done_;
};

}  // namespace lbsniff
