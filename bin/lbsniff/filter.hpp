// The BPF filter compiled from the watch list: both directions of every
// watched address and port, so the kernel hands over only the conversations
// the engine counts. --filter EXPR is and-ed to it.
#pragma once
#include <string>
#include <vector>

#include "engine.hpp"

namespace lbsniff {

// Candidate expressions, most precise first: BPF programs have a size limit,
// so for a very long watch list a coarser one (ports only, then all TCP) is
// used and the engine's own address match does the rest.
std::vector<std::string> filter_candidates(const std::vector<ServerSpec>& servers, const std::string& extra);

}  // namespace lbsniff
