// The data plane as main() sees it: the proxy port and everything behind it
// (client connections, relays, tunnels, the server pool). It uses the state
// side only through Chooser and HistorySink.
#pragma once
#include <memory>

#include "client_conn.hpp"
#include "context.hpp"
#include "listener.hpp"
#include "loop.hpp"

namespace lbproxy {

class Proxy {
public:
    Proxy(lbkit::Loop& loop, lbkit::Metrics& metrics, const ProxyConfig& config, Chooser& chooser,
          HistorySink& history);
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
    http::UpstreamPool pool_;
    NoSession session_;
    DirectUpstream upstream_;
    IdentityBody body_;
    Context ctx_;
    ClientRegistry clients_;
    Listener listener_;
    bool at_limit_ = false;
    int64_t limit_logged_ms_ = 0;

    void accepted();
};

}  // namespace lbproxy
