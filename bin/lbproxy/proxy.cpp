#include "proxy.hpp"

namespace lbproxy {

namespace {

http::PoolOptions pool_options(const ProxyConfig& c)
{
    http::PoolOptions o;
    o.connect_timeout = c.connect_timeout;
    o.server_timeout = c.server_timeout;
    o.idle_timeout = c.idle_timeout;
    o.per_server = c.pool_size;
    return o;
}

}  // namespace

Proxy::Proxy(lbkit::Loop& loop, lbkit::Metrics& metrics, const ProxyConfig& config, SelectionState& selection,
             HistorySink& history)
    : config_(config),
      metrics_(metrics),
      pool_(loop.base(), metrics_.upstream_connects, pool_options(config)),
      ctx_{loop.base(), config, selection, history, metrics_, pool_, {session_, upstream_},
           http::common_timeout(loop.base(), config.idle_timeout),
           http::common_timeout(loop.base(), config.header_timeout)},
      listener_(loop.base(), [this](evutil_socket_t fd, const sockaddr* peer) {
          ClientConn::open(ctx_, clients_, fd, peer, config_.allowed(peer));
      })
{
    http::set_max_header(config.max_header);
}

Proxy::~Proxy()
{
    stop();
}

void Proxy::start()
{
    listener_.bind(config_.listen);
}

void Proxy::stop()
{
    listener_.close();
    clients_.close_all();
    pool_.clear();
}

}  // namespace lbproxy
