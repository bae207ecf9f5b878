// What every connection of the data path shares: the relay engine's
// context (lib/http/relay_context.hpp: the loop, the limits, the server
// pool, the route, the stages, where exchanges report and leave their
// rows) and lbproxy's own parts the front and the dialer use: the checked
// options, the chooser and the metrics.
#pragma once
#include "chooser.hpp"
#include "http/relay_context.hpp"
#include "proxy_config.hpp"
#include "proxy_metrics.hpp"

namespace lbproxy {

// The relay engine's parts (parsing, streams, server connections, bodies,
// the exchange).
namespace http = lbkit::http;

struct Context {
    http::RelayContext relay;
    const ProxyConfig& config;
    Chooser& chooser;
    ProxyMetrics& metrics;
};

}  // namespace lbproxy
