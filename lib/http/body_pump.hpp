// Moves a message body from one buffer to the next, as far as the framing
// allows and while the destination has room (relay_buffer_limit): the
// reader side stays paused at its read limit until the writer side drains,
// which bounds memory whatever the body size. Large bodies framed by length
// or by the end of the connection change hands as whole chains, without a
// copy; a small one is copied behind its head so that the message leaves in
// one piece. A chunked body is decoded and framed anew (one copy).
#pragma once
#include <cstddef>
#include <cstdint>

#include "http/http_parse.hpp"

struct evbuffer;

namespace lbkit::http {

// Bytes allowed to wait in a buffer before the relay stops reading the
// other side (backpressure): an output holds at most this much before its
// source is no longer read, and a server's input is not read beyond it, so
// memory per connection stays bounded whatever the body size.
inline constexpr std::size_t relay_buffer_limit = 256 * 1024;

struct BodyPump {
    Framing framing;
    uint64_t& remaining;   // Framing::length: bytes still to come
    Parser& parser;  // Framing::chunked: validates, decodes and re-frames the chunks

    struct Result {
        std::size_t moved = 0;    // bytes taken from `from`
        std::size_t written = 0;  // bytes added to `to`
        bool done = false;        // the body ended (never for until_close: EOF ends it)
        const char* error = nullptr;
    };

    // A chunked body goes out canonically framed, or with decode its
    // framing removed (for an HTTP/1.0 client).
    Result move(evbuffer* from, evbuffer* to, bool decode);
};

}  // namespace lbkit::http
