// Moves a message body from one buffer to the next without copying it
// (evbuffer_remove_buffer hands over whole chains), as far as the framing
// allows and while the destination has room (relay_buffer_limit): the
// reader side stays suspended by its high watermark until the writer side
// drains, which bounds memory whatever the body size.
#pragma once
#include <cstddef>
#include <cstdint>

#include "http_parse.hpp"

struct evbuffer;
struct bufferevent;

namespace lbproxy {

// Bytes allowed to wait in a buffer before the relay stops reading the
// other side (backpressure): an output holds at most this much before its
// source is no longer read, and a server's input is not read beyond it, so
// memory per connection stays bounded whatever the body size.
inline constexpr std::size_t relay_buffer_limit = 256 * 1024;

struct BodyPump {
    http::Framing framing;
    uint64_t& remaining;   // Framing::length: bytes still to come
    http::Parser& parser;  // Framing::chunked: validates (and decodes) the chunks

    struct Result {
        std::size_t moved = 0;    // bytes taken from `from`
        std::size_t written = 0;  // bytes added to `to`
        bool done = false;        // the body ended (never for until_close: EOF ends it)
        const char* error = nullptr;
    };

    // decode: chunked framing removed (for an HTTP/1.0 client).
    Result move(evbuffer* from, evbuffer* to, bool decode);
};

// libevent reads and writes at most 16 KiB per call by default, so a 1 MiB
// body would take 64 trips through the loop on each side; up to
// relay_buffer_limit per call lets one wakeup move what the socket holds.
void widen_io(bufferevent* bev);

// libevent 2.1 reads at most 4 KiB per readable event (EVBUFFER_MAX_READ),
// whatever widen_io says: a body would cross the loop in 4 KiB steps, each
// with its own ioctl, readv and writev. Called from a read callback, this
// reads on until the socket is empty or bev's input holds limit bytes.
// EOF and errors are left for libevent to meet on its next read.
void read_ahead(bufferevent* bev, std::size_t limit);

// Speculative write: what stage holds goes to bev's socket at once when
// nothing waits in bev's output (the common case: no write event to arm and
// disarm, two epoll_ctl calls saved per message); what the socket does not
// take is queued in bev's output behind it. Errors are left for the
// bufferevent to meet on its own write.
void flush_staged(evbuffer* stage, bufferevent* bev);

}  // namespace lbproxy
