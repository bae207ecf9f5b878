// Connections to servers: opened (name resolved off the loop's critical
// path with evdns, non-blocking connect with a timeout, every address of the
// name tried in turn) and, when an exchange leaves them reusable, kept idle
// per server for the next request to that server (keep-alive pooling).
#pragma once
#include <sys/socket.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "addr.hpp"
#include "duration.hpp"
#include "ev.hpp"
#include "http/stream.hpp"
#include "metrics.hpp"

struct evdns_base;
struct evdns_getaddrinfo_request;

namespace lbkit::http {

class UpstreamConn;

// Why a connection could not be opened.
enum class ConnectFailure { resolve, refused, timeout, other };

// Whoever uses a connection gets its events. The connect outcome is always
// reported from the loop, never from inside UpstreamPool::open.
class UpstreamUser {
public:
    virtual void upstream_connected(UpstreamConn&) {}
    virtual void upstream_failed(UpstreamConn&, ConnectFailure, const std::string& /*why*/) {}
    virtual void upstream_readable(UpstreamConn&) {}
    virtual void upstream_drained(UpstreamConn&) {}
    virtual void upstream_event(UpstreamConn&, short /*BEV_EVENT_*, as Stream reports */) {}

protected:
    ~UpstreamUser() = default;
};

class UpstreamPool;

class UpstreamConn {
public:
    UpstreamConn(const UpstreamConn&) = delete;
    UpstreamConn& operator=(const UpstreamConn&) = delete;

    evbuffer* in() const { return stream_->in(); }
    evbuffer* out() const { return stream_->out(); }
    Stream& stream() const { return *stream_; }
    const std::string& key() const { return key_; }  // the server, as the pool knows it
    bool reused() const { return reused_; }           // it served an earlier exchange
    void set_user(UpstreamUser* u) { user_ = u; }

private:
    friend class UpstreamPool;
    UpstreamConn(UpstreamPool& pool, std::string key) : pool_(pool), key_(std::move(key)) {}
    ~UpstreamConn();

    static void read_cb(Stream&, void* arg);
    static void write_cb(Stream&, void* arg);
    static void event_cb(Stream&, short what, void* arg);
    static void dns_cb(int result, evutil_addrinfo* res, void* arg);
    static void deferred_cb(evutil_socket_t, short, void* arg);

    void connect_next();
    void fail_later(ConnectFailure kind, std::string why);

    UpstreamPool& pool_;
    std::string key_;
    std::unique_ptr<Stream> stream_;
    UpstreamUser* user_ = nullptr;
    bool reused_ = false;
    bool connecting_ = false;
    bool idle_ = false;
    // Name resolution in flight: the request is cancelled if the connection dies first.
    struct DnsWait;
    DnsWait* dns_ = nullptr;
    std::vector<sockaddr_storage> addrs_;
    std::size_t next_addr_ = 0;
    std::string last_error_;
    ConnectFailure failure_ = ConnectFailure::other;
    lbkit::ev::EventPtr deferred_;
};

struct PoolOptions {
    Millis connect_timeout{5000};
    Millis server_timeout{60000};  // no byte from a server for this long
    Millis idle_timeout{60000};    // an idle pooled connection is closed
    std::size_t per_server = 128;         // idle connections kept per server
};

class UpstreamPool {
public:
    // connects counts the connections opened (whoever links the pool names
    // the series).
    UpstreamPool(event_base* base, Series& connects, const PoolOptions& options);
    ~UpstreamPool();
    UpstreamPool(const UpstreamPool&) = delete;
    UpstreamPool& operator=(const UpstreamPool&) = delete;

    // An idle connection to key (most recently used first), or nullptr.
    UpstreamConn* take(const std::string& key, UpstreamUser* user);
    // Starts a new connection to target; its outcome reaches user.
    UpstreamConn* open(const std::string& key, const lbkit::HostPort& target, UpstreamUser* user);
    // The user is done with conn: kept idle for reuse if reusable, else closed.
    void release(UpstreamConn* conn, bool reusable);
    // Closes every idle connection (shutdown).
    void clear();


private:
    friend class UpstreamConn;
    evdns_base* dns();
    void forget_idle(UpstreamConn* conn);
    void set_active_timeouts(UpstreamConn* conn) const;

    event_base* base_;
    Series& connects_;
    PoolOptions options_;
    timeval connect_tv_, server_tv_, idle_tv_;
    std::unordered_map<std::string, std::vector<UpstreamConn*>> idle_;
    struct DnsDeleter { void operator()(evdns_base* d) const; };
    std::unique_ptr<evdns_base, DnsDeleter> dns_;
};

// The same, as one of base's common timeouts: the many timers of one
// duration sit in a queue instead of the timer heap, and restarting one
// (every read of a connection) costs no heap operation.
timeval common_timeout(event_base* base, Millis d);

}  // namespace lbkit::http
