// The proxy map in force (lbkit.conf(5), Proxy map; lbproxy(8), Upstream
// proxies): its rules, where it came from, and which rule a host falls
// under. Pure: no sockets, no state; upstream_proxies.* turns a rule into
// proxies ordered by the state, proxy_map_source.* decides which table is
// in force (the --proxymap file or a push, the newest version).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "client_tables.hpp"

namespace lbproxy {

using lbkit::client_tables::ProxyEntry;
using lbkit::client_tables::ProxyRule;

struct ProxyMap {
    int64_t version = 0;          // 0: no map, every host is reached DIRECT
    std::string origin = "none";  // "file", "push" or "none"
    std::string source;           // the file, or the peer that pushed it
    std::vector<ProxyRule> rules;

    // The first rule whose pattern matches host (any case, no port), or
    // nullptr: DIRECT. "*.example.com" matches every name below
    // example.com, not example.com itself, as shExpMatch does in a PAC file.
    const ProxyRule* match(std::string_view host) const;
};

// Does pattern (lower case, as parsed) match host (lower case)?
bool pattern_matches(std::string_view pattern, std::string_view host);

}  // namespace lbproxy
