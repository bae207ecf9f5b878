// Where lbproxy hears what its relays and tunnels report
// (lib/http/relay_events.hpp): counts go to its metrics, requests in
// flight and how each server answered go to its chooser (p2c's estimate,
// passive ejection).
#pragma once
#include "chooser.hpp"
#include "http/relay_events.hpp"
#include "proxy_metrics.hpp"

namespace lbproxy {

class ProxyEvents final : public lbkit::http::RelayEvents {
public:
    ProxyEvents(ProxyMetrics& metrics, Chooser& chooser) : metrics_(metrics), chooser_(chooser) {}

    void refused(int status) override { metrics_.refused(status); }
    void upstream_error(UpstreamError kind) override { metrics_.upstream_error(kind); }
    void tunnel_requested() override { metrics_.tunnels.inc(); }
    void request_started(ServerId server) override { chooser_.request_started(server); }
    void request_finished(ServerId server) override { chooser_.request_finished(server); }
    void server_ok(ServerId server) override { chooser_.server_ok(server); }
    void server_failed(ServerId server) override { chooser_.server_failed(server); }

private:
    ProxyMetrics& metrics_;
    Chooser& chooser_;
};

}  // namespace lbproxy
