// What a finished exchange leaves behind: one row, handed to the tool's
// sink (lbproxy plugs in its history, lbproxy(8) History).
#pragma once
#include <cstdint>
#include <string>

namespace lbkit::http {

struct Exchange {
    int64_t time_ms = 0;        // when the request line arrived (Unix ms)
    std::string client;         // "127.0.0.1:53422"
    std::string method;
    std::string url;            // as the client sent it
    std::string group;          // representative name, empty if none
    std::string server;         // real server chosen, or the host relayed to
    std::string upstream_proxy; // "DIRECT", the proxy that carried it ("proxy-a:3128"), "-": none usable
    int status = 0;             // 0 when no response was sent
    int64_t bytes_in = 0;       // request bytes from the client
    int64_t bytes_out = 0;      // response bytes written to the client
    int64_t duration_ms = 0;
    bool delivered = false;     // the last response byte reached the client socket
    bool reached = false;       // a connection to server was open for this request
    std::string session;
    std::string error;          // empty on success
};

class ExchangeSink {
public:
    virtual ~ExchangeSink() = default;
    // Must not block: queues the row (lbproxy: for a batched write).
    virtual void record(Exchange e) = 0;
};

}  // namespace lbkit::http
