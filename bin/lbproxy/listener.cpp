#include "listener.hpp"

#include <cerrno>
#include <cstring>

#include "error.hpp"
#include "log.hpp"

namespace lbproxy {

Listener::Listener(event_base* base, Accept accept)
    : base_(base), accept_(std::move(accept)), resume_(evtimer_new(base, &resume_cb, this))
{
}

void Listener::bind(const lbkit::HostPort& addr)
{
    sockaddr_storage ss{};
    int len = sizeof ss;
    std::string text = addr.str();
    if (evutil_parse_sockaddr_port(text.c_str(), reinterpret_cast<sockaddr*>(&ss), &len) != 0)
        throw lbkit::Error(EX_USAGE, "--listen " + text + ": not a numeric address and port");
    listener_.reset(evconnlistener_new_bind(base_, &accept_cb, this,
                                            LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
                                            1024, reinterpret_cast<sockaddr*>(&ss), len));
    if (!listener_)
        throw lbkit::Error(EX_UNAVAILABLE, "listen on " + text + ": " + lbkit::errno_text(errno));
    evconnlistener_set_error_cb(listener_.get(), &error_cb);
    lbkit::log::info("proxy listening on ", text);
}

void Listener::close()
{
    listener_.reset();
    event_del(resume_.get());
}

void Listener::hold()
{
    held_ = true;
    if (listener_) evconnlistener_disable(listener_.get());
}

void Listener::release()
{
    held_ = false;
    if (listener_ && !evtimer_pending(resume_.get(), nullptr)) evconnlistener_enable(listener_.get());
}

void Listener::accept_cb(evconnlistener*, evutil_socket_t fd, sockaddr* peer, int, void* arg)
{
    static_cast<Listener*>(arg)->accept_(fd, peer);
}

// Out of descriptors (or memory): overload is a state, not a spin. Accepting
// pauses for a second; connections already open go on.
void Listener::error_cb(evconnlistener* l, void* arg)
{
    auto* self = static_cast<Listener*>(arg);
    int err = EVUTIL_SOCKET_ERROR();
    if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
        lbkit::log::warn("accept: ", lbkit::errno_text(err), ": pausing new connections for 1s");
        evconnlistener_disable(l);
        timeval tv{1, 0};
        evtimer_add(self->resume_.get(), &tv);
        return;
    }
    lbkit::log::warn("accept: ", lbkit::errno_text(err));
}

void Listener::resume_cb(evutil_socket_t, short, void* arg)
{
    auto* self = static_cast<Listener*>(arg);
    if (self->listener_ && !self->held_)
        evconnlistener_enable(self->listener_.get());
}

}  // namespace lbproxy
