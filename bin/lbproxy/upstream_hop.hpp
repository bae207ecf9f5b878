// How a request reaches its server (lbproxy(8), Upstream proxies): straight
// (DIRECT) or through an upstream proxy of the proxy map. What the upstream
// stage (stages.hpp) answers and the dialer acts on.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "addr.hpp"
#include "chooser.hpp"

namespace lbproxy {

struct UpstreamHop {
    std::string name = "DIRECT";         // what history and metrics name: "DIRECT" or the proxy
    std::optional<lbkit::HostPort> via;  // the proxy's address; empty: straight to the server
    ServerId proxy = no_server;          // the proxy as the state book knows it; no_server for DIRECT
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

}  // namespace lbproxy
