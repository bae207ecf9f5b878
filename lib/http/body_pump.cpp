#include "http/body_pump.hpp"

#include <event2/buffer.h>

#include <algorithm>

namespace lbkit::http {

namespace {

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

// Runs the parser over up to max bytes at the front of from, a chain at a
// time, and moves what it read to to as mode says: a canonically framed
// input as it is (whole chains, without a copy, as for a length), else
// what the parser wrote of it.
std::size_t relay_chunked(evbuffer* from, std::size_t max, Parser& parser, evbuffer* to, ChunkOutput mode)
{
    std::size_t total = 0;
    while (total < max && !parser.done() && !parser.error()) {
        evbuffer_iovec vec;
        if (evbuffer_peek(from, -1, nullptr, &vec, 1) < 1 || vec.iov_len == 0)
            break;
        std::size_t len = std::min(vec.iov_len, max - total);
        std::size_t used = parser.feed_body(static_cast<const char*>(vec.iov_base), len, mode);
        if (parser.output_is_input()) {
            hand_over(from, to, used);
        } else {
            parser.write_output(to);
            evbuffer_drain(from, used);
        }
        total += used;
        if (used < len)
            break;
    }
    return total;
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
            // Passed on only as the parser read it: framed canonically (or
            // not at all, for decode), so the next hop reads exactly the
            // chunks the parser read; an input already framed so moves as
            // it is.
            r.moved += relay_chunked(from, std::min(avail, room), parser, to,
                                     decode ? ChunkOutput::payload : ChunkOutput::canonical);
            r.written += evbuffer_get_length(to) - queued;
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
