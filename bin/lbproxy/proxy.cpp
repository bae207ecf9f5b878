#include "proxy.hpp"

#include "clock.hpp"
#include "dialer.hpp"
#include "log.hpp"

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

Proxy::Proxy(lbkit::Loop& loop, lbkit::Metrics& metrics, const ProxyConfig& config, Chooser& chooser,
             HistorySink& history, http::UpstreamStage& upstream)
    : config_(config),
      metrics_(metrics),
      events_(metrics_, chooser),
      pool_(loop.base(), metrics_.upstream_connects, pool_options(config)),
      ctx_{{loop.base(), config.relay_limits(loop.base()), events_, history, pool_, {}, {session_, upstream, body_},
            "lbproxy"},
           config, chooser, metrics_},
      listener_(loop.base(), [this](evutil_socket_t fd, const sockaddr* peer) {
          ClientConn::open(ctx_, clients_, fd, peer, config_.allowed(peer));
          accepted();
      })
{
    ctx_.relay.make_route = Dialer::factory(ctx_);
    clients_.on_remove([this] {
        if (at_limit_ && clients_.size() < config_.max_connections) {
            at_limit_ = false;
            listener_.release();
        }
    });
}

// At --max-connections the listener is held until a client goes: the
// clients beyond wait in the kernel's queue, those in wait for nothing.
void Proxy::accepted()
{
    if (clients_.size() < config_.max_connections || at_limit_) return;
    at_limit_ = true;
    listener_.hold();
    metrics_.connection_limit_reached.inc();
    int64_t now = lbkit::monotonic_ms();
    if (now - limit_logged_ms_ >= 60'000) {  // once a minute at most: a full proxy is a state
        limit_logged_ms_ = now;
        lbkit::log::warn("--max-connections ", config_.max_connections, " reached: new clients wait until one closes");
    }
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
