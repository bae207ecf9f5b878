#include "state_source.hpp"

#include <algorithm>

#include "addr.hpp"
#include "error.hpp"
#include "httpd.hpp"
#include "log.hpp"
#include "state_book.hpp"

namespace lbproxy {

using lbkit::Millis;
namespace httpc = lbkit::httpc;
namespace log = lbkit::log;

namespace {
}  // namespace

struct StateSources::Source {
    std::string url;   // normalized base URL
    std::string key;   // host:port
    std::string instance;
    int64_t subscriber_id = -1;  // lbstated's id of our registration
    bool registered = false;
    bool healthy = false;  // the last request to it succeeded
    bool warned = false;   // a failure was logged at warn level: the next ones go to debug
    lbkit::Backoff backoff{Millis{250}, Millis{5000}};
    int64_t last_ok_ms = 0;
    int64_t last_push_ms = 0;
    int64_t last_health_ms = 0;  // a health check was sent
    int64_t down_until_ms = 0;  // central: not asked again before this
    bool pull_in_flight = false;
    bool fetch_in_flight = false;  // GET /v1/state outside pull mode
    bool fetch_warned = false;     // its failure was logged at warn level
    int64_t announced = -1;        // state_version of the last health answer; -1: none
    std::string last_error;
    std::unique_ptr<lbkit::Timer> timer;
};

std::string normalize_state_url(const std::string& url)
{
    std::string out;
    try {
        out = lbkit::http_base_url(url);
    } catch (const lbkit::BadInput& e) {
        throw lbkit::Error(EX_USAGE, std::string("--state-server ") + e.what());
    }
    // Accept the URL of the state itself as well as the server's base URL.
    const std::string suffix = "/v1/state";
    if (out.size() > suffix.size() && out.compare(out.size() - suffix.size(), suffix.size(), suffix) == 0)
        out.erase(out.size() - suffix.size());
    return lbkit::http_base_url(out);
}

std::string source_key(const std::string& url)
{
    auto start = url.find("://");
    start = start == std::string::npos ? 0 : start + 3;
    auto end = url.find('/', start);
    return url.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

StateSources::StateSources(lbkit::Loop& loop, httpc::Client& http, lbkit::Metrics& metrics, SourceConfig config,
                           StateFn on_state, ConfirmFn on_confirm)
    : loop_(loop), http_(http), metrics_(metrics), config_(std::move(config)),
      on_state_(std::move(on_state)), on_confirm_(std::move(on_confirm))
{
    for (const auto& u : config_.urls) {
        auto s = std::make_unique<Source>();
        s->url = normalize_state_url(u);
        s->key = source_key(s->url);
        Source* raw = s.get();
        s->timer = std::make_unique<lbkit::Timer>(loop_, [this, raw] { watch(*raw); });
        sources_.push_back(std::move(s));
    }
}

StateSources::~StateSources()
{
    stop();
}

void StateSources::start(const std::string& push_url)
{
    push_url_ = push_url;
    if (pull_mode()) refresh();
    for (auto& s : sources_) schedule(*s, Millis{0});
}

void StateSources::reregister()
{
    if (pull_mode() || stopped_) return;
    for (auto& s : sources_) {
        s->registered = false;
        schedule(*s, Millis{0});
    }
}

void StateSources::unsubscribe()
{
    for (auto& s : sources_) {
        if (!s->registered || s->subscriber_id < 0) continue;
        // Blocking, at shutdown only: the loop has nothing else to do then.
        auto req = request(*s, "DELETE", "/v1/subscribers/" + std::to_string(s->subscriber_id));
        req.timeout = std::min(config_.timeout, Millis{500});
        req.connect_timeout = req.timeout;
        auto r = httpc::fetch(req);
        if (r.ok()) log::info("state server ", s->url, ": unsubscribed");
        else log::warn("state server ", s->url, ": DELETE /v1/subscribers/", s->subscriber_id, ": ", r.describe());
        s->registered = false;
    }
}

void StateSources::stop()
{
    stopped_ = true;
    for (auto& s : sources_) s->timer->cancel();
    for (uint64_t id : in_flight_) http_.cancel(id);
    in_flight_.clear();
    flush_waiters();
}

void StateSources::pushed(const std::string& key)
{
    for (auto& s : sources_)
        if (s->key == key) s->last_push_ms = unix_ms();
}

httpc::Request StateSources::request(const Source& s, const std::string& method, const std::string& path) const
{
    httpc::Request req;
    req.method = method;
    req.url = s.url + path;
    req.bearer = config_.token;
    req.timeout = config_.timeout;
    req.connect_timeout = std::min(config_.timeout, Millis{2000});
    return req;
}

uint64_t StateSources::send(httpc::Request req, std::function<void(const httpc::Result&)> cb)
{
    // The id is only known after start(); the callback never runs inside start().
    auto id = std::make_shared<uint64_t>(0);
    *id = http_.start(std::move(req), [this, id, cb = std::move(cb)](const httpc::Result& r) {
        in_flight_.erase(*id);
        cb(r);
    });
    in_flight_.insert(*id);
    return *id;
}

void StateSources::count(const Source& s, const char* kind, bool ok)
{
    metrics_.counter("lbproxy_state_server_requests_total", "Requests to state servers, by kind and result",
                     {{"state_server", s.key}, {"kind", kind}, {"result", ok ? "ok" : "error"}}).inc();
}

// Every health check, pull and retry is moved at random by a tenth of its
// delay, so proxies started together do not call their state server in step.
void StateSources::schedule(Source& s, Millis after)
{
    if (!stopped_) s.timer->start(lbkit::jitter(after));
}

void StateSources::watch(Source& s)
{
    if (stopped_) return;
    int64_t now = unix_ms();
    // Periodic pushes that keep arriving are proof enough of a live
    // subscription, but not of the same instance: a restarted state server
    // pushes to the subscribers it kept and has forgotten what proxies told
    // it (ejections). So the health check still runs, at most every
    // periodic_health_every.
    int64_t health_every = std::max(config_.interval, periodic_health_every).count();
    if (config_.mode == "periodic" && s.registered &&
        now - s.last_push_ms < config_.interval.count() * 5 / 2 && now - s.last_health_ms < health_every) {
        schedule(s, config_.interval);
        return;
    }
    s.last_health_ms = now;
    send(request(s, "GET", "/v1/health"), [this, &s](const httpc::Result& r) { health_answer(s, r); });
}

void StateSources::health_answer(Source& s, const httpc::Result& r)
{
    count(s, "health", r.ok());
    auto silent = [this, &s] {
        s.announced = -1;
        if (on_silent_) on_silent_(s.key);
    };
    if (!r.ok()) {
        silent();
        return failed(s, "GET /v1/health", r.describe());
    }
    std::string instance;
    int64_t announced = -1;
    try {
        auto j = nlohmann::json::parse(r.body);
        // lbstated's health names its start time and pid: a new pair is a restart.
        for (const char* f : {"instance", "started_ms", "pid"})
            if (j.is_object() && j.contains(f)) instance += lbkit::api::dump(j[f]);
        if (j.is_object() && j.contains("state_version") && j["state_version"].is_number_unsigned())
            announced = static_cast<int64_t>(j["state_version"].get<uint64_t>());
    } catch (const std::exception&) {
        silent();
        return failed(s, "GET /v1/health", "answer is not JSON");
    }
    bool restarted = !s.instance.empty() && instance != s.instance;
    if (restarted) {
        log::info("state server ", s.url, ": restarted (instance ", instance, ")",
                  pull_mode() ? "" : "; registering again");
        if (on_restart_) on_restart_(s.key);
    }
    s.instance = instance;
    // The state server holds a version the proxy would take: a push was
    // lost (or, in change mode, load figures were coalesced). Fetch it
    // rather than confirm the state held.
    s.announced = announced;
    bool behind = announced >= 0 && on_announce_ && on_announce_(s.key, static_cast<uint64_t>(announced));
    if (behind)
        log::debug("state server ", s.url, ": holds state version ", announced, "; fetching it");
    if (pull_mode()) {
        succeeded(s);  // pulls confirm the state; the watch looks for restarts and newer versions
        if (behind) pull([] {});
        return schedule(s, config_.interval);
    }
    if (!s.registered || restarted) {
        if (behind) fetch_state(s, false);
        return register_with(s);
    }
    if (config_.mode == "periodic" && unix_ms() - s.last_push_ms >= config_.interval.count() * 5 / 2) {
        // Alive, but no push for 2.5 intervals: it may have dropped us.
        log::info("state server ", s.url, ": no periodic push for ", unix_ms() - s.last_push_ms,
                  " ms; registering again");
        if (behind) fetch_state(s, false);
        return register_with(s);
    }
    succeeded(s);
    if (behind) fetch_state(s, false);
    else on_confirm_(s.key);
    schedule(s, config_.interval);
}

void StateSources::register_with(Source& s)
{
    lbkit::api::Subscriber sub;
    sub.url = push_url_ + (push_url_.find('?') == std::string::npos ? "?" : "&") +
              "source=" + lbkit::httpd::url_encode(s.key);
    sub.mode = config_.mode == "periodic" ? lbkit::api::PushMode::periodic : lbkit::api::PushMode::change;
    sub.interval_ms = config_.interval.count();
    auto req = request(s, "POST", "/v1/subscribers");
    req.body = lbkit::api::dump(lbkit::api::to_json(sub));
    send(std::move(req), [this, &s](const httpc::Result& r) { register_answer(s, r); });
}

void StateSources::register_answer(Source& s, const httpc::Result& r)
{
    count(s, "register", r.ok());
    if (!r.ok()) return failed(s, "POST /v1/subscribers", r.describe());
    try {
        auto j = nlohmann::json::parse(r.body);
        s.subscriber_id = j.is_object() && j.contains("id") && j["id"].is_number_integer() ? j["id"].get<int64_t>() : -1;
    } catch (const std::exception&) {
        s.subscriber_id = -1;
    }
    log::info("state server ", s.url, ": registered for ", config_.mode, " pushes to ", push_url_);
    s.registered = true;
    succeeded(s);
    s.last_push_ms = s.last_ok_ms;
    fetch_state(s, false);
    schedule(s, config_.interval);
}

void StateSources::fetch_state(Source& s, bool for_pull)
{
    if (!for_pull) {
        if (s.fetch_in_flight) return;  // its answer is as new as this one's would be
        s.fetch_in_flight = true;
    }
    s.pull_in_flight = s.pull_in_flight || for_pull;
    send(request(s, "GET", "/v1/state"), [this, &s, for_pull](const httpc::Result& r) { state_answer(s, r, for_pull); });
}

void StateSources::state_answer(Source& s, const httpc::Result& r, bool for_pull)
{
    if (for_pull) s.pull_in_flight = false;
    else s.fetch_in_flight = false;
    std::string why = r.ok() ? "" : r.describe();
    if (why.empty()) {
        try {
            on_state_(lbkit::api::state_from_json(nlohmann::json::parse(r.body)), s.key);
        } catch (const std::exception& e) {
            why = std::string("bad state: ") + e.what();
        }
    }
    count(s, "state", why.empty());
    if (why.empty()) {
        succeeded(s);
        if (!for_pull && s.fetch_warned) log::info("state server ", s.url, ": GET /v1/state answered again");
        if (!for_pull) s.fetch_warned = false;
        if (for_pull) flush_waiters();
        return;
    }
    if (for_pull) {
        if (!s.warned) log::warn("state server ", s.url, ": GET /v1/state: ", why);
        s.warned = true;
        s.healthy = false;
        s.last_error = "GET /v1/state: " + why;
        bool any = std::any_of(sources_.begin(), sources_.end(), [](auto& x) { return x->pull_in_flight; });
        if (!any) {
            pull_pause_until_ = unix_ms() + config_.interval.count();
            flush_waiters();
        }
    } else {
        // Fetched after each health check that sees a newer version: one
        // warning, then debug until an answer is taken.
        if (!s.fetch_warned) log::warn("state server ", s.url, ": GET /v1/state: ", why);
        else log::debug("state server ", s.url, ": GET /v1/state: ", why);
        s.fetch_warned = true;
        s.last_error = "GET /v1/state: " + why;
    }
}

void StateSources::succeeded(Source& s)
{
    if (s.warned) log::info("state server ", s.url, ": reachable again");
    s.warned = false;
    s.healthy = true;
    s.backoff.reset();
    s.last_error.clear();
    s.last_ok_ms = unix_ms();
}

void StateSources::failed(Source& s, const std::string& what, const std::string& why)
{
    if (!s.warned) log::warn("state server ", s.url, ": ", what, ": ", why, "; retrying with backoff");
    else log::debug("state server ", s.url, ": ", what, ": ", why);
    s.warned = true;
    s.healthy = false;
    s.registered = false;
    s.last_error = what + ": " + why;
    schedule(s, s.backoff.next());
}

void StateSources::pull(std::function<void()> done)
{
    waiters_.push_back(std::move(done));
    if (waiters_.size() > 1) return;  // a pull is out: wait for its answer
    if (stopped_ || unix_ms() < pull_pause_until_) return flush_waiters();
    bool any = false;
    for (auto& s : sources_) {
        any = any || s->pull_in_flight;
        if (!s->pull_in_flight) {
            fetch_state(*s, true);
            any = true;
        }
    }
    if (!any) flush_waiters();
}

void StateSources::refresh()
{
    int64_t now = unix_ms();
    if (now < next_refresh_ms_) return;
    next_refresh_ms_ = now + config_.interval.count();
    pull([] {});
}

void StateSources::flush_waiters()
{
    std::vector<std::function<void()>> ready;
    ready.swap(waiters_);
    for (auto& fn : ready) fn();
}

void StateSources::select(const std::string& group, const std::string& client, std::function<void(CentralAnswer)> done)
{
    int64_t now = unix_ms();
    Source* s = nullptr;
    for (auto& x : sources_)
        if (x->down_until_ms <= now) { s = x.get(); break; }
    if (!s || stopped_) return done(CentralAnswer{});
    using lbkit::httpd::url_encode;
    auto req = request(*s, "GET", "/v1/select?group=" + url_encode(group) + "&client=" + url_encode(client));
    send(std::move(req), [this, s, done = std::move(done)](const httpc::Result& r) {
        CentralAnswer a;
        try {
            auto j = r.body.empty() ? nlohmann::json() : nlohmann::json::parse(r.body);
            if (r.ok() && j.is_object() && j.contains("server") && j["server"].is_string()) {
                a.asked = true;
                a.server = j["server"].get<std::string>();
            } else if (r.status == 503 && j.is_object() && j.contains("error") && j["error"].is_string()) {
                a.asked = true;
                a.error = j["error"].get<std::string>();
            }
        } catch (const std::exception&) {
        }
        count(*s, "select", a.asked);
        if (!a.asked) {
            log::debug("state server ", s->url, ": GET /v1/select: ", r.describe(), "; choosing locally");
            s->down_until_ms = unix_ms() + config_.interval.count();
        }
        done(std::move(a));
    });
}

nlohmann::json StateSources::to_json() const
{
    nlohmann::json out = nlohmann::json::array();
    for (const auto& s : sources_) {
        out.push_back({{"url", s->url}, {"key", s->key}, {"mode", config_.mode},
                       {"registered", s->registered}, {"reachable", s->healthy},
                       {"instance", s->instance}, {"last_ok_ms", s->last_ok_ms},
                       {"last_push_ms", s->last_push_ms}, {"last_error", s->last_error},
                       {"announced_version", s->announced >= 0 ? nlohmann::json(s->announced) : nlohmann::json()}});
    }
    return out;
}

}  // namespace lbproxy
