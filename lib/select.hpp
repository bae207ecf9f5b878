// Server selection, shared by lbproxy and lbstated's central mode (the
// policies are described in lbproxy(8) and, with the reasons, in lbkit(7)).
// Pure functions over a candidate list: no sockets, no clocks, so the herd
// benchmark (tests/bench/herd.cpp) and the unit tests run the real code.
#pragma once
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "api.hpp"

namespace lbkit::select {

enum class Policy { least, p2c, weighted, central, adaptive };
Policy policy_from_string(const std::string& s);  // throws BadInput
const char* to_string(Policy p);

// One server as a selector sees it. Built for every choice, so its name is
// a view, not a copy: whoever builds candidates keeps the names they view
// alive and unchanged for as long as the candidates are used (lbproxy's
// state book keeps every name it ever held; lbstated's groups table stands
// for the length of a request).
struct Candidate {
    std::string_view name;
    double load = 0;
    double ratio = 1;
    api::State state = api::State::unknown;
    bool pinned = false;     // state and load come from a pin
    bool draining = false;   // no new selections
    bool suspect = false;    // a local connect failure, for a short while
    double inflight = 0;     // requests this selector has outstanding (sent, not yet answered)
    double sent_since_figure = 0;  // requests this selector sent since the load figure it holds
    double ramp = 1;         // slow start: share factor in (0, 1] after the server came back
    bool ejected = false;    // taken out by this selector's passive ejection; never chosen
    double share = 1;        // adaptive: the share factor this selector learned from the loads (adapt())
};

// The policy a selector uses when none is configured.
inline constexpr Policy default_policy = Policy::adaptive;

// Index of the chosen candidate, or -1 when none is eligible. Servers that
// are up are preferred; servers in state unknown are used only when no server
// of the group is up (a quiet server is not starved: lbsniff probes it and
// reports it up). Down, draining, suspect and ejected servers are never chosen.
int choose(Policy policy, std::span<const Candidate> servers, std::mt19937_64& rng);

// Learning step of adaptive, once per new load figure of a group: moves the
// share factor of each server that is up toward equal relative loads (a
// server loaded above the others' mean loses share, one below gains),
// multiplicatively and bounded per step, so selectors that all hold the same
// stale figures converge instead of swinging together.
void adapt(std::span<Candidate> servers);

// relative load used by least: load / (ratio x slow-start ramp).
double relative_load(const Candidate& c);

// "no server of group G is up (3 known: 2 down, 1 pinned down)".
std::string explain_none(const std::string& group, std::span<const Candidate> servers);

}  // namespace lbkit::select
