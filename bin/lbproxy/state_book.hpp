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
// Aging (lbproxy(8), State: soft state): when no state server confirmed
// the held state for stale_after, every server that is not pinned is
// treated as unknown, so it is chosen only while no server of its group is
// up. A pin is an operator's command, not a measurement, so it stays.
//
// Lag (lbproxy(8), GET /v1/health): each state server's health answer
// announces the version it holds. The book is behind while some state
// server that answers announces a version the book would take from it
// (newer than the one held, or any other after that server restarted);
// it is degraded when it has been behind for more than stale_after. A
// server that does not answer announces nothing, so an outage of every
// state server makes the state stale (above) but not degraded.
//
// Local facts the selection adds to the state: requests in flight, requests
// sent since the held state was applied (the load figures do not count
// them yet), servers suspect after a failed connect, passive ejection and
// slow start (Passive below).
#pragma once
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "api.hpp"
#include "clock.hpp"
#include "duration.hpp"
#include "select.hpp"
#include "chooser.hpp"

namespace lbproxy {

// Passive ejection: eject_after consecutive failures of a server (a failed
// connect, a 5xx answer, no answer) take it out for ejection_time times the
// number of its ejections (at most max_ejection, or ejection_time when that
// is longer); the count is forgotten when the server stayed in for
// forget_after since its last ejection ended. A success resets the
// consecutive failures. No more than max_percent of a group's servers are
// out at once, but one always may be.
//
// Slow start: a server that came up (down or unknown, or new, in the
// previous received state; not in the first state this process holds), was
// unpinned, or returned from an ejection gets a share factor (ramp) rising
// linearly from ramp_floor to 1 over slow_start.
struct Passive {
    int eject_after = 5;                     // 0: no ejection
    int max_percent = 50;
    lbkit::Millis ejection_time{30000};
    lbkit::Millis max_ejection{300000};
    lbkit::Millis forget_after{300000};
    lbkit::Millis slow_start{10000};         // 0: no slow start
    static constexpr double ramp_floor = 0.1;
};

// A map keyed by name in which a string_view finds its entry without
// building a string (the hot path holds views of names).
struct NameHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
template <class T>
using ByName = std::unordered_map<std::string, T, NameHash, std::equal_to<>>;

// What a failure did to its server.
struct FailureOutcome {
    enum Kind { counted, ejected, held } kind = counted;  // held: max_percent kept it in
    int failures = 0;           // consecutive, this one included
    int ejections = 0;          // ejected: its count, this one included
    int64_t until_ms = 0;       // ejected: when it returns
    std::string group;          // held: the group at its limit
};

class StateBook {
public:
    explicit StateBook(lbkit::Millis stale_after, Passive passive = {})
        : stale_after_(stale_after), passive_(passive) {}

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

    // A state server's health answer announced the version it holds. True
    // when the book would take that version from it (the caller fetches
    // the state then instead of confirming the one held).
    bool announced(const std::string& source, uint64_t version, int64_t now_ms);
    // The state server did not answer: what it announced no longer counts.
    void silent(const std::string& source, int64_t now_ms);
    // Whether a state of this version from source would be taken.
    bool would_take(const std::string& source, uint64_t version) const;
    // The newest version a state server that answers announces (0: none).
    uint64_t newest_announced() const;
    // Since when the book is behind an announced version (0: it is not).
    int64_t behind_since_ms() const { return behind_since_ms_; }
    // For how long it has been behind (0: it is not).
    int64_t behind_ms(int64_t now_ms) const { return behind_since_ms_ ? now_ms - behind_since_ms_ : 0; }
    // Behind for more than stale_after.
    bool degraded(int64_t now_ms) const;
    // Why it is degraded, a sentence for the health answer and the log.
    std::string degraded_reason(int64_t now_ms) const;

    bool is_group(const std::string& host) const;
    bool stale(int64_t now_ms) const;
    uint64_t version() const { return view_.version; }
    const std::string& source() const { return source_; }
    int64_t confirmed_ms() const { return confirmed_ms_; }
    const lbkit::api::StateView& view() const { return view_; }

    // Server ids (chooser.hpp): every name a state carries gets one
    // as the state is applied. intern also gives one to a name no state
    // carried yet (a central answer, an upstream proxy); find_server does
    // not (no_server). The table only grows, bounded by the distinct names
    // ever named, and that is deliberate: an id stays valid for the
    // exchanges in flight that hold it, and a server keeps its facts (an
    // ejection, a ramp) while a state leaves it out and when a later one
    // names it again.
    ServerId intern(std::string_view server);
    ServerId find_server(std::string_view server) const;
    // Stable for the book's life: candidates' names are views of it.
    const std::string& server_name(ServerId id) const { return names_.at(id); }

    // Local facts, by server id: a server that several groups have shares
    // them. An id the book never gave (no_server) has none, and changes
    // nothing.
    void mark_suspect(ServerId server, int64_t until_ms);
    bool suspect(ServerId server, int64_t now_ms) const;
    void request_started(ServerId server);
    void request_finished(ServerId server);
    int64_t inflight(ServerId server) const;
    // Requests started since the held state was applied.
    int64_t sent_since_figure(ServerId server) const;

    // Passive ejection. Outcomes of a server already ejected are ignored
    // (requests that were in flight when it went out).
    void server_ok(ServerId server, int64_t now_ms);
    FailureOutcome server_failed(ServerId server, int64_t now_ms);
    bool ejected(ServerId server, int64_t now_ms) const;
    // Servers whose ejection ended by now, each named once (for the log
    // and the state servers), sorted.
    std::vector<std::string> take_returned(int64_t now_ms);
    // Servers ejected now, sorted.
    std::vector<std::string> ejected_servers(int64_t now_ms) const;
    // When server's ejection ends (Unix ms); in the past when it is not out.
    int64_t ejection_end_ms(ServerId server) const;
    // When the next ejected server returns; 0 when none is out.
    int64_t next_return_ms() const;
    // Ejections counted for the backoff (after forget_after, 0).
    int ejections(ServerId server, int64_t now_ms) const;
    // Servers of the group (its index in view().groups) ejected now.
    int ejected_in_group(std::size_t group, int64_t now_ms) const;
    // Slow start share factor, (0, 1].
    double ramp(ServerId server, int64_t now_ms) const;
    const Passive& passive() const { return passive_; }

    // The group's servers as the selection sees them now (aged, suspect,
    // in-flight). Empty when host is not a group.
    std::vector<lbkit::select::Candidate> candidates(const std::string& host, int64_t now_ms) const;
    // A server of any group as the selection sees it now (its first group's
    // figures), or nothing when no group has it: an upstream proxy may be a
    // watched server.
    std::optional<lbkit::select::Candidate> server_candidate(const std::string& server, int64_t now_ms) const;

    // Local choice (central is served by p2c here: it is the fallback when
    // lbstated cannot be asked). Suspect servers are avoided while another
    // server is eligible; servers in exclude never.
    Choice choose(lbkit::select::Policy policy, const std::string& host, const ServerIds& exclude,
                  int64_t now_ms, std::mt19937_64& rng) const;

    // GET /v1/state of the admin API: the state as the selection sees it.
    nlohmann::json to_json(int64_t now_ms) const;

private:
    static constexpr std::size_t no_group = std::size_t(-1);
    // Index of the group in view_, or no_group.
    std::size_t find(const std::string& host) const;
    std::vector<lbkit::select::Candidate> candidates(const lbkit::api::GroupView& g, int64_t now_ms) const;
    lbkit::select::Candidate candidate(std::size_t group, std::size_t index, bool aged, int64_t now_ms) const;
    // The ids of view's servers, parallel to its groups and servers.
    using Members = std::vector<std::vector<ServerId>>;
    Members intern_servers(const lbkit::api::StateView& view);
    void adopt(lbkit::api::StateView view, std::vector<std::vector<lbkit::HostPort>> targets, Members members,
               int64_t now_ms);
    std::vector<std::vector<double>> learn_shares(const lbkit::api::StateView& next, const Members& ids,
                                                  int64_t now_ms) const;
    void start_ramps(const lbkit::api::StateView& after, const Members& ids, int64_t now_ms);
    void ramp_from(ServerId server, int64_t from_ms);
    // The group (by name) that would pass max_percent with server out, or "".
    std::string ejection_limit(ServerId server, int64_t now_ms) const;

    struct Health {
        int failures = 0;           // consecutive
        int ejections = 0;          // for the backoff
        int64_t until_ms = 0;       // end of the last ejection
        bool out = false;           // ejected, return not yet taken
    };
    // What this proxy learned of one server, by its id.
    struct ServerFacts {
        int64_t suspect_until = 0;  // avoided before this time (a failed connect)
        Health health;              // passive ejection
        int64_t ramp_from = 0;      // slow start began (may be in the future); 0: no ramp
        int64_t inflight = 0;       // requests sent, not yet finished
        int64_t sent = 0;           // requests started since the held state was applied
    };
    // The facts of server; those of a server without any for an id the book never gave.
    const ServerFacts& facts(ServerId server) const;

    lbkit::Millis stale_after_;
    Passive passive_;
    bool live_ = false;             // the held state was received, not restored
    lbkit::api::StateView view_;
    std::vector<std::vector<lbkit::HostPort>> targets_;    // parallel to view_'s groups and servers
    std::vector<std::vector<ServerId>> members_;           // parallel too
    std::vector<std::vector<double>> shares_;              // adaptive's share factors, parallel too
    std::string source_;
    int64_t confirmed_ms_ = 0;
    std::unordered_map<std::string, std::size_t> groups_;  // lower-case name -> index
    std::unordered_map<std::string, std::pair<std::size_t, std::size_t>> servers_;  // name -> first (group, index)
    std::set<std::string> restarted_;                      // sources whose next state is taken
    std::map<std::string, uint64_t> announced_;            // source -> version its health answer named
    int64_t behind_since_ms_ = 0;                          // behind an announced version since (0: not)
    // Recomputes behind_since_ms_ after an announcement or a new state.
    void update_behind(int64_t now_ms);
    // The announcement the book is behind (the newest such), or announced_.end().
    std::map<std::string, uint64_t>::const_iterator behind_what() const;
    std::deque<std::string> names_;                        // by ServerId; a deque keeps references stable
    ByName<ServerId> ids_;
    std::vector<ServerFacts> facts_;                       // by ServerId
};

const char* to_string(StateBook::Outcome o);

// What changed between two states for a person reading the log: servers
// whose state, pin or drain changed, servers and groups added or removed
// ("web1:80 up->down, web3:80 new"); empty when only loads changed.
std::string describe_changes(const lbkit::api::StateView& before, const lbkit::api::StateView& after);

// The book's clock is Unix time: confirmation times are persisted.
using lbkit::unix_ms;

}  // namespace lbproxy
