// What every exchange of a client connection shares, relayed request or
// CONNECT tunnel: how it ends for the client connection (ExchangeOwner,
// Ending) and what it leaves behind (ExchangeRecord): its row
// (exchange_row.hpp) and its count among the requests in flight to a
// server of a group and to an upstream proxy, each built here and nowhere
// else. The client connection is the tool's front (lbproxy: ClientConn,
// bin/lbproxy/client_conn.hpp).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "http/relay_context.hpp"
#include "http/server_id.hpp"
#include "http/stream.hpp"

namespace lbkit::http {

// What the client connection does once an exchange is over.
enum class Ending {
    keep,    // the answer went out whole: the connection may carry the next request
    linger,  // flush what waits for the client, then close (lingering close)
    drop,    // close at once
};

class ExchangeOwner {
public:
    virtual Stream& client() = 0;
    virtual const std::string& client_name() const = 0;
    // The exchange is over and recorded. Always the last thing it does.
    virtual void exchange_over(Ending how) = 0;

protected:
    ~ExchangeOwner() = default;
};

class ExchangeRecord {
public:
    explicit ExchangeRecord(RelayContext& ctx) : ctx_(ctx) {}
    ~ExchangeRecord() { landed(); }
    ExchangeRecord(const ExchangeRecord&) = delete;
    ExchangeRecord& operator=(const ExchangeRecord&) = delete;

    // A new exchange: the clock starts; bytes_in counts its head.
    void open(std::string_view method, std::string_view url, int64_t bytes_in);
    bool is_open() const { return open_; }

    // The request went to route's server: the server was reached, and,
    // for a server of a group, the request is in flight until landed() or
    // close(); so is it for the upstream proxy it goes through.
    void in_flight(const Route& route);
    void landed();

    void answered(int status) { status_ = status; }
    void add_in(int64_t n) { bytes_in_ += n; }
    void add_out(int64_t n) { bytes_out_ += n; }
    // The first cause given is the one recorded.
    void error(const std::string& why)
    {
        if (error_.empty())
            error_ = why;
    }

    // Ends the exchange: no longer in flight, and its row goes to the sink
    // (once: later calls do nothing).
    void close(const Route& route, const std::string& client, bool delivered);

private:
    RelayContext& ctx_;
    bool open_ = false;
    std::string method_, url_;
    ServerId in_flight_to_ = no_server;  // the server counted in flight
    ServerId proxy_in_flight_ = no_server;  // the upstream proxy counted in flight
    bool reached_ = false;
    int status_ = 0;
    int64_t start_ms_ = 0, bytes_in_ = 0, bytes_out_ = 0;
    std::string error_;
};

}  // namespace lbkit::http
