// The command-line flags of a listener's limits (httpd::Limits), the same
// words on every daemon: --header-timeout, --idle-timeout, --max-connections,
// with a prefix for a daemon's second listener (lbproxy --admin-...).
#pragma once
#include <string>

#include <CLI/CLI.hpp>

#include "httpd.hpp"

namespace lbkit::httpd {

// prefix: "" or "admin-"; listener: what the help text calls it ("the API").
void add_limit_flags(CLI::App& app, Limits& limits, const std::string& prefix, const std::string& listener);
// Throws Error(EX_USAGE) naming the flag: every limit must be more than zero.
void check_limits(const Limits& limits);

}  // namespace lbkit::httpd
