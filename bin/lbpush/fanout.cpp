#include "fanout.hpp"

#include <deque>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "api.hpp"
#include "clock.hpp"
#include "fd_limit.hpp"
#include "httpc.hpp"
#include "loop.hpp"

namespace lbpush {

using Json = nlohmann::json;
using lbkit::httpc::Result;

const char* status_name(Status s)
{
    switch (s) {
    case Status::ok: return "ok";
    case Status::push: return "push";
    case Status::refused: return "refused";
    case Status::failed: return "failed";
    }
    return "failed";
}

namespace {

// What one answer means: the end of this client, or a failure worth a retry.
struct Verdict {
    Status status;
    std::optional<int64_t> version;
    std::string reason;
    bool retry = false;
};

bool passing_failure(const Result& r)
{
    return !r.error.empty() || r.status == 408 || r.status == 429 || (r.status >= 500 && r.status != 501);
}

// The version an lbproxy answer carries ({"version":N,...}), when it does.
std::optional<int64_t> answered_version(const Result& r)
{
    Json j = Json::parse(r.body, nullptr, false);
    if (j.is_object() && j.contains("version") && j["version"].is_number_integer())
        return j["version"].get<int64_t>();
    return std::nullopt;
}

Verdict judge_push(const Plan& p, const Result& r)
{
    if (passing_failure(r)) return {Status::failed, std::nullopt, r.describe(), true};
    if (r.ok()) return {Status::ok, p.version, "pushed"};
    auto held = answered_version(r);
    if (r.status == 409 && held && *held == p.version) return {Status::ok, held, "already in force"};
    return {Status::refused, r.status == 409 ? held : std::nullopt, r.describe()};
}

// A dry run: GET /v1/tables/NAME says what the client holds.
Verdict judge_query(const Plan& p, const Result& r)
{
    std::string n = std::to_string(p.version);
    if (passing_failure(r)) return {Status::failed, std::nullopt, r.describe(), true};
    if (r.status == 404 && r.body.find("never pushed") != std::string::npos)
        return {Status::push, std::nullopt, "would push version " + n + " (holds none)"};
    auto held = answered_version(r);
    if (!r.ok() || !held) return {Status::refused, std::nullopt, r.describe()};
    std::string m = std::to_string(*held);
    if (*held == p.version) return {Status::ok, held, "already in force"};
    if (*held < p.version) return {Status::push, held, "would push version " + n + " over " + m};
    if (p.force) return {Status::push, held, "would force version " + n + " over newer " + m};
    return {Status::refused, held, "holds newer version " + m + " (--force pushes an older one)"};
}

lbkit::httpc::Request request(const Plan& p, const Client& c)
{
    lbkit::httpc::Request req;
    req.url = c.url + "/v1/tables/" + p.table;
    req.timeout = p.timeout;
    req.connect_timeout = p.timeout;
    req.reuse = false;  // one exchange per client: no idle socket kept per proxy
    if (!p.dry_run) {
        req.method = "PUT";
        req.bearer = p.token;
        Json body = {{"version", p.version}, {"table", p.text}};
        if (p.force) body["force"] = true;
        req.body = lbkit::api::dump(body);
    }
    return req;
}

class Fanout {
public:
    Fanout(const Plan& plan, const std::vector<Client>& clients)
        : plan_(plan), clients_(clients), out_(clients.size()),
          backoffs_(clients.size(), {plan.backoff_first, plan.backoff_max}), started_(clients.size())
    {
        for (std::size_t i = 0; i < clients.size(); ++i) {
            out_[i].client = clients[i].name;
            out_[i].url = clients[i].url;
            ready_.push_back(i);
        }
    }

    std::vector<Outcome> run()
    {
        if (clients_.empty()) return out_;
        // A socket per transfer in flight, and a few for the rest.
        lbkit::raise_open_files(static_cast<std::size_t>(plan_.parallel) + 64);
        pump();
        loop_.run();
        for (auto& o : out_)
            if (o.reason.empty()) o.reason = "interrupted";
        return out_;
    }

private:
    void pump()
    {
        while (in_flight_ < plan_.parallel && !ready_.empty() && !loop_.stopping()) {
            std::size_t i = ready_.front();
            ready_.pop_front();
            start(i);
        }
    }

    void start(std::size_t i)
    {
        if (out_[i].attempts++ == 0) started_[i] = lbkit::monotonic_ms();
        ++in_flight_;
        http_.start(request(plan_, clients_[i]), [this, i](const Result& r) {
            --in_flight_;
            settle(i, r);
            pump();
        });
    }

    void settle(std::size_t i, const Result& r)
    {
        Verdict v = plan_.dry_run ? judge_query(plan_, r) : judge_push(plan_, r);
        Outcome& o = out_[i];
        bool again = v.retry && o.attempts <= plan_.retries && !loop_.stopping();
        if (plan_.verbose)
            std::cerr << "lbpush: " << o.client << ": try " << o.attempts << ": "
                      << r.describe() << (again ? "; trying again" : "")
                      << "\n";
        if (again) {
            retry_later(i);
            return;
        }
        o.status = v.status;
        o.version = v.version;
        o.ms = lbkit::monotonic_ms() - started_[i];
        o.reason = v.reason + (o.attempts > 1 ? " (" + std::to_string(o.attempts) + " tries)" : "");
        if (++finished_ == clients_.size()) loop_.stop();
    }

    void retry_later(std::size_t i)
    {
        auto timer = std::make_unique<lbkit::Timer>(loop_, [this, i] {
            ready_.push_back(i);
            pump();
        });
        timer->start(lbkit::jitter(backoffs_[i].next()));
        timers_.push_back(std::move(timer));
    }

    const Plan& plan_;
    const std::vector<Client>& clients_;
    lbkit::Loop loop_;
    lbkit::httpc::Client http_{loop_};
    std::vector<Outcome> out_;
    std::vector<lbkit::Backoff> backoffs_;
    std::vector<int64_t> started_;
    std::vector<std::unique_ptr<lbkit::Timer>> timers_;
    std::deque<std::size_t> ready_;
    int in_flight_ = 0;
    std::size_t finished_ = 0;
};

}  // namespace

std::vector<Outcome> run(const Plan& plan, const std::vector<Client>& clients)
{
    return Fanout(plan, clients).run();
}

}  // namespace lbpush
