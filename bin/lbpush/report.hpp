// What lbpush prints: one line per client on stdout (client, status,
// version, ms, reason: aligned on a terminal, tab-separated otherwise, one
// JSON object per line with -o json) and a summary on stderr.
#pragma once
#include <vector>

#include "fanout.hpp"
#include "output.hpp"

namespace lbpush {

// Prints the outcomes (with quiet, only those that are not ok, and nothing
// when all are) and the summary; returns the exit status: 0 when every
// client has the table (or, in a dry run, would take it), else 1.
int report(const std::vector<Outcome>& outcomes, const Plan& plan, lbkit::output::Format format, bool quiet);

}  // namespace lbpush
