// Outgoing HTTP for daemons: libcurl's multi-socket API driven by the same
// libevent loop, so a push to 1,000 subscribers never blocks the daemon.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "loop.hpp"

namespace lbkit::httpc {

struct Request {
    std::string method = "GET";
    std::string url;
    std::string body;
    std::string content_type = "application/json";
    std::string bearer;  // token for "Authorization: Bearer"
    std::vector<std::string> headers;
    Millis timeout{5000};
    Millis connect_timeout{2000};
    // false: close the connection after the answer. A sender that talks to
    // each of a thousand peers once would otherwise hold a thousand idle
    // sockets in curl's cache.
    bool reuse = true;
};

struct Result {
    long status = 0;       // 0 when no response came
    std::string body;
    std::string error;     // curl's sentence when the transfer failed
    double seconds = 0;
    bool ok() const { return error.empty() && status >= 200 && status < 300; }
    // "connection refused", "503 {...}" — for log lines.
    std::string describe() const;
};

using Callback = std::function<void(const Result&)>;

class Client {
public:
    explicit Client(Loop& loop);
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    // The callback runs on the loop, never from inside start().
    uint64_t start(Request req, Callback cb);
    void cancel(uint64_t id);

    struct Impl;
private:
    std::unique_ptr<Impl> impl_;
};

// Blocking request for command-line tools (lbctl): same Request and Result.
Result fetch(const Request& req);

}  // namespace lbkit::httpc
