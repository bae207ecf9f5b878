// The heads a relay sends on: the request to the server (origin-form
// target, a Host line the caller picks, hop-by-hop headers removed, Via
// added) and the response to the client (same filtering, and the
// Connection header that says what the proxy will do with the client
// connection). Built into strings whose capacity is reused per connection.
// The Via header names the tool that relays ("Via: 1.1 lbproxy").
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "http/http_parse.hpp"
#include "http/request_target.hpp"

namespace lbkit::http {

// "GET /path?q HTTP/1.1\r\n" into line.
void build_request_line(const Head& req, const Target& t, std::string& line);
// A line of build_request_line in absolute form for an upstream proxy,
// with the authority of the server chosen:
// "GET /path?q HTTP/1.1\r\n" -> "GET http://web1:8080/path?q HTTP/1.1\r\n".
void build_proxy_request_line(std::string_view origin_line, std::string_view host, uint16_t port,
                              std::string& line);

// The headers sent on to the server, without Host (host_line adds it, so a
// retry on another server changes only that line), ending with Via and the
// blank line.
void build_request_rest(const Head& req, std::string_view tool, std::string& rest);

// "Host: web1:8080\r\n": the port is left out when it is 80.
void append_host_line(std::string& out, std::string_view host, uint16_t port);

struct ResponsePlan {
    bool close_client = false;   // "Connection: close": the proxy closes after this answer
    bool keep_alive_10 = false;  // an HTTP/1.0 client kept alive: say so explicitly
    bool dechunk = false;        // chunked body decoded for an HTTP/1.0 client
    bool new_length = false;     // a filter changes the body: its length is no longer known
    bool chunked = false;        // the body goes out chunked (to an HTTP/1.1 client)
};

// Status line and headers for the client.
void build_response_head(const Head& resp, const ResponsePlan& plan, std::string_view tool, std::string& out);

}  // namespace lbkit::http
