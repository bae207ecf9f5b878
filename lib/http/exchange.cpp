#include "http/exchange.hpp"

#include "http/route.hpp"
#include "loop.hpp"

namespace lbkit::http {

void ExchangeRecord::open(std::string_view method, std::string_view url, int64_t bytes_in)
{
    landed();
    open_ = true;
    method_.assign(method);
    url_.assign(url);
    reached_ = false;
    status_ = 0;
    start_ms_ = cached_unix_ms(ctx_.base);
    bytes_in_ = bytes_in;
    bytes_out_ = 0;
    error_.clear();
}

void ExchangeRecord::in_flight(const Route& route)
{
    landed();
    reached_ = true;
    ctx_.stages.upstream.started(route.hop());
    proxy_in_flight_ = route.hop().proxy;
    if (!route.is_group())
        return;
    in_flight_to_ = route.server_id();
    ctx_.events.request_started(in_flight_to_);
}

void ExchangeRecord::landed()
{
    if (proxy_in_flight_ != no_server) {
        ctx_.stages.upstream.finished(proxy_in_flight_);
        proxy_in_flight_ = no_server;
    }
    if (in_flight_to_ == no_server)
        return;
    ctx_.events.request_finished(in_flight_to_);
    in_flight_to_ = no_server;
}

void ExchangeRecord::close(const Route& route, const std::string& client, bool delivered)
{
    landed();
    if (!open_)
        return;
    open_ = false;
    Exchange e;
    e.time_ms = start_ms_;
    e.client = client;
    e.method = method_;
    e.url = url_;
    e.group = route.group();
    e.server = route.server();
    // A hop with an error had no proxy to carry the exchange: not DIRECT either.
    e.upstream_proxy = route.hop().ok() ? route.hop().name : "-";
    e.status = status_;
    e.bytes_in = bytes_in_;
    e.bytes_out = bytes_out_;
    e.duration_ms = cached_unix_ms(ctx_.base) - start_ms_;
    e.delivered = delivered;
    e.reached = reached_;
    e.error = std::move(error_);
    ctx_.records.record(std::move(e));
}

}  // namespace lbkit::http
