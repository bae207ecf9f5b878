#include "proxy_metrics.hpp"

namespace lbproxy {

namespace {

const char* const errors_help = "Failed exchanges with servers, by kind (connect, timeout, reset, bad_response)";

}  // namespace

ProxyMetrics::ProxyMetrics(lbkit::Metrics& m)
    : requests(m.counter("lbproxy_requests_total", "Requests received from clients (CONNECT included)")),
      client_connections(m.gauge("lbproxy_client_connections", "Open client connections")),
      upstream_connects(m.counter("lbproxy_upstream_connects_total", "New connections opened to servers")),
      tunnels(m.counter("lbproxy_tunnels_total", "CONNECT tunnels opened")),
      connection_limit_reached(m.counter("lbproxy_connection_limit_reached_total",
                                         "Times --max-connections held new clients in the kernel's queue")),
      registry_(m)
{
    const char* kinds[] = {"connect", "timeout", "reset", "bad_response"};
    for (int i = 0; i < 4; ++i)
        errors_[i] = &m.counter("lbproxy_upstream_errors_total", errors_help, {{"kind", kinds[i]}});
}

void ProxyMetrics::upstream_error(UpstreamError kind)
{
    errors_[static_cast<int>(kind)]->inc();
}

void ProxyMetrics::refused(int status)
{
    auto it = refused_.find(status);
    if (it == refused_.end())
        it = refused_.emplace(status, &registry_.counter("lbproxy_refused_requests_total",
                                                         "Requests answered by lbproxy itself with an error, by status",
                                                         {{"status", std::to_string(status)}})).first;
    it->second->inc();
}

}  // namespace lbproxy
