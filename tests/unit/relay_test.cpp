// The relay engine on its own (lib/http only, no lbproxy): a front of the
// test's own hands one request to a Relay or a CONNECT to a Tunnel, a route
// that connects to one server standing for a group, and fakes for the
// events and the row sink. What a tool plugging into the engine relies on:
// the answer relayed and the row recorded once with the exchange's ending;
// the server counted in flight while it answers and how it answered; an
// answer the engine makes up itself signed by the tool; a tunnel's bytes
// both ways.
#define BOOST_TEST_MODULE relay
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <memory>
#include <string>
#include <vector>

#include "addr.hpp"
#include "ev.hpp"
#include "http/relay.hpp"
#include "http/tunnel.hpp"
#include "loopback.hpp"
#include "metrics.hpp"

namespace http = lbkit::http;

namespace {

constexpr char group[] = "web.test";
constexpr http::ServerId server_id = 3;

// One client connection: its first request goes to a Relay, or to a
// Tunnel for a CONNECT; nothing is read after that exchange.
struct Front final : http::ExchangeOwner {
    http::RelayContext& ctx;
    http::Stream stream;
    std::string name = "test-client";
    http::Parser parser{HTTP_REQUEST};
    http::Head head;
    std::size_t scanned = 0;
    std::unique_ptr<http::Relay> relay;
    std::unique_ptr<http::Tunnel> tunnel;
    std::vector<http::Ending> endings;

    Front(http::RelayContext& c, int fd) : ctx(c), stream(c.base, fd)
    {
        stream.set_callbacks(&read_cb, &write_cb, &event_cb, this);
        stream.enable(EV_READ | EV_WRITE);
    }
    ~Front()
    {
        if (relay) relay->close("test over", http::Ending::drop);
        if (tunnel) tunnel->close("test over", http::Ending::drop);
    }
    http::Stream& client() override { return stream; }
    const std::string& client_name() const override { return name; }
    void exchange_over(http::Ending how) override { endings.push_back(how); }
    bool in_exchange() const { return (relay || tunnel) && endings.empty(); }

    static void read_cb(http::Stream&, void* arg)
    {
        auto* self = static_cast<Front*>(arg);
        if (self->relay) return self->relay->client_readable();
        if (self->tunnel) return self->tunnel->client_readable();
        self->read_head();
    }
    static void write_cb(http::Stream&, void* arg)
    {
        auto* self = static_cast<Front*>(arg);
        if (!self->in_exchange()) return;
        if (self->relay) self->relay->client_drained();
        if (self->tunnel) self->tunnel->client_drained();
    }
    static void event_cb(http::Stream&, short what, void* arg)
    {
        auto* self = static_cast<Front*>(arg);
        if (!self->in_exchange()) return;
        if (self->relay) self->relay->client_event(what);
        if (self->tunnel) self->tunnel->client_event(what);
    }
    void read_head()
    {
        evbuffer* in = stream.in();
        std::size_t len = evbuffer_get_length(in);
        auto* p = reinterpret_cast<const char*>(evbuffer_pullup(in, ssize_t(len)));
        std::size_t end = len ? http::find_head_end(p, len, scanned) : 0;
        if (end == 0) return;
        BOOST_REQUIRE(parser.parse_head(p, end, head) == nullptr);
        http::Target t;
        if (head.method == HTTP_CONNECT) {
            BOOST_REQUIRE(http::parse_authority(head.target, t) == nullptr);
            tunnel = std::make_unique<http::Tunnel>(ctx, *this);
            return tunnel->begin(t, head.target, head.size);
        }
        BOOST_REQUIRE(http::parse_absolute(head.target, t) == nullptr);
        relay = std::make_unique<http::Relay>(ctx, *this, parser);
        relay->begin(head, t);
    }
};

// Connects straight to one server, which stands for the group the client
// named: the engine then counts the request in flight and how it answered.
struct OneServer final : http::Route, http::UpstreamUser {
    http::UpstreamPool& pool;
    http::RouteUser& user;
    std::string server_;
    lbkit::HostPort target_;
    http::UpstreamConn* connecting = nullptr;

    OneServer(http::UpstreamPool& p, http::RouteUser& u, const std::string& server)
        : pool(p), user(u), server_(server), target_(lbkit::parse_host_port(server, 80))
    {
    }
    ~OneServer() override { cancel(); }

    void start(std::string_view, uint16_t, bool) override { connecting = pool.open(server_, target_, this); }
    void redial_same() override { start({}, 0, false); }
    bool redial_other(const std::string&) override { return false; }
    std::string give_up(const std::string& why) override { return "server " + server_ + ": " + why; }
    void cancel() override
    {
        pool.release(connecting, false);
        connecting = nullptr;
    }
    void upstream_connected(http::UpstreamConn& conn) override
    {
        connecting = nullptr;
        user.dialed(&conn);
    }
    void upstream_failed(http::UpstreamConn& conn, http::ConnectFailure, const std::string& why) override
    {
        std::string sentence = "cannot connect to " + server_ + ": " + why;  // why lives in conn
        connecting = nullptr;
        pool.release(&conn, false);
        user.dial_failed(502, sentence);
    }
    bool is_group() const override { return true; }
    const std::string& group() const override
    {
        static const std::string name = ::group;
        return name;
    }
    const std::string& server() const override { return server_; }
    http::ServerId server_id() const override { return ::server_id; }
    const lbkit::HostPort& target() const override { return target_; }
    const http::UpstreamHop& hop() const override
    {
        static const http::UpstreamHop direct;
        return direct;
    }
};

struct Events final : http::RelayEvents {
    std::vector<int> refusals;
    int upstream_errors = 0, tunnels = 0, in_flight = 0, ok = 0, failed = 0;
    std::vector<http::ServerId> servers;  // every server an event named

    void refused(int status) override { refusals.push_back(status); }
    void upstream_error(http::UpstreamError) override { ++upstream_errors; }
    void tunnel_requested() override { ++tunnels; }
    void request_started(http::ServerId s) override { servers.push_back(s), ++in_flight; }
    void request_finished(http::ServerId s) override { servers.push_back(s), --in_flight; }
    void server_ok(http::ServerId s) override { servers.push_back(s), ++ok; }
    void server_failed(http::ServerId s) override { servers.push_back(s), ++failed; }
};

struct Rows final : http::ExchangeSink {
    std::vector<http::Exchange> rows;
    void record(http::Exchange e) override { rows.push_back(std::move(e)); }
};

struct Engine {
    lbkit::ev::BasePtr base{event_base_new()};
    lbkit::Metrics registry;
    http::UpstreamPool pool{base.get(), registry.counter("test_connects_total", "connects"), http::PoolOptions{}};
    Events events;
    Rows rows;
    http::NoSession session;
    http::DirectUpstream upstream;
    http::IdentityBody body;
    std::string server;  // where every route connects
    http::RelayContext ctx{base.get(), {}, events, rows, pool, {}, {session, upstream, body}, "relaytest"};
    int client = -1;
    std::unique_ptr<Front> front;
    std::string answer;

    Engine()
    {
        ctx.make_route = [this](http::RouteUser& u) { return std::make_unique<OneServer>(pool, u, server); };
        LoopbackPair pair = loopback_pair();
        client = pair.client;
        front = std::make_unique<Front>(ctx, pair.accepted);
    }
    ~Engine()
    {
        front.reset();
        pool.clear();
        close(client);
    }
    void send(const std::string& s) { BOOST_REQUIRE(write(client, s.data(), s.size()) == ssize_t(s.size())); }
    template <class F>
    bool run_until(F done)
    {
        return ::run_until(base.get(), done, [this] { read_waiting(client, answer); });
    }
    // The exchange is over: one row, nothing left in flight.
    const http::Exchange& only_row()
    {
        BOOST_REQUIRE(run_until([this] { return !front->endings.empty(); }));
        BOOST_TEST(front->endings.size() == 1u);
        BOOST_TEST(events.in_flight == 0);
        BOOST_REQUIRE(rows.rows.size() == 1u);
        return rows.rows.front();
    }
};

const std::string get = std::string("GET http://") + group + "/page HTTP/1.1\r\nHost: " + group + "\r\n\r\n";

}  // namespace

BOOST_AUTO_TEST_CASE(answer_relayed_reported_and_recorded)
{
    Engine e;
    Server s;
    e.server = s.name();
    e.send(get);
    BOOST_REQUIRE(e.run_until([&] { return s.has_request(); }));
    BOOST_TEST(s.got.find("GET /page HTTP/1.1\r\n") == 0u, s.got);
    BOOST_TEST(s.got.find("\r\nVia: 1.1 relaytest\r\n") != std::string::npos, s.got);  // the tool relays
    BOOST_TEST(e.events.in_flight == 1);  // until the answer is in
    s.send("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    const http::Exchange& row = e.only_row();
    BOOST_TEST((e.front->endings.front() == http::Ending::keep));
    BOOST_TEST(row.status == 200);
    BOOST_TEST(row.delivered);
    BOOST_TEST(row.reached);
    BOOST_TEST(row.group == group);
    BOOST_TEST(row.server == s.name());
    BOOST_TEST(row.client == "test-client");
    BOOST_TEST(row.url == "http://web.test/page");
    BOOST_TEST(row.upstream_proxy == "DIRECT");
    BOOST_TEST(row.error == "");
    BOOST_TEST(e.events.ok == 1);
    BOOST_TEST(e.events.failed == 0);
    for (http::ServerId id : e.events.servers)
        BOOST_TEST(id == server_id);
    BOOST_TEST(e.answer.substr(e.answer.size() - 2) == "ok");
    BOOST_TEST(e.answer.find("\r\nVia: 1.1 relaytest\r\n") != std::string::npos, e.answer);
}

BOOST_AUTO_TEST_CASE(server_error_counted_against_the_server)
{
    Engine e;
    Server s;
    e.server = s.name();
    e.send(get);
    BOOST_REQUIRE(e.run_until([&] { return s.has_request(); }));
    s.send("HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n");
    const http::Exchange& row = e.only_row();
    BOOST_TEST(row.status == 503);
    BOOST_TEST(e.events.failed == 1);
    BOOST_TEST(e.events.ok == 0);
}

BOOST_AUTO_TEST_CASE(own_answer_signed_by_the_tool)
{
    Engine e;
    e.server = dead_server();
    e.send(get);
    const http::Exchange& row = e.only_row();
    BOOST_TEST(row.status == 502);
    BOOST_TEST(!row.reached);
    BOOST_TEST(row.error.find("cannot connect to " + e.server) == 0u, row.error);
    BOOST_REQUIRE(e.run_until([&] { return e.answer.find("\nrelaytest: 502 Bad Gateway\n") != std::string::npos; }));
    BOOST_TEST(e.answer.find("HTTP/1.1 502 Bad Gateway\r\n") == 0u, e.answer);
}

BOOST_AUTO_TEST_CASE(tunnel_carries_bytes_both_ways)
{
    Engine e;
    Server s;
    e.server = s.name();
    e.send(std::string("CONNECT ") + group + ":443 HTTP/1.1\r\nHost: " + group + ":443\r\n\r\nhello");
    BOOST_REQUIRE(e.run_until([&] {
        s.read_some();
        return s.got == "hello";
    }));
    BOOST_TEST(e.events.tunnels == 1);
    BOOST_TEST(e.events.ok == 1);  // a tunnel's only answer is the connect
    s.send("world");
    const std::string established = "HTTP/1.1 200 Connection established\r\n\r\n";
    BOOST_REQUIRE(e.run_until([&] { return e.answer == established + "world"; }));
    s.hang_up();
    shutdown(e.client, SHUT_WR);
    const http::Exchange& row = e.only_row();
    BOOST_TEST(row.method == "CONNECT");
    BOOST_TEST(row.status == 200);
    BOOST_TEST(row.bytes_out == int64_t(established.size() + 5));
    BOOST_TEST(row.delivered);
}
