// The proxy's book of groups and servers: the newest state any state server
// sent, how long ago a state server last confirmed it, and the local facts
// (suspect servers, requests in flight). Pure logic with the clock passed
// in, so the unit tests drive it without sockets or sleeps.
//
// Versions: a state is taken when its version is newer than the one held;
// an older or equal one is ignored (a late answer never rolls back). One
// exception: after the state server that sent the held state restarted
// (source_restarted, from its health answer), or after the proxy restored
// it from disk, the next state from that server is taken whatever its
// version: the server may have lost its database and counts from 1 again,
// and the proxy must not ignore it until the old numbers are reached.
//
// Aging (DESIGN.md, lbstated: soft state): when no state server confirmed
// the held state for stale_after, every server that is not pinned is
// treated as unknown, so it is chosen only while no server of its group is
// up. A pin is an operator's command, not a measurement, so it stays.
#pragma once
#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "api.hpp"
#include "duration.hpp"
#include "select.hpp"
#include "selection_state.hpp"

namespace lbproxy {

class StateBook {
public:
    explicit StateBook(lbkit::Millis stale_after) : stale_after_(stale_after) {}

    enum class Outcome { accepted, same, older };
    // Throws BadInput when a server name is not host[:port].
    Outcome apply(lbkit::api::StateView view, const std::string& source, int64_t now_ms);
    // State loaded from SQLite at start: confirmed_ms is when it was last current.
    void restore(lbkit::api::StateView view, const std::string& source, int64_t confirmed_ms);
    // The state server with this key is a new instance.
    void source_restarted(const std::string& source);
    // A state server said the held state is still current (health check in
    // change mode: it would have pushed a change).
    void confirm(int64_t now_ms);

    bool is_group(const std::string& host) const;
    bool stale(int64_t now_ms) const;
    uint64_t version() const { return view_.version; }
    const std::string& source() const { return source_; }
    int64_t confirmed_ms() const { return confirmed_ms_; }
    const lbkit::api::StateView& view() const { return view_; }

    // Local facts.
    void mark_suspect(const std::string& server, int64_t until_ms);
    bool suspect(const std::string& server, int64_t now_ms) const;
    void request_started(const std::string& server);
    void request_finished(const std::string& server);
    int64_t inflight(const std::string& server) const;

    // The group's servers as the selection sees them now (aged, suspect,
    // in-flight). Empty when host is not a group.
    std::vector<lbkit::select::Candidate> candidates(const std::string& host, int64_t now_ms) const;

    // Local choice (central is served by p2c here: it is the fallback when
    // lbstated cannot be asked). Suspect servers are avoided while another
    // server is eligible; servers in exclude never.
    Choice choose(lbkit::select::Policy policy, const std::string& host,
                  const std::set<std::string>& exclude, int64_t now_ms, std::mt19937_64& rng) const;

    // GET /v1/state of the admin API: the state as the selection sees it.
    nlohmann::json to_json(int64_t now_ms) const;

private:
    static constexpr std::size_t no_group = std::size_t(-1);
    // Index of the group in view_, or no_group.
    std::size_t find(const std::string& host) const;
    std::vector<lbkit::select::Candidate> candidates(const lbkit::api::GroupView& g, int64_t now_ms) const;
    void adopt(lbkit::api::StateView view, std::vector<std::vector<lbkit::HostPort>> targets);
    std::vector<std::vector<double>> learn_shares(const lbkit::api::StateView& next) const;

    lbkit::Millis stale_after_;
    lbkit::api::StateView view_;
    std::vector<std::vector<lbkit::HostPort>> targets_;    // parallel to view_'s groups and servers
    std::vector<std::vector<double>> shares_;              // adaptive's share factors, parallel too
    std::string source_;
    int64_t confirmed_ms_ = 0;
    std::unordered_map<std::string, std::size_t> groups_;  // lower-case name -> index
    std::set<std::string> restarted_;                      // sources whose next state is taken
    std::unordered_map<std::string, int64_t> suspect_until_;
    std::unordered_map<std::string, int64_t> inflight_;
};

const char* to_string(StateBook::Outcome o);

// What changed between two states for a person reading the log: servers
// whose state, pin or drain changed, servers and groups added or removed
// ("web1:80 up->down, web3:80 new"); empty when only loads changed.
std::string describe_changes(const lbkit::api::StateView& before, const lbkit::api::StateView& after);

// The book's clock: Unix milliseconds (confirmation times are persisted).
int64_t unix_ms();

// The server name's host and port (DESIGN.md: "host" means port 80).
lbkit::HostPort server_target(const std::string& name);

}  // namespace lbproxy
