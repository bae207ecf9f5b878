// The proxy's side of the state protocol with each lbstated (--state-server):
//  - push modes: POST /v1/subscribers at start, then a watch every
//    --state-interval on GET /v1/health; a new "instance" (lbstated
//    restarted), a lbstated that comes back, or (periodic mode) pushes that
//    stopped arriving lead to registering again, with backoff while it is
//    down. After each registration the current state is fetched once, so the
//    proxy does not wait for the next change;
//  - pull mode: GET /v1/state per request to a group, coalesced: requests
//    arriving while a pull is out wait for the same answer. After every
//    server failed, requests use the last known state for --state-interval
//    before the next pull is tried, so a dead lbstated costs no per-request
//    latency. The state is also pulled at start and, at most once per
//    interval, when a request names a host that is not a known group;
//  - every mode watches GET /v1/health: a new start time or pid means the
//    server restarted (on_restart), and the next state it sends is taken
//    whatever its version. The answer's state_version is announced
//    (on_announce); when the proxy would take that version (a push was
//    lost, or coalesced), the state is fetched at once (pull mode: pulled
//    in the background) instead of confirming the one held. A server
//    whose health check fails is silent (on_silent): it announces nothing;
//  - central policy: GET /v1/select?group=G&client=ID.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api.hpp"
#include "duration.hpp"
#include "httpc.hpp"
#include "loop.hpp"
#include "metrics.hpp"

namespace lbproxy {

struct SourceConfig {
    std::vector<std::string> urls;   // --state-server
    std::string mode = "change";     // change|periodic|pull
    lbkit::Millis interval{1000};
    lbkit::Millis timeout{1000};
    std::string token;
};

// "http://127.0.0.1:7400/" -> "http://127.0.0.1:7400"; throws Error(EX_USAGE)
// for anything but an http(s) URL.
std::string normalize_state_url(const std::string& url);
// The URL's host:port: how a push names its source (?source=KEY).
std::string source_key(const std::string& normalized_url);

// In periodic mode, how often a state server is checked for a restart
// while its pushes arrive (lbproxy(8), --state-mode).
inline constexpr lbkit::Millis periodic_health_every{5000};

struct CentralAnswer {
    bool asked = false;   // false: no state server answered; choose locally
    std::string server;   // set on 200
    std::string error;    // set on 503: lbstated's sentence
};

class StateSources {
public:
    using StateFn = std::function<void(lbkit::api::StateView, const std::string& source)>;
    using ConfirmFn = std::function<void(const std::string& source)>;

    StateSources(lbkit::Loop& loop, lbkit::httpc::Client& http, lbkit::Metrics& metrics,
                 SourceConfig config, StateFn on_state, ConfirmFn on_confirm);
    ~StateSources();
    void on_restart(std::function<void(const std::string& source)> fn) { on_restart_ = std::move(fn); }
    // A health answer named the version the server holds; fn answers
    // whether the proxy would take it (then it is fetched).
    using AnnounceFn = std::function<bool(const std::string& source, uint64_t version)>;
    void on_announce(AnnounceFn fn) { on_announce_ = std::move(fn); }
    // A health check failed: the server announces nothing now.
    void on_silent(std::function<void(const std::string& source)> fn) { on_silent_ = std::move(fn); }

    // Health check (and in push modes registration) at once, then the
    // watch; pull mode also pulls the state once. push_url is the admin
    // API's /v1/state as lbstated can reach it.
    void start(const std::string& push_url);
    // SIGHUP: register again with every server now.
    void reregister();
    void stop();
    // Shutdown: DELETE our registrations so lbstated stops pushing to us.
    void unsubscribe();
    // A push arrived from the source with this key.
    void pushed(const std::string& key);

    // Pull mode: done runs once, on the loop, after the first server answered
    // or all failed (then the caller uses the state it has).
    void pull(std::function<void()> done);

    // Pull mode, without a request waiting: at start, and when a host is
    // not a known group (it may be a new one). At most once per interval.
    void refresh();

    void select(const std::string& group, const std::string& client, std::function<void(CentralAnswer)> done);

    nlohmann::json to_json() const;
    bool pull_mode() const { return config_.mode == "pull"; }
    const std::vector<std::string>& urls() const { return config_.urls; }

    struct Source;
private:
    void schedule(Source& s, lbkit::Millis after);
    void count(const Source& s, const char* kind, bool ok);
    void watch(Source& s);
    void health_answer(Source& s, const lbkit::httpc::Result& r);
    void register_with(Source& s);
    void register_answer(Source& s, const lbkit::httpc::Result& r);
    void fetch_state(Source& s, bool for_pull);
    void state_answer(Source& s, const lbkit::httpc::Result& r, bool for_pull);
    void succeeded(Source& s);
    void failed(Source& s, const std::string& what, const std::string& why);
    void flush_waiters();
    uint64_t send(lbkit::httpc::Request req, std::function<void(const lbkit::httpc::Result&)> cb);
    lbkit::httpc::Request request(const Source& s, const std::string& method, const std::string& path) const;

    lbkit::Loop& loop_;
    lbkit::httpc::Client& http_;
    lbkit::Metrics& metrics_;
    SourceConfig config_;
    std::string push_url_;
    StateFn on_state_;
    ConfirmFn on_confirm_;
    std::function<void(const std::string&)> on_restart_;
    AnnounceFn on_announce_;
    std::function<void(const std::string&)> on_silent_;
    std::vector<std::unique_ptr<Source>> sources_;
    std::set<uint64_t> in_flight_;
    std::vector<std::function<void()>> waiters_;
    int64_t pull_pause_until_ = 0;
    int64_t next_refresh_ms_ = 0;
    bool stopped_ = false;
};

}  // namespace lbproxy
