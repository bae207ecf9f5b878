#include "body_pump.hpp"

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include <sys/ioctl.h>
#include <sys/uio.h>

#include <algorithm>


namespace lbproxy {

namespace {

// Runs the parser over up to max bytes at the front of buf, in place.
std::size_t feed_chunked(evbuffer* buf, std::size_t max, http::Parser& parser, evbuffer* decoded)
{
    evbuffer_iovec vec[8];
    int n = evbuffer_peek(buf, ssize_t(max), nullptr, vec, 8);
    std::size_t total = 0;
    for (int i = 0; i < std::min(n, 8) && total < max; ++i) {
        std::size_t len = std::min(vec[i].iov_len, max - total);
        std::size_t used = parser.feed_body(static_cast<const char*>(vec[i].iov_base), len, decoded);
        total += used;
        if (parser.done() || parser.error() || used < len)
            break;
    }
    return total;
}

}  // namespace

BodyPump::Result BodyPump::move(evbuffer* from, evbuffer* to, bool decode)
{
    Result r;
    if (framing == http::Framing::none) {
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
        case http::Framing::length:
            n = std::size_t(std::min<uint64_t>(remaining, std::min(avail, room)));
            remaining -= n;
            r.done = remaining == 0;
            break;
        case http::Framing::chunked:
            if (decode) {
                n = feed_chunked(from, std::min(avail, room), parser, to);
                evbuffer_drain(from, n);
                r.moved += n;
                r.written += evbuffer_get_length(to) - queued;
                n = 0;
            } else {
                n = feed_chunked(from, std::min(avail, room), parser, nullptr);
            }
            if (parser.error()) {
                r.error = parser.error();
                return r;
            }
            r.done = parser.done();
            break;
        case http::Framing::until_close:
            n = std::min(avail, room);
            break;
        case http::Framing::none:
            break;
        }
        if (n) {
            evbuffer_remove_buffer(from, to, n);
            r.moved += n;
            r.written += n;
        }
        if (r.done)
            return r;
    }
}

void widen_io(bufferevent* bev)
{
    bufferevent_set_max_single_read(bev, relay_buffer_limit);
    bufferevent_set_max_single_write(bev, relay_buffer_limit);
}

namespace {

// One readv into want bytes of free space at the end of in; the bytes read.
ssize_t read_into(evbuffer* in, evutil_socket_t fd, std::size_t want)
{
    evbuffer_iovec vec[2];
    int n = evbuffer_reserve_space(in, ev_ssize_t(want), vec, 2);
    if (n <= 0)
        return -1;
    iovec iov[2];
    for (int i = 0; i < n; ++i) {
        iov[i].iov_base = vec[i].iov_base;
        iov[i].iov_len = std::min(vec[i].iov_len, want);
        want -= iov[i].iov_len;
    }
    ssize_t got = readv(fd, iov, n);
    std::size_t left = got > 0 ? std::size_t(got) : 0;
    for (int i = 0; i < n; ++i) {
        vec[i].iov_len = std::min(left, iov[i].iov_len);
        left -= vec[i].iov_len;
    }
    evbuffer_commit_space(in, vec, n);
    return got;
}

}  // namespace

void read_ahead(bufferevent* bev, std::size_t limit)
{
    evbuffer* in = bufferevent_get_input(bev);
    evutil_socket_t fd = bufferevent_getfd(bev);
    // Less than libevent's one read: the socket had no more.
    if (fd < 0 || evbuffer_get_length(in) < 4096)
        return;
    // A bufferevent keeps the end of its input frozen but for its own reads.
    evbuffer_unfreeze(in, 0);
    for (std::size_t len; (len = evbuffer_get_length(in)) < limit;) {
        // Only bytes already queued are read, so an EOF or a reset is never
        // consumed here: libevent meets it and reports it as usual.
        int queued = 0;
        if (ioctl(fd, FIONREAD, &queued) != 0 || queued <= 0)
            break;
        std::size_t want = std::min(limit - len, std::size_t(queued));
        if (read_into(in, fd, want) < ssize_t(want))
            break;
    }
    evbuffer_freeze(in, 0);
}

void flush_staged(evbuffer* stage, bufferevent* bev)
{
    if (evbuffer_get_length(stage) == 0)
        return;
    evbuffer* out = bufferevent_get_output(bev);
    if (evbuffer_get_length(out) == 0) {
        evutil_socket_t fd = bufferevent_getfd(bev);
        if (fd >= 0)
            evbuffer_write(stage, fd);
    }
    if (evbuffer_get_length(stage) != 0)
        evbuffer_add_buffer(out, stage);
}

}  // namespace lbproxy
