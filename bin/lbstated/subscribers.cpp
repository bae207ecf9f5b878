#include "subscribers.hpp"

#include <algorithm>
#include <cmath>
#include <optional>

#include "clock.hpp"
#include "duration.hpp"
#include "log.hpp"

namespace lbstated {
namespace {


}  // namespace

bool loads_moved(const std::vector<double>& sent, const std::vector<double>& now, double delta)
{
    if (sent.size() != now.size())
        return true;
    for (std::size_t i = 0; i < now.size(); ++i)
        if (std::fabs(now[i] - sent[i]) > delta * std::fabs(sent[i]) || (sent[i] == 0 && now[i] != 0))
            return true;
    return false;
}

struct Subscribers::Sub {
    int64_t id = 0;
    lbkit::api::Subscriber spec;
    std::unique_ptr<lbkit::Timer> periodic;  // mode periodic
    std::unique_ptr<lbkit::Timer> retry;     // backoff after a failure
    std::unique_ptr<lbkit::Timer> coalesce;  // mode change: a load push held back to the minimum interval
    bool in_flight = false;
    bool waiting = false;        // a push is due as soon as the current one ends
    bool waiting_transition = false;  // ... and it carries a transition: not held back
    std::shared_ptr<const std::vector<double>> sent_loads;  // relative loads of the last push
    int64_t last_push_ms = -1;   // monotonic
    uint64_t delivered = 0;      // last version acknowledged
    int failures = 0;
    lbkit::Backoff backoff{lbkit::Millis{250}, lbkit::Millis{30'000}};
    int64_t failing_since = -1;  // monotonic ms of the first failure in a row
    int64_t last_ok_ms = 0;      // wall clock, for lbctl subscribers
    std::string last_error;
};

Subscribers::Subscribers(lbkit::Loop& loop, lbkit::httpc::Client& http, StatedStore& store,
                         lbkit::Metrics& metrics, DeliveryOptions options, std::string token,
                         std::function<StateBody()> current)
    : loop_(loop), http_(http), store_(store), options_(options), token_(std::move(token)),
      current_(std::move(current)),
      pushes_ok_(metrics.counter("lbstated_pushes_total", "State pushes to subscribers", {{"result", "ok"}})),
      pushes_failed_(metrics.counter("lbstated_pushes_total", "State pushes to subscribers", {{"result", "failed"}})),
      dropped_(metrics.counter("lbstated_subscribers_dropped_total", "Subscribers dropped after --drop-after unreachable")),
      coalesced_(metrics.counter("lbstated_pushes_coalesced_total",
                                 "Load changes held back to --push-min-interval and merged into a later push"))
{
    metrics.gauge_fn("lbstated_subscribers", "Registered subscribers", [this] { return static_cast<double>(subs_.size()); });
}

Subscribers::~Subscribers() = default;

Subscribers::Sub& Subscribers::install(int64_t id, const lbkit::api::Subscriber& spec)
{
    auto& slot = subs_[id];
    if (!slot)
        slot = std::make_unique<Sub>();
    Sub& s = *slot;
    s.id = id;
    s.spec = spec;
    s.failures = 0;
    s.backoff.reset();
    s.failing_since = -1;
    s.retry = std::make_unique<lbkit::Timer>(loop_, [this, id] {
        if (auto it = subs_.find(id); it != subs_.end())
            push(*it->second);
    });
    s.coalesce = std::make_unique<lbkit::Timer>(loop_, [this, id] {
        if (auto it = subs_.find(id); it != subs_.end() && !it->second->retry->pending())
            push(*it->second);
    });
    s.periodic.reset();
    if (spec.mode == lbkit::api::PushMode::periodic) {
        s.periodic = std::make_unique<lbkit::Timer>(loop_, [this, id] {
            auto it = subs_.find(id);
            if (it == subs_.end())
                return;
            if (!it->second->retry->pending())
                push(*it->second);
            start_periodic(*it->second);
        });
        start_periodic(s);
    }
    return s;
}

void Subscribers::start_periodic(Sub& s)
{
    s.periodic->start(lbkit::jitter(lbkit::Millis(s.spec.interval_ms)));
}

void Subscribers::start()
{
    for (const auto& stored : store_.subscribers())
        push(install(stored.id, stored.spec));
    if (!subs_.empty())
        lbkit::log::info("subscribers: ", subs_.size(), " loaded from the state file");
}

int64_t Subscribers::add(const lbkit::api::Subscriber& spec)
{
    int64_t id = store_.save_subscriber(spec);
    Sub& s = install(id, spec);
    s.retry->cancel();
    push(s);
    return id;
}

bool Subscribers::remove(int64_t id)
{
    bool stored = store_.delete_subscriber(id);
    bool live = subs_.erase(id) > 0;
    return stored || live;
}

void Subscribers::state_changed(bool transition)
{
    // Built only when a load change must be measured: with no change
    // subscriber, a report costs no serialization of the state.
    std::optional<StateBody> now;
    MovedSince moved;
    for (auto& [id, s] : subs_) {
        if (s->spec.mode != lbkit::api::PushMode::change || s->retry->pending())
            continue;  // a retry sends the newest state anyway
        if (transition) {
            s->coalesce->cancel();
            s->waiting_transition = s->in_flight;
            push(*s);
        } else {
            if (!now)
                now = current_();
            push_loads(*s, *now, moved);
        }
    }
}

// A load change: pushed when it moved some figure by more than --load-delta
// since the last push, but not sooner than --push-min-interval after it.
void Subscribers::push_loads(Sub& s, const StateBody& now, MovedSince& moved)
{
    if (s.coalesce->pending() || (s.in_flight && s.waiting))
        return;  // a push of the newest state is already due
    if (s.sent_loads && now.loads) {
        auto [it, first] = moved.try_emplace(s.sent_loads.get(), false);
        if (first) it->second = loads_moved(*s.sent_loads, *now.loads, options_.load_delta);
        if (!it->second) return;
    }
    int64_t due = s.last_push_ms < 0 ? 0 : s.last_push_ms + options_.push_min_interval.count();
    int64_t wait = due - lbkit::monotonic_ms();
    if (wait > 0 || s.in_flight) {
        coalesced_.inc();
        if (s.in_flight)
            s.waiting = true;
        else
            s.coalesce->start(lbkit::Millis(wait));
        return;
    }
    push(s);
}

void Subscribers::push(Sub& s)
{
    if (s.in_flight) {
        s.waiting = true;
        return;
    }
    StateBody body = current_();
    s.sent_loads = body.loads;
    s.last_push_ms = lbkit::monotonic_ms();
    lbkit::httpc::Request req;
    req.method = "POST";
    req.url = s.spec.url;
    req.body = *body.json;
    req.bearer = token_;
    req.timeout = lbkit::Millis(5000);
    req.connect_timeout = lbkit::Millis(2000);
    s.in_flight = true;
    s.waiting = false;
    s.waiting_transition = false;
    int64_t id = s.id;
    uint64_t version = body.version;
    http_.start(std::move(req), [this, id, version](const lbkit::httpc::Result& r) { done(id, version, r); });
}

void Subscribers::done(int64_t id, uint64_t version, const lbkit::httpc::Result& r)
{
    auto it = subs_.find(id);
    if (it == subs_.end())
        return;  // removed while the push was under way
    Sub& s = *it->second;
    s.in_flight = false;
    // 409 means the receiver already has a newer version: delivered.
    if (r.ok() || r.status == 409) {
        pushes_ok_.inc();
        if (s.failures > 0)
            lbkit::log::info("subscriber ", s.spec.url, ": reachable again");
        s.failures = 0;
        s.backoff.reset();
        s.failing_since = -1;
        s.last_error.clear();
        s.last_ok_ms = lbkit::unix_ms();
        s.delivered = std::max(s.delivered, version);
        if (s.waiting)
            resume(s);
        return;
    }
    pushes_failed_.inc();
    s.last_error = r.describe();
    if (s.failing_since < 0)
        s.failing_since = lbkit::monotonic_ms();
    ++s.failures;
    if (lbkit::monotonic_ms() - s.failing_since >= options_.drop_after.count()) {
        drop(id, "unreachable for " + lbkit::format_duration(options_.drop_after) + " (" + s.last_error + ")");
        return;
    }
    if (s.failures == 1)
        lbkit::log::warn("subscriber ", s.spec.url, ": push failed: ", s.last_error, "; retrying with backoff");
    schedule_retry(s);
}

// The state changed while a push was under way: a transition goes out now,
// a load change keeps to the minimum interval.
void Subscribers::resume(Sub& s)
{
    if (s.waiting_transition || s.spec.mode != lbkit::api::PushMode::change) {
        push(s);
        return;
    }
    s.waiting = false;
    int64_t wait = s.last_push_ms + options_.push_min_interval.count() - lbkit::monotonic_ms();
    if (wait > 0)
        s.coalesce->start(lbkit::Millis(wait));
    else
        push(s);
}

void Subscribers::schedule_retry(Sub& s)
{
    s.retry->start(s.backoff.next());
}

void Subscribers::drop(int64_t id, const std::string& why)
{
    auto it = subs_.find(id);
    if (it == subs_.end())
        return;
    lbkit::log::warn("subscriber ", it->second->spec.url, ": dropped: ", why);
    dropped_.inc();
    store_.delete_subscriber(id);
    subs_.erase(it);
}

nlohmann::json Subscribers::list() const
{
    nlohmann::json out = nlohmann::json::array();
    for (const auto& [id, s] : subs_) {
        nlohmann::json j = lbkit::api::to_json(s->spec);
        j["id"] = id;
        j["delivered_version"] = s->delivered;
        j["failures"] = s->failures;
        j["last_ok_ms"] = s->last_ok_ms;
        if (!s->last_error.empty())
            j["last_error"] = s->last_error;
        out.push_back(std::move(j));
    }
    return out;
}

}  // namespace lbstated
