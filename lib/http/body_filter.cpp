#include "http/body_filter.hpp"

#include <event2/buffer.h>

namespace lbkit::http {

BodyPump::Result FilterPump::move(BodyPump& pump, evbuffer* from, evbuffer* to)
{
    BodyPump::Result r;
    if (finished_ || evbuffer_get_length(to) >= relay_buffer_limit)
        return r;
    std::size_t before = evbuffer_get_length(to);
    r = pump.move(from, payload_.get(), true);
    filter_->feed(payload_.get(), filtered_.get());
    frame(to);
    r.written = evbuffer_get_length(to) - before;
    if (r.done && !r.error)
        r.written += finish(to);
    return r;
}

std::size_t FilterPump::finish(evbuffer* to)
{
    if (finished_)
        return 0;
    finished_ = true;
    std::size_t before = evbuffer_get_length(to);
    filter_->finish(filtered_.get());
    frame(to);
    if (chunked_)
        evbuffer_add(to, "0\r\n\r\n", 5);
    return evbuffer_get_length(to) - before;
}

// What the filter gave so far goes out, as one chunk when chunked (an empty
// one would end the body).
void FilterPump::frame(evbuffer* to)
{
    std::size_t n = evbuffer_get_length(filtered_.get());
    if (n == 0)
        return;
    if (chunked_)
        evbuffer_add_printf(to, "%zx\r\n", n);
    evbuffer_add_buffer(to, filtered_.get());
    if (chunked_)
        evbuffer_add(to, "\r\n", 2);
}

}  // namespace lbkit::http
