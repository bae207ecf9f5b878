#include "exchange.hpp"

#include "route.hpp"

namespace lbproxy {

void ExchangeRecord::open(std::string_view method, std::string_view url, int64_t bytes_in)
{
    landed();
    open_ = true;
    method_.assign(method);
    url_.assign(url);
    reached_ = false;
    status_ = 0;
    start_ms_ = ctx_.now_ms();
    bytes_in_ = bytes_in;
    bytes_out_ = 0;
    error_.clear();
}

void ExchangeRecord::in_flight(const Route& route)
{
    landed();
    reached_ = true;
    if (!route.is_group())
        return;
    in_flight_to_ = route.server_id();
    ctx_.chooser.request_started(in_flight_to_);
}

void ExchangeRecord::landed()
{
    if (in_flight_to_ == no_server)
        return;
    ctx_.chooser.request_finished(in_flight_to_);
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
    e.upstream_proxy = route.upstream_proxy();
    e.status = status_;
    e.bytes_in = bytes_in_;
    e.bytes_out = bytes_out_;
    e.duration_ms = ctx_.now_ms() - start_ms_;
    e.delivered = delivered;
    e.reached = reached_;
    e.error = std::move(error_);
    ctx_.history.record(std::move(e));
}

}  // namespace lbproxy
