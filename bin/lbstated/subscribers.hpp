// Delivery of the state to the local proxies (lbstated(8), DELIVERY): a
// change subscriber gets every transition at once and load changes
// coalesced (at most one push per --push-min-interval, and only when some
// server's relative load moved by more than --load-delta since what it was
// last sent); a periodic one gets the state every interval, with jitter.
// Pushes are retried with backoff while unreachable and the subscriber is
// dropped after --drop-after. At most one push per subscriber is in flight;
// a newer state replaces a waiting one, so nothing queues up.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api.hpp"
#include "httpc.hpp"
#include "loop.hpp"
#include "metrics.hpp"
#include "stated_store.hpp"

namespace lbstated {

// The state body to send and its version, built once per version, with the
// relative load (load / ratio) of every server of every group in the order
// of the body, against which the next load change is measured.
struct StateBody {
    uint64_t version = 0;
    std::shared_ptr<const std::string> json;
    std::shared_ptr<const std::vector<double>> loads;
};

struct DeliveryOptions {
    lbkit::Millis drop_after{600'000};
    lbkit::Millis push_min_interval{1000};
    double load_delta = 0.1;
};

// True when some relative load moved by more than delta (a fraction of the
// value it was) between two figures; a changed server list counts as moved.
bool loads_moved(const std::vector<double>& sent, const std::vector<double>& now, double delta);

// The host of an http:// or https:// URL, without brackets, in lower case
// and without a final dot; empty when there is none.
std::string url_host(const std::string& url);
// An address or name that, from this host, means this host: 127.0.0.0/8 in
// any form a resolver takes ("127.1"), ::1, ::ffff:127.x.y.z, localhost and
// its subdomains (RFC 6761), and the unspecified 0.0.0.0 and ::, which a
// connect also takes to this host.
bool this_host(const std::string& host);
// Why a subscription from peer (its numeric address) must be refused: its
// push URL names this host's loopback while the peer is on another host,
// so every push would come back here instead of reaching the subscriber.
// host_addresses are this host's own addresses: a peer that is one of
// them is on this host, where the loopback URL is right. Empty: accepted.
std::string loopback_push_refusal(const std::string& url, const std::string& peer,
                                  const std::vector<std::string>& host_addresses);
// This host's addresses, numeric (getifaddrs), for loopback_push_refusal.
std::vector<std::string> host_addresses();

class Subscribers {
public:
    Subscribers(lbkit::Loop& loop, lbkit::httpc::Client& http, StatedStore& store, lbkit::Metrics& metrics,
                DeliveryOptions options, std::string token, std::function<StateBody()> current);
    ~Subscribers();

    // Loads the persisted subscribers and sends each the current state.
    void start();
    // Adds, or updates the subscriber with that URL (re-registration);
    // sends it the state at once. Returns the id.
    int64_t add(const lbkit::api::Subscriber& spec);
    bool remove(int64_t id);
    // After every change: a transition goes to every change subscriber at
    // once; a load change to those whose figures it moved, coalesced.
    void state_changed(bool transition);
    nlohmann::json list() const;
    std::size_t size() const { return subs_.size(); }

private:
    struct Sub;
    void push(Sub& s);
    // Whether the loads moved since a push, by the loads that push sent:
    // subscribers pushed together share them, so each figure is compared
    // once per report, not once per subscriber.
    using MovedSince = std::map<const std::vector<double>*, bool>;
    void push_loads(Sub& s, const StateBody& now, MovedSince& moved);
    void resume(Sub& s);
    void start_periodic(Sub& s);
    void done(int64_t id, uint64_t version, const lbkit::httpc::Result& r);
    void schedule_retry(Sub& s);
    void drop(int64_t id, const std::string& why);
    Sub& install(int64_t id, const lbkit::api::Subscriber& spec);

    lbkit::Loop& loop_;
    lbkit::httpc::Client& http_;
    StatedStore& store_;
    DeliveryOptions options_;
    std::string token_;
    std::function<StateBody()> current_;
    std::map<int64_t, std::unique_ptr<Sub>> subs_;
    lbkit::Series& pushes_ok_;
    lbkit::Series& pushes_failed_;
    lbkit::Series& dropped_;
    lbkit::Series& coalesced_;
};

}  // namespace lbstated
