// Server selection (DESIGN.md, Selection), shared by lbproxy and lbstated's
// central mode. Pure functions over a candidate list: no sockets, no clocks,
// so the herd benchmark and the unit tests run the real code.
#pragma once
#include <random>
#include <span>
#include <string>
#include <vector>

#include "api.hpp"

namespace lbkit::select {

enum class Policy { least, p2c, weighted, central };
Policy policy_from_string(const std::string& s);  // throws BadInput
const char* to_string(Policy p);

struct Candidate {
    std::string name;
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
};

// The policy a selector uses when none is configured.
inline constexpr Policy default_policy = Policy::p2c;

// Index of the chosen candidate, or -1 when none is eligible. Servers that
// are up are preferred; servers in state unknown are used only when no server
// of the group is up. Down, draining and suspect servers are never chosen.
int choose(Policy policy, std::span<const Candidate> servers, std::mt19937_64& rng);

// relative load used by least: load / ratio.
double relative_load(const Candidate& c);

// "no server of group G is up (3 known: 2 down, 1 pinned down)".
std::string explain_none(const std::string& group, std::span<const Candidate> servers);

}  // namespace lbkit::select
