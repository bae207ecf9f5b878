// The state lbstated holds: groups, what the sniffers reported, pins and
// drains, and the version that numbers every change. Pure logic over a
// clock passed in, so the unit tests drive it without sockets.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "api.hpp"
#include "groups.hpp"
#include "select.hpp"

namespace lbstated {

using lbkit::api::State;

struct ServerStatus {
    double load = 0;
    State reported = State::unknown;
    int64_t last_report_ms = -1;  // monotonic clock; -1: never reported
    int64_t stale_after_ms = 0;   // from the flag, or three report intervals
    bool stale = false;
    int64_t assigned = 0;         // central selections since the last report
};

struct ReportOutcome {
    int applied = 0;
    std::vector<std::string> unknown;  // addresses that name no server
    bool changed = false;              // the state shows something new: a new version
    bool transition = false;           // some server changed state (implies changed)
};

class Model {
public:
    // stale_after_ms 0: three intervals of the reporting notifier.
    explicit Model(int64_t stale_after_ms) : stale_after_ms_(stale_after_ms) {}

    // Called with the new ceiling when versions up to it may be handed out;
    // the owner persists it so a restart never reuses a version.
    void on_reserve(std::function<void(uint64_t)> fn) { reserve_ = std::move(fn); }
    // Continues numbering after a restart: the first version is ceiling + 1.
    void restore_version(uint64_t ceiling);
    uint64_t version() const { return version_; }

    void set_groups(Groups g);
    const Groups& groups() const { return groups_; }

    // A report that changes nothing the state shows (each server it names
    // keeps its state and the load the state shows, and had been reported
    // before) refreshes the figures' time but keeps the version: no waiting
    // request and no subscriber is woken for it (lbstated(8), Servers and states).
    ReportOutcome apply_report(const lbkit::api::Report& r, int64_t now_ms);
    // Servers whose reports stopped become unknown; returns those whose
    // state changed by it (a transition when not empty).
    std::vector<std::string> sweep(int64_t now_ms);

    // Admin actions: true when something changed (pinning twice is no error).
    bool pin(const std::string& server, const lbkit::api::Pin& p);
    bool unpin(const std::string& server);
    bool set_draining(const std::string& server, bool on);
    // At start, from the state file: no version change.
    void restore_pin(const std::string& server, const lbkit::api::Pin& p) { pins_[server] = p; }
    void restore_drain(const std::string& server) { drains_.insert(server); }

    const std::map<std::string, lbkit::api::Pin>& pins() const { return pins_; }
    bool draining(const std::string& server) const { return drains_.count(server) != 0; }

    lbkit::api::StateView view(int64_t now_ms, const std::string& only_group = "") const;
    // g's servers in member order; their names are views of g's.
    std::vector<lbkit::select::Candidate> candidates(const Group& g) const;
    // Central selection: the choice is counted as load until the next report.
    std::optional<std::string> select(const Group& g, std::mt19937_64& rng);

    // Passive ejections reported by proxies: shown in the view (ejected_by)
    // and nothing more; the sniffers' word on state and load stands, and
    // the version does not change. Each expires at until_ms unless renewed.
    void eject(const std::string& server, const std::string& proxy, int64_t until_ms);
    bool end_ejection(const std::string& server, const std::string& proxy);
    // Drops expired ejections; true when one was dropped.
    bool expire_ejections(int64_t now_ms);
    int ejected_by(const std::string& server, int64_t now_ms) const;
    // proxy -> until_ms of the server's ejections in force.
    std::map<std::string, int64_t> ejections(const std::string& server, int64_t now_ms) const;
    // Changes with every ejection added, ended or expired (the state body cache).
    uint64_t ejection_serial() const { return ejection_serial_; }
    // Changes with every report applied, new version or not: the ages of
    // the figures in the state body.
    uint64_t report_serial() const { return report_serial_; }

    State effective_state(const std::string& server) const;
    const ServerStatus* status(const std::string& server) const;

private:
    // What the state document shows of a server, but its age: a report that
    // leaves it as it was is no change.
    struct Shown {
        State state = State::unknown;
        double load = 0;
        bool reported = false;
        bool operator==(const Shown& o) const { return state == o.state && load == o.load && reported == o.reported; }
    };
    Shown shown(const std::string& server) const;
    void bump();

    int64_t stale_after_ms_;
    Groups groups_;
    std::map<std::string, ServerStatus> servers_;
    std::map<std::string, lbkit::api::Pin> pins_;
    std::set<std::string> drains_;
    std::map<std::string, std::map<std::string, int64_t>> ejected_;  // server -> proxy -> until_ms
    uint64_t ejection_serial_ = 0;
    uint64_t report_serial_ = 0;
    uint64_t version_ = 0;
    uint64_t ceiling_ = 0;
    std::function<void(uint64_t)> reserve_;
};

}  // namespace lbstated
