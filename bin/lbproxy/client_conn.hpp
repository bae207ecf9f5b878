// lbproxy's front, one client connection: reads request heads (step 1 of
// the request path: parse, with the --max-header and --header-timeout
// limits), checks their targets (absolute form, the CONNECT port rule, no
// loop to itself), hands each request to the engine's Relay or a CONNECT
// to its Tunnel (lib/http/relay.hpp, tunnel.hpp), answers requests in order
// (a pipelined request is read only when the one before is delivered, and
// from the event loop, so that the stack does not grow with the requests),
// keeps the connection alive between requests until --idle-timeout, and
// closes it gracefully after an error answer (lingering close, so the
// client reads the answer rather than a reset).
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "context.hpp"
#include "http/exchange.hpp"
#include "http/http_parse.hpp"
#include "http/relay.hpp"
#include "http/stream.hpp"
#include "http/tunnel.hpp"

namespace lbproxy {

class ClientRegistry;

class ClientConn final : public http::ExchangeOwner {
public:
    // Takes fd over. A client outside --allow gets 403 and nothing else.
    static void open(Context& ctx, ClientRegistry& registry, evutil_socket_t fd, const sockaddr* peer, bool allowed);
    // Proxy stopping: closes at once.
    void close_now();

    http::Stream& client() override { return *stream_; }
    const std::string& client_name() const override { return name_; }

private:
    enum class State { head, relay, tunnel, lingering };

    ClientConn(Context& ctx, ClientRegistry& registry, evutil_socket_t fd, const sockaddr* peer);
    ~ClientConn();

    static void read_cb(http::Stream&, void* arg);
    static void write_cb(http::Stream&, void* arg);
    static void event_cb(http::Stream&, short what, void* arg);
    static void timer_cb(evutil_socket_t, short, void* arg);
    static void pipelined_cb(evutil_socket_t, short, void* arg);

    void read_head();
    void dispatch(const http::Head& req);
    void refuse(int status, const std::string& sentence);
    void linger();
    void destroy();
    void next_request();
    void arm(const timeval& tv);
    // Input held before reading stops: a whole head must fit.
    std::size_t input_limit() const { return ctx_.config.max_header + 16 * 1024; }

    void exchange_over(http::Ending how) override;

    Context& ctx_;
    ClientRegistry& registry_;
    std::unique_ptr<http::Stream> stream_;
    lbkit::ev::EventPtr timer_;
    // Reads a pipelined request from the loop once the one before is over
    // (next_request), never from inside that exchange's calls.
    lbkit::ev::EventPtr pipelined_;
    std::string name_;
    State state_ = State::head;
    bool head_started_ = false;   // some bytes of the next head arrived
    bool eof_ = false;            // the client sent EOF
    bool shut_ = false;           // our write side is shut (lingering close)
    bool closing_ = false;        // destroy() runs: the exchange's end changes nothing
    bool next_waiting_ = false;   // pipelined_ is active: read_head() is due from the loop
    std::size_t scanned_ = 0;
    http::Parser parser_{HTTP_REQUEST};
    http::Head head_;
    // Made per exchange: an idle connection holds no Relay.
    std::unique_ptr<http::Relay> relay_;
    std::unique_ptr<http::Tunnel> tunnel_;
};

// The open client connections, so a stopping proxy can close them and the
// listener can wait for one to close at --max-connections; and the Relays
// of ended exchanges, freed once the loop is out of their code.
class ClientRegistry {
public:
    void add(ClientConn* c);
    void remove(ClientConn* c);
    void close_all();
    std::size_t size() const { return conns_.size(); }
    void on_remove(std::function<void()> fn) { on_remove_ = std::move(fn); }
    // A Relay ends its exchange from inside its own functions (and the
    // Dialer's): it is freed from the loop right after, not there.
    void retire(event_base* base, std::unique_ptr<http::Relay> relay);

private:
    static void reap_cb(evutil_socket_t, short, void* arg);

    std::unordered_set<ClientConn*> conns_;
    std::function<void()> on_remove_;
    std::vector<std::unique_ptr<http::Relay>> retired_;
    lbkit::ev::EventPtr reaper_;
};

}  // namespace lbproxy
