// The stages of an exchange, each a small interface with one
// implementation in this release (doc/architecture.md, Request path):
//   session   header lines that tie a request to its session: none;
//   upstream  how the servers of a destination are reached: straight
//             (DIRECT); the proxy map's upstream proxies are another
//             implementation of the same interface;
//   body      what a response body becomes on its way to the client: the
//             same bytes (no filter, the body moved without a copy);
//             charset conversion is another implementation, a filter that
//             changes the body and its length.
// The proxy sets them up once (Context::stages); the relay and the tunnel
// call each at its point of the request path and know nothing of what it
// does.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "addr.hpp"
#include "http/body_filter.hpp"
#include "http/http_parse.hpp"

namespace lbproxy {

class SessionStage {
public:
    virtual ~SessionStage() = default;
    // Appends the header lines ("Name: value\r\n") that go with a request
    // to server.
    virtual void add_headers(const std::string& server, std::string& lines) = 0;
};

// How to reach the servers of a destination: the name the history records
// as the upstream proxy, and where connections go.
struct UpstreamHop {
    std::string name;                   // "DIRECT", or the upstream proxy
    std::optional<lbkit::HostPort> via; // empty: straight to the server
};

class UpstreamStage {
public:
    virtual ~UpstreamStage() = default;
    // host and port as the client named them (a group or a host).
    virtual UpstreamHop hop(std::string_view host, uint16_t port) = 0;
};

class BodyStage {
public:
    virtual ~BodyStage() = default;
    // Asked once the head of server's response is known and a body
    // follows: a filter for that body, or nullptr to send it as it is. A
    // filtered body loses its Content-Length: the relay sends it chunked to
    // an HTTP/1.1 client and until the connection closes to HTTP/1.0.
    virtual std::unique_ptr<lbkit::http::BodyFilter> response_filter(const std::string& server,
                                                                     const lbkit::http::Head& resp) = 0;
};

// No sessions yet: no header is added.
class NoSession final : public SessionStage {
public:
    void add_headers(const std::string&, std::string&) override {}
};

// Every server is reached straight.
class DirectUpstream final : public UpstreamStage {
public:
    UpstreamHop hop(std::string_view, uint16_t) override { return {"DIRECT", std::nullopt}; }
};

// Every body goes out as the server sent it.
class IdentityBody final : public BodyStage {
public:
    std::unique_ptr<lbkit::http::BodyFilter> response_filter(const std::string&, const lbkit::http::Head&) override
    {
        return nullptr;
    }
};

struct Stages {
    SessionStage& session;
    UpstreamStage& upstream;
    BodyStage& body;
};

}  // namespace lbproxy
