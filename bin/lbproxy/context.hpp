// What every connection of the data path shares: the loop, the checked
// options, the control plane's interfaces, the metrics, the server pool,
// how an exchange gets its route to a server, and the stages.
#pragma once
#include <event2/event.h>
#include <sys/time.h>

#include <cstdint>

#include "history.hpp"
#include "http/body_pump.hpp"
#include "http/upstream.hpp"
#include "proxy_config.hpp"
#include "proxy_metrics.hpp"
#include "route.hpp"
#include "chooser.hpp"
#include "stages.hpp"

namespace lbproxy {

// The relay engine's parts (parsing, streams, server connections, bodies).
namespace http = lbkit::http;

struct Context {
    event_base* base;
    const ProxyConfig& config;
    Chooser& chooser;
    HistorySink& history;
    ProxyMetrics& metrics;
    http::UpstreamPool& pool;
    RouteFactory make_route;  // Dialer::make, or a test's own
    Stages stages;
    timeval idle_tv, header_tv;

    // Unix time in ms, from the loop's cached clock (no system call).
    int64_t now_ms() const
    {
        timeval tv;
        event_base_gettimeofday_cached(base, &tv);
        return int64_t(tv.tv_sec) * 1000 + tv.tv_usec / 1000;
    }
};

}  // namespace lbproxy
