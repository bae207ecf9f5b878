// RAII owners for libevent handles: every handle a tool creates is owned by
// one of these, so early returns and exceptions never leak a socket or event.
#pragma once
#include <memory>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

namespace lbkit::ev {

template <typename T, void (*Free)(T*)>
struct Deleter {
    void operator()(T* p) const noexcept { if (p) Free(p); }
};

using BasePtr = std::unique_ptr<event_base, Deleter<event_base, event_base_free>>;
using EventPtr = std::unique_ptr<event, Deleter<event, event_free>>;
using BufferPtr = std::unique_ptr<evbuffer, Deleter<evbuffer, evbuffer_free>>;
using BufferEventPtr = std::unique_ptr<bufferevent, Deleter<bufferevent, bufferevent_free>>;
using ListenerPtr = std::unique_ptr<evconnlistener, Deleter<evconnlistener, evconnlistener_free>>;
using HttpPtr = std::unique_ptr<evhttp, Deleter<evhttp, evhttp_free>>;

}  // namespace lbkit::ev
