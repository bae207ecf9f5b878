// The lbstated daemon as one object: the model, its state file, the
// subscribers it pushes to, and the groups it loads. The API handlers
// (routes.cpp) and main() only talk to this.
#pragma once
#include <functional>
#include <memory>
#include <random>
#include <set>
#include <string>

#include "httpc.hpp"
#include "loop.hpp"
#include "metrics.hpp"
#include "model.hpp"
#include "stated_store.hpp"
#include "subscribers.hpp"

namespace lbstated {

struct Options {
    std::string groups_file;
    lbkit::Millis stale_after{0};  // 0: three report intervals
    DeliveryOptions delivery;
    std::size_t max_body = 1 << 20;
};

class Stated {
public:
    Stated(lbkit::Loop& loop, lbkit::Metrics& metrics, const Options& options,
           const std::string& state_dir, const std::string& token);
    // Loads groups (file, or what the API set last), pins, drains; starts
    // the sweep timer and the pushes to persisted subscribers.
    void start();

    // Both throw BadInput ("FILE:LINE: ...") and keep the groups in force.
    void reload_groups_file();
    void replace_groups(const std::string& text, const std::string& who);

    // Each change below is saved first (a restart keeps what was told),
    // then applied to the model, logged with who asked, and announced to
    // the subscribers and the waiting requests, once.
    ReportOutcome apply_report(const lbkit::api::Report& report);
    void pin(const std::string& server, const lbkit::api::Pin& pin, const std::string& who);
    void unpin(const std::string& server, const std::string& who);
    void set_drain(const std::string& server, bool on, const std::string& who);
    // Ejections are soft state: neither saved nor a new version.
    void eject(const std::string& server, const std::string& proxy, lbkit::Millis for_);
    bool end_ejection(const std::string& server, const std::string& proxy);

    void on_changed(std::function<void()> fn) { on_changed_ = std::move(fn); }
    StateBody state_body();
    int64_t now_ms() const;  // monotonic, for ages

    Model& model() { return model_; }
    Subscribers& subscribers() { return *subscribers_; }
    const Options& options() const { return options_; }
    std::mt19937_64& rng() { return rng_; }
    lbkit::Metrics& metrics() { return metrics_; }

private:
    // After every change of the model: pushes, metrics, and on_changed
    // (the API's requests waiting for a new version).
    void changed(bool transition);
    std::string in_groups(const std::string& server) const;
    static Groups read_now(Groups g);
    void apply_groups(Groups g, const std::string& file_text);
    void update_server_metrics();

    lbkit::Loop& loop_;
    lbkit::Metrics& metrics_;
    Options options_;
    lbkit::store::StateLock lock_;  // before the store: nothing is read from a directory in use
    StatedStore store_;
    Model model_;
    lbkit::httpc::Client http_;
    std::unique_ptr<Subscribers> subscribers_;
    lbkit::Timer sweep_;
    StateBody cached_;
    uint64_t cached_ejections_ = 0;  // the model's ejection serial the cached body shows
    uint64_t cached_reports_ = 0;    // the model's report serial (the ages) the cached body shows
    std::mt19937_64 rng_{std::random_device{}()};
    std::string file_text_;  // the --groups file as last applied
    std::set<std::pair<std::string, std::string>> metric_servers_;  // (group, server) shown in /metrics
    std::function<void()> on_changed_;
};

}  // namespace lbstated
