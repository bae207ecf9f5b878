// A server as the request path holds it: an index given out by the tool
// that chooses servers (lbproxy: the place of its name in the state book's
// table, kept for the process's life, so an id held across a state change
// still means the same server). Names are for the edges: API, history,
// logs.
#pragma once
#include <cstdint>
#include <vector>

namespace lbkit::http {

using ServerId = uint32_t;
constexpr ServerId no_server = ~ServerId{0};
// The servers already tried for one request: a handful at most.
using ServerIds = std::vector<ServerId>;

}  // namespace lbkit::http
