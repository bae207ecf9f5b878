// The request target a client sends to a forward proxy: absolute-form
// ("http://host:port/path?q") for ordinary requests, authority-form
// ("host:port") for CONNECT. Parsed with libhttp-parser's URL parser
// (llhttp, which parses the messages, has none).
#pragma once
#include <cstdint>
#include <string_view>

namespace lbkit::http {

struct Target {
    std::string_view host;        // without brackets or userinfo
    uint16_t port = 80;
    std::string_view authority;   // "host[:port]" as written: the Host header to send
    std::string_view path_query;  // "/a/b?c" without the fragment; may be empty
};

// Absolute-form http:// URL. Returns nullptr, or why it cannot be relayed
// (a sentence for the 400 answer).
const char* parse_absolute(std::string_view target, Target& out);

// CONNECT's "host:port" (port required).
const char* parse_authority(std::string_view target, Target& out);

}  // namespace lbkit::http
