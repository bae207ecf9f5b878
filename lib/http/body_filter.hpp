// A body that changes on its way through the relay (charset conversion is
// one): a BodyFilter turns payload bytes into other bytes, perhaps of
// another length, perhaps holding some back until more come (a multibyte
// sequence split across reads). FilterPump drives one between the server's
// input and the client's output: it removes the server's framing (as
// BodyPump does), passes the payload through the filter and frames what
// comes out anew, since its length is not known in advance: chunked for an
// HTTP/1.1 client, as is for one that reads until the connection closes.
// An unfiltered body never comes here: BodyPump moves it.
#pragma once
#include <cstddef>
#include <memory>

#include "ev.hpp"
#include "http/body_pump.hpp"

namespace lbkit::http {

class BodyFilter {
public:
    virtual ~BodyFilter() = default;
    // Takes all that in holds and appends the filtered bytes to out; bytes
    // it cannot finish yet it keeps for the next call.
    virtual void feed(evbuffer* in, evbuffer* out) = 0;
    // The body ended: what it kept goes to out.
    virtual void finish(evbuffer* out) = 0;
};

class FilterPump {
public:
    // chunked: the output is sent with chunked framing; else as it comes
    // (the client reads until the connection closes).
    FilterPump(std::unique_ptr<BodyFilter> filter, bool chunked) : filter_(std::move(filter)), chunked_(chunked) {}

    // As pump.move(from, to, true), through the filter. At the end of the
    // body the filter's remainder and, when chunked, the last chunk follow.
    // Reads nothing while to holds relay_buffer_limit bytes; what one call
    // writes is bounded by the filter's growth of at most that many bytes.
    BodyPump::Result move(BodyPump& pump, evbuffer* from, evbuffer* to);
    // The body ended by the server closing (Framing::until_close): the end
    // as above. Returns the bytes added to to; once only.
    std::size_t finish(evbuffer* to);

private:
    void frame(evbuffer* to);

    std::unique_ptr<BodyFilter> filter_;
    bool chunked_;
    bool finished_ = false;
    ev::BufferPtr payload_{evbuffer_new()}, filtered_{evbuffer_new()};
};

}  // namespace lbkit::http
