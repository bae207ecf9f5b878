// The proxy port: accepts clients, checks them against --allow (others get
// a 403 and nothing else), and pauses accepting for a second when the
// process runs out of descriptors instead of spinning on accept(). At
// --max-connections the Proxy holds it: new clients wait in the kernel's
// queue, as with HAProxy's maxconn, until one closes.
#pragma once
#include <functional>

#include "addr.hpp"
#include "ev.hpp"

namespace lbproxy {

class Listener {
public:
    using Accept = std::function<void(evutil_socket_t fd, const sockaddr* peer)>;
    Listener(event_base* base, Accept accept);
    // Throws lbkit::Error(EX_UNAVAILABLE) when the address cannot be bound.
    void bind(const lbkit::HostPort& addr);
    void close();
    void hold();
    void release();

private:
    static void accept_cb(evconnlistener*, evutil_socket_t fd, sockaddr* peer, int len, void* arg);
    static void error_cb(evconnlistener*, void* arg);
    static void resume_cb(evutil_socket_t, short, void* arg);

    event_base* base_;
    Accept accept_;
    lbkit::ev::ListenerPtr listener_;
    lbkit::ev::EventPtr resume_;
    bool held_ = false;
};

}  // namespace lbproxy
