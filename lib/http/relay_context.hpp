// What every exchange of the engine shares, relayed request or CONNECT
// tunnel: the loop, the limits, the server pool, how an exchange gets its
// route to a server, the stages, and where it reports (events) and leaves
// its row (records). The tool that links the engine fills it once; lbproxy
// plugs in its dialer, its metrics and chooser, and its history
// (bin/lbproxy/context.hpp).
#pragma once
#include <event2/event.h>

#include <functional>
#include <memory>
#include <string_view>

#include "http/exchange_row.hpp"
#include "http/relay_events.hpp"
#include "http/relay_limits.hpp"
#include "http/route.hpp"
#include "http/stages.hpp"
#include "http/upstream.hpp"

namespace lbkit::http {

// Makes the route of one exchange; user hears its outcome.
using RouteFactory = std::function<std::unique_ptr<Route>(RouteUser& user)>;

struct RelayContext {
    event_base* base;
    RelayLimits limits;
    RelayEvents& events;
    ExchangeSink& records;
    UpstreamPool& pool;
    RouteFactory make_route;  // the tool's route, or a test's own
    Stages stages;
    // Who relays: named in the Via header of every head sent on
    // (head_rewrite.hpp) and signing the answers the engine makes up itself
    // ("lbproxy: 502 Bad Gateway"; error_page.hpp).
    std::string_view tool;
};

}  // namespace lbkit::http
