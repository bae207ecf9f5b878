// The watch list: which servers to measure, under the name lbstated knows
// them by (the groups table's "host:port", or "host" meaning port 80), and at
// which addresses. Names are resolved at start and on SIGHUP.
#pragma once
#include <string>
#include <vector>

#include "addr.hpp"
#include "engine.hpp"

namespace lbsniff {

struct WatchEntry {
    std::string name;       // as written: the addr of reports and stdout lines
    lbkit::HostPort addr;   // what to capture
    std::string where;      // "--watch" or "FILE:LINE", for messages
};

// --watch values then the --watch-file rows ("server" or "server host:port").
// Throws Error(EX_USAGE) for a bad --watch, Error(EX_CONFIG) for a bad file
// row, Error(EX_NOINPUT) for an unreadable file.
std::vector<WatchEntry> load_watch_list(const std::vector<std::string>& flags, const std::string& file);

// Resolves every name; throws Error(EX_NOHOST) naming the first that fails,
// Error(EX_CONFIG) when two servers share an address.
std::vector<ServerSpec> resolve_watch_list(const std::vector<WatchEntry>& entries);

// "ip:port" text as lbkit::resolve returns it -> Endpoint; throws BadInput.
Endpoint parse_endpoint(const std::string& text);

}  // namespace lbsniff
