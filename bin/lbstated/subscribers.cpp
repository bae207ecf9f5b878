#include "subscribers.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <optional>

#include "addr.hpp"
#include "clock.hpp"
#include "duration.hpp"
#include "log.hpp"

namespace lbstated {
namespace {

// The numeric form inet_ntop writes, IPv4 for an IPv4-mapped IPv6 address,
// so that a peer "::ffff:10.0.0.5" and an interface 10.0.0.5 compare equal;
// empty when host is not a numeric address.
std::string canonical_ip(const std::string& host)
{
    char buf[INET6_ADDRSTRLEN];
    in_addr a4;
    if (inet_pton(AF_INET, host.c_str(), &a4) == 1)
        return inet_ntop(AF_INET, &a4, buf, sizeof buf);
    in6_addr a6;
    if (inet_pton(AF_INET6, host.c_str(), &a6) != 1)
        return "";
    if (IN6_IS_ADDR_V4MAPPED(&a6)) {
        std::memcpy(&a4, &a6.s6_addr[12], 4);
        return inet_ntop(AF_INET, &a4, buf, sizeof buf);
    }
    return inet_ntop(AF_INET6, &a6, buf, sizeof buf);
}

bool ends_with(const std::string& s, const std::string& tail)
{
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

}  // namespace

std::string url_host(const std::string& url)
{
    auto scheme = url.find("://");
    if (scheme == std::string::npos)
        return "";
    std::string authority = url.substr(scheme + 3, url.find_first_of("/?#", scheme + 3) - (scheme + 3));
    if (auto at = authority.rfind('@'); at != std::string::npos)
        authority.erase(0, at + 1);
    std::string host;
    if (!authority.empty() && authority[0] == '[') {
        auto close = authority.find(']');
        host = authority.substr(1, close == std::string::npos ? std::string::npos : close - 1);
        if (auto zone = host.find('%'); zone != std::string::npos)
            host.erase(zone);  // fe80::1%25eth0
    } else {
        host = authority.substr(0, authority.rfind(':'));
    }
    for (char& c : host)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!host.empty() && host.back() == '.')
        host.pop_back();
    return host;
}

bool this_host(const std::string& host)
{
    if (host == "localhost" || ends_with(host, ".localhost"))
        return true;
    in_addr a4;
    // inet_aton, not inet_pton: the resolver takes "127.1" and "2130706433" too.
    if (host.find(':') == std::string::npos && inet_aton(host.c_str(), &a4) != 0) {
        uint32_t a = ntohl(a4.s_addr);
        return (a >> 24) == 127 || a == 0;
    }
    in6_addr a6;
    if (inet_pton(AF_INET6, host.c_str(), &a6) != 1)
        return false;
    if (IN6_IS_ADDR_V4MAPPED(&a6))
        return a6.s6_addr[12] == 127 || (a6.s6_addr[12] | a6.s6_addr[13] | a6.s6_addr[14] | a6.s6_addr[15]) == 0;
    return IN6_IS_ADDR_LOOPBACK(&a6) || IN6_IS_ADDR_UNSPECIFIED(&a6);
}

std::string loopback_push_refusal(const std::string& url, const std::string& peer,
                                  const std::vector<std::string>& host_addresses)
{
    std::string host = url_host(url);
    std::string from = canonical_ip(peer);
    if (host.empty() || !this_host(host) || from.empty() || this_host(from))
        return "";
    for (const auto& a : host_addresses)
        if (canonical_ip(a) == from)
            return "";  // the subscriber is on this host: its loopback is ours
    return "url: host " + host + " means lbstated's own host (loopback), but the subscription comes from " + from +
           " on another host: every push would go to lbstated's host, not to the proxy; register a URL this manager "
           "can reach (lbproxy --admin on an address reachable from the manager, with --token-file, or --admin-url), "
           "or use lbproxy --state-mode pull, in which the proxy connects to the manager itself";
}

std::vector<std::string> host_addresses()
{
    std::vector<std::string> out;
    ifaddrs* list = nullptr;
    if (getifaddrs(&list) != 0)
        return out;
    for (ifaddrs* i = list; i; i = i->ifa_next)
        if (i->ifa_addr && (i->ifa_addr->sa_family == AF_INET || i->ifa_addr->sa_family == AF_INET6))
            out.push_back(lbkit::sockaddr_ip(i->ifa_addr));
    freeifaddrs(list);
    return out;
}

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
