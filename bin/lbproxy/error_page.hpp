// The answers lbproxy makes up itself: a status line and a short text body
// that a person understands ("no server of group host1.a.co.jp is up (3
// known: 2 down, 1 pinned down)"), never a bare code.
#pragma once
#include <string_view>

struct evbuffer;

namespace lbproxy {

struct ErrorAnswer {
    int status;
    std::string_view sentence;
    bool close = true;      // Connection: close, and the proxy closes after it
    bool head_only = false; // the request was HEAD: headers without the body
};

// Appends the whole answer to out.
void write_error(evbuffer* out, const ErrorAnswer& a);

}  // namespace lbproxy
