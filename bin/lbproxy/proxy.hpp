// The data plane as main() sees it: the proxy port and everything behind it
// (client connections, the relay engine's relays and tunnels, the server
// pool). It uses the control plane only through Chooser, HistorySink and
// the upstream stage.
#pragma once
#include <memory>

#include "client_conn.hpp"
#include "context.hpp"
#include "history.hpp"
#include "listener.hpp"
#include "loop.hpp"
#include "proxy_events.hpp"

namespace lbproxy {

class Proxy {
public:
    // upstream: how servers are reached (the proxy map's stage).
    Proxy(lbkit::Loop& loop, lbkit::Metrics& metrics, const ProxyConfig& config, Chooser& chooser,
          HistorySink& history, http::UpstreamStage& upstream);
    ~Proxy();
    Proxy(const Proxy&) = delete;
    Proxy& operator=(const Proxy&) = delete;

    // Binds --listen; throws lbkit::Error.
    void start();
    // Stops accepting, closes client connections and idle server connections.
    void stop();

private:
    const ProxyConfig& config_;
    ProxyMetrics metrics_;
    ProxyEvents events_;
    http::UpstreamPool pool_;
    http::NoSession session_;
    http::IdentityBody body_;
    Context ctx_;
    ClientRegistry clients_;
    Listener listener_;
    bool at_limit_ = false;
    int64_t limit_logged_ms_ = 0;

    void accepted();
};

}  // namespace lbproxy
