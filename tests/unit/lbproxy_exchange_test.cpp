// The life of an exchange, from the request head to its history row, on
// real loopback sockets with a chooser the test answers by hand and, where
// the moment matters, a route the test connects by hand (FakeRoute).
// Relayed requests: the client gone while the server is chosen (the choice
// is cancelled and the connection goes at once, no zombie), while it is
// connected to, before the answer, in the middle of the body, while a
// retry's choice is outstanding; the server refusing (the next one is
// tried), gone before answering (an idempotent request goes elsewhere), in
// the middle of the head and of the body; every server refusing; a request
// pipelined before a half-close. Tunnels:
// the client gone while choosing or connecting, the server or the client
// closing first, the client reset; bytes intact both ways. The body
// stage's seam: a filter that changes the length is framed anew (chunked,
// or until close for HTTP/1.0) and flushed at the end. Each case ends with
// nothing in flight and exactly one history row with the cause.
#define BOOST_TEST_MODULE lbproxy_exchange
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "client_conn.hpp"
#include "dialer.hpp"
#include "ev.hpp"
#include "loopback.hpp"
#include "metrics.hpp"
#include "proxy_events.hpp"

using namespace lbproxy;

namespace {

constexpr char group[] = "web.test";

// Chooses the listed servers in turn (never one excluded); with hold, a
// choice waits until the test answers it.
struct FakeChooser final : Chooser {
    std::vector<std::string> servers;
    bool hold = false;
    struct Waiting {
        ServerIds exclude;
        std::shared_ptr<ChoiceHandle::Done> done;
    };
    std::vector<Waiting> waiting;
    int in_flight = 0;

    bool is_group(const std::string& host) const override { return host == group; }
    std::string missing_state() const override { return ""; }
    void choose(const std::string&, const ServerIds& exclude, ChoiceHandle& handle,
                ChoiceHandle::Done done) override
    {
        auto w = std::make_shared<ChoiceHandle::Done>(std::move(done));
        handle = ChoiceHandle(w);
        waiting.push_back({exclude, w});
        if (!hold)
            answer(waiting.size() - 1);
    }
    // Answers choice i; false when it was cancelled meanwhile.
    bool answer(std::size_t i)
    {
        Waiting w = waiting.at(i);
        if (!*w.done)
            return false;
        Choice c;
        c.group = group;
        c.error = "no server left";
        for (std::size_t i = 0; i < servers.size(); ++i)
            if (std::find(w.exclude.begin(), w.exclude.end(), ServerId(i)) == w.exclude.end()) {
                c.id = ServerId(i);  // a server's id is its place in servers
                c.server = servers[i];
                c.target = lbkit::parse_host_port(servers[i], 80);
                c.error.clear();
                break;
            }
        ChoiceHandle::Done d = std::move(*w.done);
        *w.done = nullptr;
        d(std::move(c));
        return true;
    }
    ServerIds suspects;
    void mark_suspect(ServerId id) override { suspects.push_back(id); }
    void request_started(ServerId) override { ++in_flight; }
    void request_finished(ServerId) override { --in_flight; }
    void server_ok(ServerId) override {}
    void server_failed(ServerId) override {}
};

// Doubles every byte and keeps the last one of each feed until more come
// or the body ends: a filter that changes the length and holds bytes back.
struct Doubler final : http::BodyFilter {
    std::string held;
    void feed(evbuffer* in, evbuffer* out) override
    {
        std::string s = std::move(held);
        std::size_t n = evbuffer_get_length(in);
        s.resize(s.size() + n);
        evbuffer_remove(in, s.data() + s.size() - n, n);
        held.clear();
        if (s.empty())
            return;
        held = s.back();
        s.pop_back();
        emit(s, out);
    }
    void finish(evbuffer* out) override
    {
        emit(held, out);
        held.clear();
    }
    static void emit(const std::string& s, evbuffer* out)
    {
        for (char c : s) {
            char two[2] = {c, c};
            evbuffer_add(out, two, 2);
        }
    }
};

// Identity unless the test asks for doubled bodies.
struct Bodies final : http::BodyStage {
    bool doubling = false;
    std::unique_ptr<http::BodyFilter> response_filter(const std::string&, const http::Head&) override
    {
        return doubling ? std::make_unique<Doubler>() : nullptr;
    }
};

// n bytes that show where a byte went missing or moved.
std::string pattern(std::size_t n)
{
    std::string s;
    for (std::size_t i = 0; i < n; ++i)
        s += char('a' + i % 26 + (i / 26) % 3);
    return s;
}

std::string doubled(const std::string& s)
{
    std::string d;
    for (char c : s)
        d.append(2, c);
    return d;
}

// The payload of a chunked body, or "" with ok false when it is not one
// whole chunked body ending with the last chunk.
std::string dechunk(const std::string& body, bool& ok)
{
    std::string out;
    std::size_t at = 0;
    ok = false;
    for (int i = 0; i < 10000; ++i) {
        std::size_t eol = body.find("\r\n", at);
        if (eol == std::string::npos)
            return "";
        std::size_t n = std::stoul(body.substr(at, eol - at), nullptr, 16);
        at = eol + 2;
        if (n == 0) {
            ok = body.compare(at, std::string::npos, "\r\n") == 0;
            return out;
        }
        if (body.size() < at + n + 2 || body.compare(at + n, 2, "\r\n") != 0)
            return "";
        out.append(body, at, n);
        at += n + 2;
    }
    return "";
}

struct Rows final : http::ExchangeSink {
    std::vector<http::Exchange> rows;
    void record(http::Exchange e) override { rows.push_back(std::move(e)); }
};

// Routes the test drives (RelayContext::make_route): start() only takes the
// request, and the route connects when the test says so. One at a time:
// current is the route of the exchange in progress.
struct FakeRoute;
struct FakeRoutes {
    FakeRoute* current = nullptr;
    int made = 0;
    int cancelled_waiting = 0;  // cancel() while asked and not answered yet
};

struct FakeRoute final : http::Route, http::UpstreamUser {
    http::UpstreamPool& pool;
    http::RouteUser& user;
    FakeRoutes& all;
    std::string server_;
    lbkit::HostPort target_;
    bool waiting = false;  // started, neither dialed nor failed
    http::UpstreamConn* connecting = nullptr;

    FakeRoute(http::UpstreamPool& p, http::RouteUser& u, FakeRoutes& a) : pool(p), user(u), all(a)
    {
        all.current = this;
        ++all.made;
    }
    ~FakeRoute() override
    {
        cancel();
        if (all.current == this)
            all.current = nullptr;
    }
    // Opens a real connection to server; its outcome reaches the user.
    void connect_to(const std::string& server)
    {
        server_ = server;
        target_ = lbkit::parse_host_port(server, 80);
        connecting = pool.open(server_, target_, this);
    }
    void upstream_connected(http::UpstreamConn& conn) override
    {
        connecting = nullptr;
        waiting = false;
        user.dialed(&conn);
    }
    void upstream_failed(http::UpstreamConn& conn, http::ConnectFailure, const std::string& why) override
    {
        std::string sentence = "cannot connect to " + server_ + ": " + why;  // why lives in conn
        connecting = nullptr;
        waiting = false;
        pool.release(&conn, false);
        user.dial_failed(502, sentence);
    }

    void start(std::string_view, uint16_t, bool) override { waiting = true; }
    void redial_same() override { waiting = true; }
    bool redial_other(const std::string&) override { return false; }
    std::string give_up(const std::string& why) override { return "server " + server_ + ": " + why; }
    void cancel() override
    {
        if (waiting)
            ++all.cancelled_waiting;
        waiting = false;
        pool.release(connecting, false);
        connecting = nullptr;
    }
    bool is_group() const override { return true; }
    const std::string& group() const override
    {
        static const std::string name = ::group;
        return name;
    }
    const std::string& server() const override { return server_; }
    ServerId server_id() const override { return 0; }
    const lbkit::HostPort& target() const override { return target_; }
    const http::UpstreamHop& hop() const override
    {
        static const http::UpstreamHop direct;
        return direct;
    }
};

struct Proxy {
    lbkit::ev::BasePtr base{event_base_new()};
    lbkit::Metrics registry;
    ProxyMetrics metrics{registry};
    ProxyConfig config;
    FakeChooser chooser;
    Rows history;
    http::UpstreamPool pool{base.get(), metrics.upstream_connects, http::PoolOptions{}};
    ProxyEvents events{metrics, chooser};
    http::NoSession session;
    http::DirectUpstream upstream;
    Bodies bodies;
    Context ctx{{base.get(), config.relay_limits(base.get()), events, history, pool, {}, {session, upstream, bodies},
                 "lbproxy"},
                config, chooser, metrics};
    FakeRoutes routes;  // before clients: a retired Relay's route goes with them
    ClientRegistry clients;
    int client = -1;  // the test's end of the client connection
    std::string answer;

    Proxy()
    {
        ctx.relay.make_route = Dialer::factory(ctx);
        LoopbackPair pair = loopback_pair();
        client = pair.client;
        ClientConn::open(ctx, clients, pair.accepted, reinterpret_cast<sockaddr*>(&pair.peer), true);
    }
    void use_fake_routes()
    {
        ctx.relay.make_route = [this](http::RouteUser& u) { return std::make_unique<FakeRoute>(pool, u, routes); };
    }
    ~Proxy()
    {
        clients.close_all();
        pool.clear();
        if (client >= 0) close(client);
    }
    void send(const std::string& s) { BOOST_REQUIRE(write(client, s.data(), s.size()) == ssize_t(s.size())); }
    // Gone for good (a reset, as a killed client), not a half-close after
    // which the answer would still be awaited.
    void hang_up()
    {
        linger off{1, 0};
        setsockopt(client, SOL_SOCKET, SO_LINGER, &off, sizeof off);
        close(client);
        client = -1;
    }
    // Runs the loop until done() holds, 5 s at most (a failing test must not hang).
    template <class F>
    bool run_until(F done, int steps = 1000)
    {
        return ::run_until(base.get(), done, [this] { if (client >= 0) read_waiting(client, answer); }, steps);
    }
    bool recorded() const { return !history.rows.empty(); }
    // The client's end saw the proxy close the connection.
    bool closed_by_proxy()
    {
        char c;
        return client >= 0 && recv(client, &c, 1, MSG_DONTWAIT | MSG_PEEK) == 0;
    }
    std::string answer_head() const { return answer.substr(0, answer.find("\r\n\r\n")); }
    std::string answer_body() const { return answer.substr(std::min(answer.size(), answer.find("\r\n\r\n") + 4)); }
    // Nothing left behind: one row, nothing in flight, no choice outstanding.
    const http::Exchange& only_row()
    {
        run_until([] { return false; }, 40);  // 0.2 s for anything late (nothing must come)
        BOOST_TEST(history.rows.size() == 1u);
        BOOST_TEST(chooser.in_flight == 0);
        for (const auto& w : chooser.waiting)
            BOOST_TEST(!*w.done);
        BOOST_REQUIRE(!history.rows.empty());
        return history.rows.front();
    }
};

const std::string get = std::string("GET http://") + group + "/ HTTP/1.1\r\nHost: " + group + "\r\n\r\n";
const std::string connect_head = std::string("CONNECT ") + group + ":443 HTTP/1.1\r\nHost: " + group + ":443\r\n\r\n";
const std::string established = "HTTP/1.1 200 Connection established\r\n\r\n";
const std::string post = std::string("POST http://") + group + "/ HTTP/1.1\r\nHost: " + group
                         + "\r\nContent-Length: 2\r\n\r\nhi";

}  // namespace

// s, the only server, has the whole request head.
static void request_to(Proxy& p, Server& s, const std::string& request)
{
    p.chooser.servers = {s.name()};
    p.send(request);
    BOOST_REQUIRE(p.run_until([&] { return s.has_request(); }));
}

BOOST_AUTO_TEST_CASE(delivered_answer)
{
    Proxy p;
    Server s;
    request_to(p, s, get);
    s.send("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    BOOST_REQUIRE(p.run_until([&] { return p.recorded(); }));
    const http::Exchange& e = p.only_row();
    BOOST_TEST(e.status == 200);
    BOOST_TEST(e.delivered);
    BOOST_TEST(e.error == "");
    BOOST_TEST(e.group == group);
    BOOST_TEST(e.server == s.name());
    BOOST_TEST(e.upstream_proxy == "DIRECT");
    BOOST_TEST(p.clients.size() == 1u);  // kept alive for the next request
    // No filter: the body and its length go out as the server sent them.
    BOOST_TEST(p.answer.find("Content-Length: 2\r\n") != std::string::npos, p.answer);
    BOOST_TEST(p.answer_body() == "ok");
}

// The row of an exchange whose client went before a server was reached.
static const http::Exchange& gone_row(Proxy& p)
{
    const http::Exchange& e = p.only_row();
    BOOST_TEST(e.status == 0);
    BOOST_TEST(!e.reached);
    BOOST_TEST(!e.delivered);
    BOOST_TEST(e.error.find("client went away") != std::string::npos, e.error);
    return e;
}

// The client goes while the only server is being chosen: the choice is
// cancelled (its late answer dropped) and the connection goes at once, no
// zombie waiting for the choice; nothing reaches the server.
static const http::Exchange& gone_while_choosing(Proxy& p, const std::string& request)
{
    Server s;
    p.chooser.servers = {s.name()};
    p.chooser.hold = true;
    p.send(request);
    BOOST_REQUIRE(p.run_until([&] { return p.chooser.waiting.size() == 1; }));
    p.hang_up();
    BOOST_REQUIRE(p.run_until([&] { return p.recorded(); }));
    BOOST_TEST(p.clients.size() == 0u);
    BOOST_TEST(!p.chooser.answer(0));
    BOOST_TEST(!s.has_request());
    return gone_row(p);
}

// The same while the route is asked and has not answered: it is cancelled.
static const http::Exchange& gone_while_connecting(Proxy& p, const std::string& request)
{
    p.use_fake_routes();
    p.send(request);
    BOOST_REQUIRE(p.run_until([&] { return p.routes.current && p.routes.current->waiting; }));
    p.hang_up();
    BOOST_REQUIRE(p.run_until([&] { return p.recorded(); }));
    BOOST_TEST(p.routes.cancelled_waiting == 1);
    BOOST_TEST(p.clients.size() == 0u);
    return gone_row(p);
}

BOOST_AUTO_TEST_CASE(client_gone_while_choosing_cancels_the_choice)
{
    Proxy p;
    BOOST_TEST(gone_while_choosing(p, get).method == "GET");
}

BOOST_AUTO_TEST_CASE(client_gone_before_the_answer)
{
    Proxy p;
    Server s;
    request_to(p, s, get);
    BOOST_TEST(p.chooser.in_flight == 1);
    p.hang_up();
    BOOST_REQUIRE(p.run_until([&] { return p.recorded(); }));
    const http::Exchange& e = p.only_row();
    BOOST_TEST(e.status == 0);
    BOOST_TEST(e.error.find("client") != std::string::npos, e.error);
    BOOST_TEST(p.clients.size() == 0u);
}

// A GET whose answer has begun: the head and 1,000 of 100,000 body bytes
// have reached the client.
static void answer_in_part(Proxy& p, Server& s)
{
    request_to(p, s, get);
    s.send("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + std::string(1000, 'x'));
    BOOST_REQUIRE(p.run_until([&] { return p.answer.size() > 1000; }));
}

BOOST_AUTO_TEST_CASE(client_gone_mid_body)
{
    Proxy p;
    Server s;
    answer_in_part(p, s);
    p.hang_up();
    BOOST_REQUIRE(p.run_until([&] { return p.recorded(); }));
    const http::Exchange& e = p.only_row();
    BOOST_TEST(e.status == 200);
    BOOST_TEST(!e.delivered);
    BOOST_TEST(e.error.find("client") != std::string::npos, e.error);
}

BOOST_AUTO_TEST_CASE(server_gone_before_answering)
{
    Proxy p;
    Server s;
    p.chooser.servers = {s.name()};
    p.send(post);  // not idempotent: not retried elsewhere
    BOOST_REQUIRE(p.run_until([&] { return s.has_request(); }));
    s.hang_up();
    BOOST_REQUIRE(p.run_until([&] { return p.recorded(); }));
    const http::Exchange& e = p.only_row();
    BOOST_TEST(e.status == 502);
    BOOST_TEST(e.error.find("before answering") != std::string::npos, e.error);
    BOOST_TEST(p.answer.find("HTTP/1.1 502") == 0u, p.answer);
}

BOOST_AUTO_TEST_CASE(server_gone_mid_body)
{
    Proxy p;
    Server s;
    answer_in_part(p, s);
    s.hang_up();
    BOOST_REQUIRE(p.run_until([&] { return p.recorded(); }));
    const http::Exchange& e = p.only_row();
    BOOST_TEST(e.status == 200);
    BOOST_TEST(!e.delivered);
    BOOST_TEST(e.error.find("in the middle of the response") != std::string::npos, e.error);
}

BOOST_AUTO_TEST_CASE(every_server_refuses)
{
    Proxy p;
    std::string a = dead_server(), b = dead_server();
    p.chooser.servers = {a, b};
    p.send(get);
    BOOST_REQUIRE(p.run_until([&] { return p.recorded(); }));
    const http::Exchange& e = p.only_row();
    BOOST_TEST(e.status == 502);
    // Every server tried is named with its cause, not only the last.
    BOOST_TEST(e.error.find(a + ": Connection refused") != std::string::npos, e.error);
    BOOST_TEST(e.error.find(b + ": Connection refused") != std::string::npos, e.error);
    BOOST_TEST(p.answer.find(e.error) != std::string::npos, p.answer);
}

// The body stage's filter changes the length: Content-Length goes, the body
// goes out chunked to an HTTP/1.1 client (kept alive), with what the filter
// held flushed at the end.
BOOST_AUTO_TEST_CASE(filtered_body_is_chunked_for_http11)
{
    Proxy p;
    Server s;
    p.bodies.doubling = true;
    request_to(p, s, get);
    std::string body = pattern(50000);
    s.send("HTTP/1.1 200 OK\r\nContent-Length: 50000\r\nContent-Type: text/plain\r\n\r\n" + body.substr(0, 20000));
    BOOST_REQUIRE(p.run_until([&] { return p.answer.size() > 40000; }));
    s.send(body.substr(20000));
    BOOST_REQUIRE(p.run_until([&] { return p.recorded(); }));
    const http::Exchange& e = p.only_row();
    BOOST_TEST(e.status == 200);
    BOOST_TEST(e.delivered);
    BOOST_TEST(e.error == "");
    BOOST_TEST(e.bytes_out == int64_t(p.answer.size()));
    std::string head = p.answer_head();
    BOOST_TEST(head.find("Content-Length") == std::string::npos, head);
    BOOST_TEST(head.find("Transfer-Encoding: chunked") != std::string::npos, head);
    BOOST_TEST(head.find("Content-Type: text/plain") != std::string::npos, head);
    bool whole = false;
    BOOST_TEST(dechunk(p.answer_body(), whole) == doubled(body));
    BOOST_TEST(whole);
    BOOST_TEST(p.clients.size() == 1u);
}

// To an HTTP/1.0 client a filtered body (here from a chunked one) ends
// when the proxy closes the connection.
BOOST_AUTO_TEST_CASE(filtered_body_is_close_delimited_for_http10)
{
    Proxy p;
    Server s;
    p.bodies.doubling = true;
    request_to(p, s, std::string("GET http://") + group + "/ HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    s.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
    BOOST_REQUIRE(p.run_until([&] { return p.recorded() && p.closed_by_proxy(); }));
    const http::Exchange& e = p.only_row();
    BOOST_TEST(e.status == 200);
    BOOST_TEST(e.delivered);
    std::string head = p.answer_head();
    BOOST_TEST(head.find("Transfer-Encoding") == std::string::npos, head);
    BOOST_TEST(head.find("Content-Length") == std::string::npos, head);
    BOOST_TEST(head.find("Connection: close") != std::string::npos, head);
    BOOST_TEST(p.answer_body() == "aabbccddee");
}

// A body that ends when the server closes: the filter's remainder and the
// last chunk follow the close.
BOOST_AUTO_TEST_CASE(filtered_until_close_body_ends_with_the_last_chunk)
{
    Proxy p;
    Server s;
    p.bodies.doubling = true;
    request_to(p, s, get);
    s.send("HTTP/1.1 200 OK\r\n\r\nxyz");
    s.hang_up();
    BOOST_REQUIRE(p.run_until([&] { return p.recorded(); }));
    const http::Exchange& e = p.only_row();
    BOOST_TEST(e.status == 200);
    BOOST_TEST(e.delivered);
    BOOST_TEST(e.error == "");
    bool whole = false;
    BOOST_TEST(dechunk(p.answer_body(), whole) == "xxyyzz");
    BOOST_TEST(whole);
}

BOOST_AUTO_TEST_CASE(client_gone_while_connecting)
{
    Proxy p;
    BOOST_TEST(gone_while_connecting(p, get).method == "GET");
}

// s answers and the whole answer reaches the client: its row says so.
static const http::Exchange& delivered_by(Proxy& p, Server& s, const std::string& response)
{
    s.send(response);
    BOOST_REQUIRE(p.run_until([&] { return p.recorded(); }));
    const http::Exchange& e = p.only_row();
    BOOST_TEST(e.delivered);
    BOOST_TEST(e.error == "");
    BOOST_TEST(e.server == s.name());
    return e;
}

BOOST_AUTO_TEST_CASE(refused_at_connect_goes_to_the_next_server)
{
    Proxy p;
    Server s;
    std::string dead = dead_server();
    p.chooser.servers = {dead, s.name()};
    p.send(get);
    BOOST_REQUIRE(p.run_until([&] { return s.has_request(); }));
    BOOST_TEST(delivered_by(p, s, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok").status == 200);
    BOOST_TEST(p.chooser.suspects == ServerIds{0});  // the refusing one
    BOOST_TEST(p.answer_body() == "ok");
}

// An idempotent request whose server closed before the response head goes
// once to the next server.
BOOST_AUTO_TEST_CASE(closed_before_the_head_retries_elsewhere)
{
    Proxy p;
    Server a, b;
    p.chooser.servers = {a.name(), b.name()};
    p.send(get);
    BOOST_REQUIRE(p.run_until([&] { return a.has_request(); }));
    a.hang_up();
    BOOST_REQUIRE(p.run_until([&] { return b.has_request(); }));
    BOOST_TEST(delivered_by(p, b, "HTTP/1.1 204 No Content\r\n\r\n").status == 204);
    BOOST_TEST(p.chooser.waiting.size() == 2u);
    BOOST_TEST(p.chooser.waiting[1].exclude == ServerIds{0});
}

// A request pipelined behind one the server answers, and the client's
// half-close seen in the same wakeup as that answer: the waiting request is
// read from the loop once the first exchange is over, and the EOF that came
// meanwhile does not drop it. Both are answered, then the proxy closes.
BOOST_AUTO_TEST_CASE(pipelined_request_before_a_half_close_is_answered)
{
    Proxy p;
    Server s;
    request_to(p, s, get + get);  // the second waits in the proxy's input
    p.chooser.servers = {};       // no server for it: 503 at once
    s.send("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    shutdown(p.client, SHUT_WR);
    BOOST_REQUIRE(p.run_until([&] { return p.history.rows.size() == 2 && p.closed_by_proxy(); }));
    BOOST_TEST(p.history.rows[0].status == 200);
    BOOST_TEST(p.history.rows[1].status == 503);
    BOOST_TEST(p.history.rows[1].delivered);
    BOOST_TEST(p.answer.find("HTTP/1.1 503") != std::string::npos, p.answer);
    BOOST_TEST(p.clients.size() == 0u);
}

// Nothing of the answer reached the client: it gets a 502 and keeps its
// connection for the next request.
BOOST_AUTO_TEST_CASE(closed_mid_head)
{
    Proxy p;
    Server s;
    request_to(p, s, get);
    s.send("HTTP/1.1 200 OK\r\nContent-Len");
    s.hang_up();
    BOOST_REQUIRE(p.run_until([&] { return p.recorded(); }));
    const http::Exchange& e = p.only_row();
    BOOST_TEST(e.status == 502);
    BOOST_TEST(e.error.find("in the middle of the response head") != std::string::npos, e.error);
    BOOST_TEST(p.answer.find("HTTP/1.1 502") == 0u, p.answer);
    BOOST_TEST(p.clients.size() == 1u);  // Ending::keep
    BOOST_TEST(!p.closed_by_proxy());
}

// The answer began: the client learns of the cut from the connection
// closing before the announced length (Ending::linger).
BOOST_AUTO_TEST_CASE(closed_mid_body_closes_the_client)
{
    Proxy p;
    Server s;
    answer_in_part(p, s);
    s.hang_up();
    BOOST_REQUIRE(p.run_until([&] { return p.recorded() && p.closed_by_proxy(); }));
    const http::Exchange& e = p.only_row();
    BOOST_TEST(e.status == 200);
    BOOST_TEST(!e.delivered);
    BOOST_TEST(e.error.find("in the middle of the response") != std::string::npos, e.error);
    BOOST_TEST(p.answer_body() == std::string(1000, 'x'));
}

// The retry's choice is still outstanding when the client goes: it is
// cancelled and its late answer dropped.
BOOST_AUTO_TEST_CASE(client_gone_cancels_the_retry_choice)
{
    Proxy p;
    Server a, b;
    p.chooser.servers = {a.name(), b.name()};
    p.send(get);
    BOOST_REQUIRE(p.run_until([&] { return a.has_request(); }));
    p.chooser.hold = true;
    a.hang_up();
    BOOST_REQUIRE(p.run_until([&] { return p.chooser.waiting.size() == 2; }));
    p.hang_up();
    BOOST_REQUIRE(p.run_until([&] { return p.recorded(); }));
    BOOST_TEST(!p.chooser.answer(1));
    const http::Exchange& e = p.only_row();
    BOOST_TEST(e.status == 0);
    BOOST_TEST(e.error.find("client went away") != std::string::npos, e.error);
    BOOST_TEST(!b.has_request());
}

BOOST_AUTO_TEST_CASE(tunnel_client_gone_while_choosing)
{
    Proxy p;
    p.config.connect_ports = {{1, 65535}};
    BOOST_TEST(gone_while_choosing(p, connect_head).method == "CONNECT");
}

BOOST_AUTO_TEST_CASE(tunnel_client_gone_while_connecting)
{
    Proxy p;
    p.config.connect_ports = {{1, 65535}};
    BOOST_TEST(gone_while_connecting(p, connect_head).method == "CONNECT");
}

// An open tunnel: the bytes the client sent with its CONNECT and after,
// and the server's, cross intact.
static void open_tunnel(Proxy& p, Server& s, const std::string& up, const std::string& down)
{
    p.config.connect_ports = {{1, 65535}};
    p.chooser.servers = {s.name()};
    p.send(connect_head + up.substr(0, 10));
    BOOST_REQUIRE(p.run_until([&] { return p.answer.size() >= established.size(); }));
    BOOST_TEST(p.answer == established);
    p.send(up.substr(10));
    s.read_some();  // accepts the tunnel's connection: it is open
    BOOST_REQUIRE(s.conn >= 0);
    s.send(down);
    BOOST_REQUIRE(p.run_until([&] {
        s.read_some();
        return s.got.size() >= up.size() && p.answer.size() >= established.size() + down.size();
    }));
    BOOST_TEST(s.got == up);
    BOOST_TEST(p.answer.substr(established.size()) == down);
    BOOST_TEST(p.chooser.in_flight == 1);
}

// The server ends first: the client hears EOF, then closes too; the
// tunnel ended whole.
BOOST_AUTO_TEST_CASE(tunnel_server_closes)
{
    Proxy p;
    Server s;
    std::string up = pattern(30000), down = pattern(70000);
    open_tunnel(p, s, up, down);
    s.hang_up();
    BOOST_REQUIRE(p.run_until([&] { return p.closed_by_proxy(); }));
    BOOST_TEST(!p.recorded());  // the client may still send
    shutdown(p.client, SHUT_WR);
    BOOST_REQUIRE(p.run_until([&] { return p.recorded(); }));
    const http::Exchange& e = p.only_row();
    BOOST_TEST(e.status == 200);
    BOOST_TEST(e.delivered);
    BOOST_TEST(e.error == "");
    BOOST_TEST(e.bytes_in == int64_t(connect_head.size() + up.size()));
    BOOST_TEST(e.bytes_out == int64_t(established.size() + down.size()));
    BOOST_TEST(p.clients.size() == 0u);
}

// The client ends its side first: the server hears EOF and still answers.
BOOST_AUTO_TEST_CASE(tunnel_client_closes)
{
    Proxy p;
    Server s;
    std::string up = pattern(5000), down = pattern(3000);
    open_tunnel(p, s, up, down);
    shutdown(p.client, SHUT_WR);
    BOOST_REQUIRE(p.run_until([&] {
        s.read_some();
        return s.eof;
    }));
    s.send("bye");
    s.hang_up();
    BOOST_REQUIRE(p.run_until([&] { return p.recorded(); }));
    const http::Exchange& e = p.only_row();
    BOOST_TEST(e.delivered);
    BOOST_TEST(e.error == "");
    BOOST_TEST(p.answer.substr(established.size()) == down + "bye");
    BOOST_TEST(p.closed_by_proxy());
}

// The client is gone for good (reset): the tunnel ends at once.
BOOST_AUTO_TEST_CASE(tunnel_client_gone)
{
    Proxy p;
    Server s;
    open_tunnel(p, s, pattern(100), pattern(100));
    p.hang_up();
    BOOST_REQUIRE(p.run_until([&] { return p.recorded(); }));
    const http::Exchange& e = p.only_row();
    BOOST_TEST(e.status == 200);
    BOOST_TEST(!e.delivered);
    BOOST_TEST(e.error.find("client went away") != std::string::npos, e.error);
    BOOST_REQUIRE(p.run_until([&] {
        s.read_some();
        return s.eof;
    }));
}
