// Delivery of the state to the local proxies (DESIGN.md, lbstated): each
// subscriber gets it on every state transition (mode change) or every
// interval (mode periodic), retried with backoff while unreachable and
// dropped after --drop-after. At most one push per subscriber is in flight;
// a newer state replaces a waiting one, so nothing queues up.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "api.hpp"
#include "httpc.hpp"
#include "loop.hpp"
#include "metrics.hpp"
#include "stated_store.hpp"

namespace lbstated {

// The state body to send and its version, built once per version.
struct StateBody {
    uint64_t version = 0;
    std::shared_ptr<const std::string> json;
};

class Subscribers {
public:
    Subscribers(lbkit::Loop& loop, lbkit::httpc::Client& http, StatedStore& store, lbkit::Metrics& metrics,
                lbkit::Millis drop_after, std::string token, std::function<StateBody()> current);
    ~Subscribers();

    // Loads the persisted subscribers and sends each the current state.
    void start();
    // Adds, or updates the subscriber with that URL (re-registration);
    // sends it the state at once. Returns the id.
    int64_t add(const lbkit::api::Subscriber& spec);
    bool remove(int64_t id);
    // After every change: transition=true pushes to the change subscribers.
    void state_changed(bool transition);
    nlohmann::json list() const;
    std::size_t size() const { return subs_.size(); }

private:
    struct Sub;
    void push(Sub& s);
    void done(int64_t id, uint64_t version, const lbkit::httpc::Result& r);
    void schedule_retry(Sub& s);
    void drop(int64_t id, const std::string& why);
    Sub& install(int64_t id, const lbkit::api::Subscriber& spec);

    lbkit::Loop& loop_;
    lbkit::httpc::Client& http_;
    StatedStore& store_;
    lbkit::Millis drop_after_;
    std::string token_;
    std::function<StateBody()> current_;
    std::map<int64_t, std::unique_ptr<Sub>> subs_;
    lbkit::Series& pushes_ok_;
    lbkit::Series& pushes_failed_;
    lbkit::Series& dropped_;
};

}  // namespace lbstated
