#include "http/upstream.hpp"

#include <event2/dns.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <cstring>

#include "error.hpp"
#include "http/body_pump.hpp"
#include "log.hpp"

namespace lbkit::http {

timeval common_timeout(event_base* base, Millis d)
{
    timeval tv = to_timeval(d);
    const timeval* common = event_base_init_common_timeout(base, &tv);
    return common ? *common : tv;
}

// A name lookup outlives the connection that asked when the connection is
// closed first: then conn is cleared and the answer is dropped.
struct UpstreamConn::DnsWait {
    UpstreamConn* conn;
    evdns_getaddrinfo_request* request = nullptr;
};

namespace {

void set_nodelay(const Stream& s)
{
    int one = 1;
    if (s.fd() >= 0)
        setsockopt(s.fd(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

}  // namespace

UpstreamConn::~UpstreamConn()
{
    if (dns_) {
        dns_->conn = nullptr;  // dns_cb frees it
        if (dns_->request)
            evdns_getaddrinfo_cancel(dns_->request);
    }
}

void UpstreamConn::read_cb(Stream&, void* arg)
{
    auto* self = static_cast<UpstreamConn*>(arg);
    if (self->idle_)
        return self->pool_.forget_idle(self);  // a server does not speak first
    self->user_->upstream_readable(*self);
}

void UpstreamConn::write_cb(Stream&, void* arg)
{
    auto* self = static_cast<UpstreamConn*>(arg);
    if (self->user_)
        self->user_->upstream_drained(*self);
}

void UpstreamConn::event_cb(Stream& s, short what, void* arg)
{
    auto* self = static_cast<UpstreamConn*>(arg);
    if (self->connecting_) {
        if (what & BEV_EVENT_CONNECTED) {
            self->connecting_ = false;
            set_nodelay(s);
            self->pool_.set_active_timeouts(self);
            self->user_->upstream_connected(*self);
            return;
        }
        bool timeout = what & BEV_EVENT_TIMEOUT;
        int err = s.error();
        self->failure_ = timeout ? ConnectFailure::timeout
                         : err == ECONNREFUSED ? ConnectFailure::refused : ConnectFailure::other;
        self->last_error_ = timeout ? "no answer within " + lbkit::format_duration(self->pool_.options_.connect_timeout)
                                    : err ? lbkit::errno_text(err) : std::string("connection failed");
        self->connect_next();
        return;
    }
    if (self->idle_)
        return self->pool_.forget_idle(self);  // closed by the server, or idle too long
    self->user_->upstream_event(*self, what);
}

void UpstreamConn::connect_next()
{
    if (next_addr_ >= addrs_.size()) {
        connecting_ = false;
        user_->upstream_failed(*this, failure_, last_error_);
        return;
    }
    const auto& ss = addrs_[next_addr_++];
    auto len = ss.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
    stream_ = std::make_unique<Stream>(pool_.base_);
    if (!stream_->ok()) {
        fail_later(ConnectFailure::other, "cannot create a socket buffer");
        return;
    }
    stream_->set_callbacks(&read_cb, &write_cb, &event_cb, this);
    // Reading stops while this much waits unread: a fast server does not
    // fill memory faster than a slow client takes it.
    stream_->set_read_limit(relay_buffer_limit);
    stream_->set_timeouts(nullptr, &pool_.connect_tv_);
    connecting_ = true;
    pool_.connects_.inc();
    if (stream_->connect(reinterpret_cast<const sockaddr*>(&ss), socklen_t(len)) != 0) {
        // socket() itself failed (out of descriptors): say so from the loop.
        fail_later(ConnectFailure::other, lbkit::errno_text(errno));
        return;
    }
    stream_->enable(EV_READ | EV_WRITE);
}

void UpstreamConn::fail_later(ConnectFailure kind, std::string why)
{
    connecting_ = false;
    failure_ = kind;
    last_error_ = std::move(why);
    next_addr_ = addrs_.size();
    if (!deferred_)
        deferred_.reset(event_new(pool_.base_, -1, 0, &deferred_cb, this));
    event_active(deferred_.get(), EV_TIMEOUT, 1);
}

void UpstreamConn::deferred_cb(evutil_socket_t, short, void* arg)
{
    auto* self = static_cast<UpstreamConn*>(arg);
    self->user_->upstream_failed(*self, self->failure_, self->last_error_);
}

void UpstreamConn::dns_cb(int result, evutil_addrinfo* res, void* arg)
{
    auto* wait = static_cast<DnsWait*>(arg);
    UpstreamConn* self = wait->conn;
    delete wait;
    if (!self) {
        if (res)
            evutil_freeaddrinfo(res);
        return;
    }
    self->dns_ = nullptr;
    if (result != 0) {
        self->fail_later(ConnectFailure::resolve, std::string("cannot resolve: ") + evutil_gai_strerror(result));
        return;
    }
    for (auto* ai = res; ai; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
            continue;
        sockaddr_storage ss{};
        std::memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
        self->addrs_.push_back(ss);
    }
    evutil_freeaddrinfo(res);
    if (self->addrs_.empty()) {
        self->fail_later(ConnectFailure::resolve, "cannot resolve: no address");
        return;
    }
    self->connect_next();
}

UpstreamPool::UpstreamPool(event_base* base, Series& connects, const PoolOptions& options)
    : base_(base), connects_(connects), options_(options),
      connect_tv_(common_timeout(base, options.connect_timeout)),
      server_tv_(common_timeout(base, options.server_timeout)),
      idle_tv_(common_timeout(base, options.idle_timeout))
{
}

UpstreamPool::~UpstreamPool()
{
    clear();
}

void UpstreamPool::DnsDeleter::operator()(evdns_base* d) const
{
    evdns_base_free(d, 1);
}

evdns_base* UpstreamPool::dns()
{
    if (!dns_) {
        // Reads resolv.conf and /etc/hosts once, on the first name to resolve.
        dns_.reset(evdns_base_new(base_, EVDNS_BASE_INITIALIZE_NAMESERVERS | EVDNS_BASE_DISABLE_WHEN_INACTIVE));
        if (!dns_)
            dns_.reset(evdns_base_new(base_, 0));
        if (dns_)
            evdns_base_load_hosts(dns_.get(), nullptr);
    }
    return dns_.get();
}

UpstreamConn* UpstreamPool::take(const std::string& key, UpstreamUser* user)
{
    auto it = idle_.find(key);
    if (it == idle_.end() || it->second.empty())
        return nullptr;
    UpstreamConn* conn = it->second.back();
    it->second.pop_back();
    conn->idle_ = false;
    conn->reused_ = true;
    conn->user_ = user;
    set_active_timeouts(conn);
    return conn;
}

UpstreamConn* UpstreamPool::open(const std::string& key, const lbkit::HostPort& target, UpstreamUser* user)
{
    auto* conn = new UpstreamConn(*this, key);
    conn->user_ = user;
    // A numeric address needs no lookup; a name goes to evdns.
    sockaddr_storage ss{};
    int len = sizeof ss;
    std::string numeric = target.str();
    if (evutil_parse_sockaddr_port(numeric.c_str(), reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
        conn->addrs_.push_back(ss);
        conn->connect_next();
        return conn;
    }
    evdns_base* d = dns();
    if (!d) {
        conn->fail_later(ConnectFailure::resolve, "cannot resolve: no resolver");
        return conn;
    }
    evutil_addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    hints.ai_flags = EVUTIL_AI_ADDRCONFIG;
    auto* wait = new UpstreamConn::DnsWait{conn};
    conn->dns_ = wait;
    std::string port = std::to_string(target.port);
    // May answer at once (hosts file, failure): dns_cb then runs before this returns,
    // and reports only through fail_later or an asynchronous connect.
    auto* req = evdns_getaddrinfo(d, target.host.c_str(), port.c_str(), &hints, &UpstreamConn::dns_cb, wait);
    if (conn->dns_ == wait)
        wait->request = req;
    return conn;
}

void UpstreamPool::release(UpstreamConn* conn, bool reusable)
{
    if (!conn)
        return;
    auto& list = idle_[conn->key_];
    if (!reusable || !conn->stream_ || conn->connecting_ || list.size() >= options_.per_server
        || evbuffer_get_length(conn->in()) != 0 || evbuffer_get_length(conn->out()) != 0) {
        delete conn;
        return;
    }
    conn->idle_ = true;
    conn->user_ = nullptr;
    // Idle: any byte or EOF from the server ends it; so does the idle timeout.
    conn->stream_->set_timeouts(&idle_tv_, nullptr);
    conn->stream_->enable(EV_READ);
    list.push_back(conn);
}

void UpstreamPool::forget_idle(UpstreamConn* conn)
{
    auto& list = idle_[conn->key_];
    for (auto& c : list)
        if (c == conn) {
            c = list.back();
            list.pop_back();
            break;
        }
    delete conn;
}

void UpstreamPool::set_active_timeouts(UpstreamConn* conn) const
{
    conn->stream_->set_timeouts(&server_tv_, &server_tv_);
}

void UpstreamPool::clear()
{
    for (auto& [key, list] : idle_)
        for (auto* c : list)
            delete c;
    idle_.clear();
}

}  // namespace lbkit::http
