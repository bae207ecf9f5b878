// How a request reaches its server: straight (DIRECT) or through an
// upstream proxy (lbproxy's proxy map, lbproxy(8) Upstream proxies). What
// the upstream stage (stages.hpp) answers, the route acts on and the relay
// and the tunnel follow (absolute-form request line, chained CONNECT).
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "addr.hpp"
#include "http/server_id.hpp"

namespace lbkit::http {

struct UpstreamHop {
    std::string name = "DIRECT";         // what history and metrics name: "DIRECT" or the proxy
    std::optional<HostPort> via;         // the proxy's address; empty: straight to the server
    ServerId proxy = no_server;          // the proxy as the tool's chooser knows it; no_server for DIRECT
    std::string pattern;                 // the proxy map's rule that chose it ("" for no rule)
    std::string error;                   // no proxy usable: the 502 sentence
    bool ok() const { return error.empty(); }
};

// A proxy this request already tried, and how it failed ("refused",
// "timed out", ...); it is not tried again and the 502 sentence counts it.
struct TriedProxy {
    ServerId id = no_server;
    std::string why;
};
using TriedProxies = std::vector<TriedProxy>;

}  // namespace lbkit::http
