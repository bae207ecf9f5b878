#include "http/body_pump.hpp"

#include <event2/buffer.h>

#include <algorithm>

namespace lbkit::http {

namespace {

// Runs the parser over up to max bytes at the front of buf, in place; what
// the chunks carry goes to out as mode says.
std::size_t feed_chunked(evbuffer* buf, std::size_t max, Parser& parser, evbuffer* out, ChunkOutput mode)
{
    evbuffer_iovec vec[8];
    int n = evbuffer_peek(buf, ssize_t(max), nullptr, vec, 8);
    std::size_t total = 0;
    for (int i = 0; i < std::min(n, 8) && total < max; ++i) {
        std::size_t len = std::min(vec[i].iov_len, max - total);
        std::size_t used = parser.feed_body(static_cast<const char*>(vec[i].iov_base), len, out, mode);
        total += used;
        if (parser.done() || parser.error() || used < len)
            break;
    }
    return total;
}

// Below this a body is copied behind the head that precedes it rather than
// moved as a chain of its own: the message then leaves in one piece, with
// one send() (see Stream).
constexpr std::size_t copy_below = 2048;

void hand_over(evbuffer* from, evbuffer* to, std::size_t n)
{
    if (n >= copy_below) {
        evbuffer_remove_buffer(from, to, n);  // whole chains change hands, no copy
        return;
    }
    evbuffer_add(to, evbuffer_pullup(from, ev_ssize_t(n)), n);
    evbuffer_drain(from, n);
}

}  // namespace

BodyPump::Result BodyPump::move(evbuffer* from, evbuffer* to, bool decode)
{
    Result r;
    if (framing == Framing::none) {
        r.done = true;
        return r;
    }
    for (;;) {
        std::size_t queued = evbuffer_get_length(to);
        std::size_t avail = evbuffer_get_length(from);
        if (queued >= relay_buffer_limit || avail == 0)
            return r;
        std::size_t room = relay_buffer_limit - queued;
        std::size_t n = 0;
        switch (framing) {
        case Framing::length:
            n = std::size_t(std::min<uint64_t>(remaining, std::min(avail, room)));
            remaining -= n;
            r.done = remaining == 0;
            break;
        case Framing::chunked:
            // Never passed on as it came: decoded, then framed canonically
            // (or not at all, for decode), so the next hop reads exactly
            // the chunks the parser read.
            n = feed_chunked(from, std::min(avail, room), parser, to,
                             decode ? ChunkOutput::payload : ChunkOutput::canonical);
            evbuffer_drain(from, n);
            r.moved += n;
            r.written += evbuffer_get_length(to) - queued;
            n = 0;
            if (parser.error()) {
                r.error = parser.error();
                return r;
            }
            r.done = parser.done();
            break;
        case Framing::until_close:
            n = std::min(avail, room);
            break;
        case Framing::none:
            break;
        }
        if (n) {
            hand_over(from, to, n);
            r.moved += n;
            r.written += n;
        }
        if (r.done)
            return r;
    }
}

}  // namespace lbkit::http
