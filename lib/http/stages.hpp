// The stages of an exchange, each a small interface with one
// implementation in this release (doc/architecture.md, Request path):
//   session   header lines that tie a request to its session: none;
//   upstream  how a server is reached: straight (DIRECT), or through an
//             upstream proxy (lbproxy plugs in its proxy map's,
//             bin/lbproxy/upstream_proxies.hpp);
//   body      what a response body becomes on its way to the client: the
//             same bytes (no filter, the body moved without a copy);
//             charset conversion is another implementation, a filter that
//             changes the body and its length.
// The tool sets them up once (RelayContext::stages); the relay and the
// tunnel call each at its point of the request path and know nothing of
// what it does.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "http/body_filter.hpp"
#include "http/http_parse.hpp"
#include "http/server_id.hpp"
#include "http/upstream_hop.hpp"

namespace lbkit::http {

class SessionStage {
public:
    virtual ~SessionStage() = default;
    // Appends the header lines ("Name: value\r\n") that go with a request
    // to server.
    virtual void add_headers(const std::string& server, std::string& lines) = 0;
};

class UpstreamStage {
public:
    virtual ~UpstreamStage() = default;
    // The hop to the server at host (the real server chosen, or the host
    // as the client named it), never through a proxy in tried; a hop with
    // an error (the 502 sentence) when no proxy of its rule is usable.
    virtual UpstreamHop hop(std::string_view host, const TriedProxies& tried) = 0;
    // The connect to hop's proxy failed (why: "refused", "timed out"...).
    virtual void connect_failed(const UpstreamHop& hop, const std::string& why) = 0;
    // hop carries an exchange, until it is finished with hop.proxy.
    virtual void started(const UpstreamHop& hop) = 0;
    virtual void finished(ServerId proxy) = 0;
    // The proxy failed the exchange after the connect ("refused": a
    // CONNECT refused; "reset": the connection lost before an answer).
    virtual void failed(const UpstreamHop& hop, const char* kind) = 0;
};

class BodyStage {
public:
    virtual ~BodyStage() = default;
    // Asked once the head of server's response is known and a body
    // follows: a filter for that body, or nullptr to send it as it is. A
    // filtered body loses its Content-Length: the relay sends it chunked to
    // an HTTP/1.1 client and until the connection closes to HTTP/1.0.
    virtual std::unique_ptr<BodyFilter> response_filter(const std::string& server, const Head& resp) = 0;
};

// No sessions yet: no header is added.
class NoSession final : public SessionStage {
public:
    void add_headers(const std::string&, std::string&) override {}
};

// Every server is reached straight.
class DirectUpstream final : public UpstreamStage {
public:
    UpstreamHop hop(std::string_view, const TriedProxies&) override { return {}; }
    void connect_failed(const UpstreamHop&, const std::string&) override {}
    void started(const UpstreamHop&) override {}
    void finished(ServerId) override {}
    void failed(const UpstreamHop&, const char*) override {}
};

// Every body goes out as the server sent it.
class IdentityBody final : public BodyStage {
public:
    std::unique_ptr<BodyFilter> response_filter(const std::string&, const Head&) override
    {
        return nullptr;
    }
};

struct Stages {
    SessionStage& session;
    UpstreamStage& upstream;
    BodyStage& body;
};

}  // namespace lbkit::http
