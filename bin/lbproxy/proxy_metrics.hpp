// The data path's series in the daemon's Prometheus registry. Hot paths keep
// references; per-server series are looked up once and cached.
#pragma once
#include <unordered_map>

#include "http/relay_events.hpp"
#include "metrics.hpp"

namespace lbproxy {

using lbkit::http::UpstreamError;

struct ProxyMetrics {
    explicit ProxyMetrics(lbkit::Metrics& m);

    lbkit::Series& requests;            // lbproxy_requests_total
    lbkit::Series& client_connections;  // lbproxy_client_connections (gauge)
    lbkit::Series& upstream_connects;   // lbproxy_upstream_connects_total
    lbkit::Series& tunnels;             // lbproxy_tunnels_total (CONNECTs taken over)
    lbkit::Series& connection_limit_reached;  // lbproxy_connection_limit_reached_total

    void upstream_error(UpstreamError kind);
    void refused(int status);   // lbproxy_refused_requests_total{status}
    // (Selections per server are counted by the control plane, which chooses:
    // lbproxy_selections_total{group,server}.)

private:
    lbkit::Metrics& registry_;
    lbkit::Series* errors_[4];
    std::unordered_map<int, lbkit::Series*> refused_;
};

}  // namespace lbproxy
