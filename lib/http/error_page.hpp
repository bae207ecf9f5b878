// The answers a relay makes up itself: a status line and a short text body
// that a person understands ("no server of group host1.a.co.jp is up (3
// known: 2 down, 1 pinned down)"), never a bare code, signed by the tool
// that answers ("lbproxy: 503 Service Unavailable").
#pragma once
#include <string_view>

struct evbuffer;

namespace lbkit::http {

struct ErrorAnswer {
    int status;
    std::string_view sentence;
    bool close = true;      // Connection: close, and the connection is closed after it
    bool head_only = false; // the request was HEAD: headers without the body
};

// Appends the whole answer, signed by tool, to out.
void write_error(evbuffer* out, std::string_view tool, const ErrorAnswer& a);

}  // namespace lbkit::http
