// StateSources against a scripted lbstated on loopback: pulls coalesced into
// one request, the pause after failed pulls, registration, re-registration
// when lbstated restarts, and unsubscribing.
#define BOOST_TEST_MODULE lbproxy_state_source
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <netinet/in.h>

#include <list>
#include <map>
#include <string>
#include <vector>

#include "error.hpp"
#include "ev.hpp"
#include "httpc.hpp"
#include "loop.hpp"
#include "metrics.hpp"
#include "state_source.hpp"

using namespace lbproxy;
using lbkit::Millis;

namespace {

// A stand-in for lbstated: counts requests per "METHOD PATH", answers
// /v1/state after a delay so pulls can overlap.
struct FakeStated {
    lbkit::Loop& loop;
    lbkit::ev::HttpPtr http;
    uint16_t port = 0;
    std::map<std::string, int> hits;
    std::vector<std::string> bodies;  // POST bodies
    int64_t started_ms = 1000;
    uint64_t version = 5;
    bool announce = false;  // the health answer names the version held, as lbstated's does
    Millis state_delay{100};
    // Answers to /v1/state not sent yet. Declared after http, so a test that
    // ends first cancels them before the requests they answer are freed.
    std::list<lbkit::Timer> delayed;

    explicit FakeStated(lbkit::Loop& l) : loop(l), http(evhttp_new(l.base()))
    {
        evhttp_set_allowed_methods(http.get(), EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_DELETE);
        evhttp_set_gencb(http.get(), &FakeStated::cb, this);
        evhttp_bound_socket* s = evhttp_bind_socket_with_handle(http.get(), "127.0.0.1", 0);
        BOOST_REQUIRE(s);
        sockaddr_in sin{};
        socklen_t len = sizeof sin;
        getsockname(evhttp_bound_socket_get_fd(s), reinterpret_cast<sockaddr*>(&sin), &len);
        port = ntohs(sin.sin_port);
    }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }

    static void reply(evhttp_request* req, int status, const std::string& body)
    {
        evbuffer* out = evbuffer_new();
        evbuffer_add(out, body.data(), body.size());
        evhttp_send_reply(req, status, "x", out);
        evbuffer_free(out);
    }

    static void cb(evhttp_request* req, void* arg)
    {
        auto* self = static_cast<FakeStated*>(arg);
        std::string method = evhttp_request_get_command(req) == EVHTTP_REQ_GET    ? "GET"
                             : evhttp_request_get_command(req) == EVHTTP_REQ_POST ? "POST"
                                                                                   : "DELETE";
        std::string path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
        self->hits[method + " " + path]++;
        evbuffer* in = evhttp_request_get_input_buffer(req);
        std::string body(evbuffer_get_length(in), '\0');
        evbuffer_copyout(in, body.data(), body.size());
        if (method == "POST") self->bodies.push_back(body);
        if (path == "/v1/health")
            return reply(req, 200, "{\"status\":\"ok\",\"started_ms\":" + std::to_string(self->started_ms) +
                                       ",\"pid\":1" +
                                       (self->announce ? ",\"state_version\":" + std::to_string(self->version) : "") +
                                       "}");
        if (path == "/v1/subscribers") return reply(req, 201, "{\"id\":7}");
        if (path == "/v1/subscribers/7") return reply(req, 204, "");
        if (path == "/v1/state") {
            std::string state = "{\"version\":" + std::to_string(self->version) +
                                ",\"groups\":[{\"name\":\"g\",\"servers\":[{\"name\":\"a:80\",\"load\":1,\"ratio\":1,"
                                "\"state\":\"up\",\"pinned\":false,\"draining\":false}]}]}";
            self->delayed.emplace_back(self->loop, [req, state] { reply(req, 200, state); }).start(self->state_delay);
            return;
        }
        reply(req, 404, "{\"error\":\"no\"}");
    }
};

// Runs the loop until pred() holds or the time is up.
bool run_until(lbkit::Loop& loop, const std::function<bool()>& pred, Millis limit = Millis{5000})
{
    auto deadline = std::chrono::steady_clock::now() + limit;
    bool met = pred();
    lbkit::Timer poll(loop, [&] {
        met = pred();
        if (met || std::chrono::steady_clock::now() > deadline) event_base_loopexit(loop.base(), nullptr);
    });
    if (met) return true;
    poll.start(Millis{5}, true);
    loop.run();
    poll.cancel();
    return met;
}

struct Harness {
    lbkit::Loop loop;
    lbkit::Metrics metrics;
    lbkit::httpc::Client http{loop};
    std::vector<std::pair<uint64_t, std::string>> states;
    int confirms = 0;

    std::unique_ptr<StateSources> sources(const std::vector<std::string>& urls, const std::string& mode,
                                          Millis interval = Millis{100})
    {
        SourceConfig c{urls, mode, interval, Millis{1000}, ""};
        return std::make_unique<StateSources>(
            loop, http, metrics, c,
            [this](lbkit::api::StateView v, const std::string& s) { states.emplace_back(v.version, s); },
            [this](const std::string&) { ++confirms; });
    }
};

}  // namespace

BOOST_AUTO_TEST_CASE(urls_are_normalized_and_keyed)
{
    BOOST_TEST(normalize_state_url("http://127.0.0.1:7400/") == "http://127.0.0.1:7400");
    BOOST_TEST(normalize_state_url("http://h:7400/v1/state") == "http://h:7400");
    BOOST_TEST(source_key("http://h:7400") == "h:7400");
    BOOST_CHECK_THROW(normalize_state_url("ftp://h"), lbkit::Error);
    BOOST_TEST(normalize_state_url("127.0.0.1:7400") == "http://127.0.0.1:7400");  // as lbctl and lbsniff take it
}

BOOST_AUTO_TEST_CASE(concurrent_pulls_share_one_request)
{
    Harness h;
    FakeStated fake(h.loop);
    auto src = h.sources({fake.url()}, "pull");
    int done = 0;
    for (int i = 0; i < 10; ++i) src->pull([&] { ++done; });
    BOOST_TEST(done == 0);  // all wait for the one answer
    BOOST_TEST(run_until(h.loop, [&] { return done == 10; }));
    BOOST_TEST(fake.hits["GET /v1/state"] == 1);
    BOOST_REQUIRE(h.states.size() == 1u);
    BOOST_TEST(h.states[0].first == 5u);
    BOOST_TEST(h.states[0].second == "127.0.0.1:" + std::to_string(fake.port));
    // The next request pulls again: state per request.
    src->pull([&] { ++done; });
    BOOST_TEST(run_until(h.loop, [&] { return done == 11; }));
    BOOST_TEST(fake.hits["GET /v1/state"] == 2);
}

BOOST_AUTO_TEST_CASE(failed_pulls_pause_pulling_for_an_interval)
{
    Harness h;
    uint16_t dead_port;
    {
        FakeStated gone(h.loop);  // bound, then closed: nothing listens there
        dead_port = gone.port;
    }
    auto src = h.sources({"http://127.0.0.1:" + std::to_string(dead_port)}, "pull", Millis{300});
    int done = 0;
    src->pull([&] { ++done; });
    BOOST_TEST(run_until(h.loop, [&] { return done == 1; }));
    // Paused: answered at once from the state the proxy has.
    src->pull([&] { ++done; });
    BOOST_TEST(done == 2);
    BOOST_TEST(h.states.empty());
}

BOOST_AUTO_TEST_CASE(change_mode_registers_confirms_and_reregisters_after_a_restart)
{
    Harness h;
    FakeStated fake(h.loop);
    auto src = h.sources({fake.url()}, "change");
    src->start("http://127.0.0.1:7401/v1/state");
    BOOST_TEST(run_until(h.loop, [&] { return !h.states.empty(); }));
    BOOST_TEST(fake.hits["POST /v1/subscribers"] == 1);
    BOOST_REQUIRE(!fake.bodies.empty());
    BOOST_TEST(fake.bodies[0].find("\"mode\":\"change\"") != std::string::npos);
    BOOST_TEST(fake.bodies[0].find("/v1/state?source=127.0.0.1%3A") != std::string::npos);
    // Health checks every interval confirm the state.
    BOOST_TEST(run_until(h.loop, [&] { return h.confirms >= 2; }));
    BOOST_TEST(fake.hits["POST /v1/subscribers"] == 1);
    // A new start time is a restart: register again and fetch the state.
    fake.started_ms = 2000;
    fake.version = 9;
    BOOST_TEST(run_until(h.loop, [&] { return fake.hits["POST /v1/subscribers"] == 2; }));
    BOOST_TEST(run_until(h.loop, [&] { return !h.states.empty() && h.states.back().first == 9u; }));
}

BOOST_AUTO_TEST_CASE(periodic_mode_reregisters_when_pushes_stop)
{
    Harness h;
    FakeStated fake(h.loop);
    auto src = h.sources({fake.url()}, "periodic", Millis{100});
    src->start("http://127.0.0.1:7401/v1/state");
    BOOST_TEST(run_until(h.loop, [&] { return fake.hits["POST /v1/subscribers"] == 1; }));
    BOOST_TEST(fake.bodies[0].find("\"mode\":\"periodic\"") != std::string::npos);
    BOOST_TEST(fake.bodies[0].find("\"interval_ms\":100") != std::string::npos);
    // Pushes arriving: no health checks, no new registration.
    std::string key = "127.0.0.1:" + std::to_string(fake.port);
    lbkit::Timer pusher(h.loop, [&] { src->pushed(key); });
    pusher.start(Millis{50}, true);
    int health = fake.hits["GET /v1/health"];  // the one before registering
    run_until(h.loop, [] { return false; }, Millis{600});
    BOOST_TEST(fake.hits["POST /v1/subscribers"] == 1);
    BOOST_TEST(fake.hits["GET /v1/health"] == health);
    // Pushes stop: after 2.5 intervals the proxy checks and registers again.
    pusher.cancel();
    BOOST_TEST(run_until(h.loop, [&] { return fake.hits["POST /v1/subscribers"] == 2; }));
    BOOST_TEST(fake.hits["GET /v1/health"] > health);
}

BOOST_AUTO_TEST_CASE(an_unreachable_state_server_is_retried_with_backoff)
{
    Harness h;
    uint16_t port;
    {
        FakeStated gone(h.loop);
        port = gone.port;
    }
    auto src = h.sources({"http://127.0.0.1:" + std::to_string(port)}, "change", Millis{100});
    src->start("http://127.0.0.1:7401/v1/state");
    run_until(h.loop, [] { return false; }, Millis{600});
    auto j = src->to_json();
    BOOST_TEST(j[0]["registered"].get<bool>() == false);
    BOOST_TEST(j[0]["reachable"].get<bool>() == false);
    BOOST_TEST(j[0]["last_error"].get<std::string>().find("GET /v1/health") == 0u);
    // Backoff 250 ms, then 500 ms: a few tries in 600 ms, not one per interval.
    std::string m = h.metrics.render();
    auto at = m.find("kind=\"health\",result=\"error\"} ");
    BOOST_REQUIRE(at != std::string::npos);
    int tries = std::stoi(m.substr(m.find("} ", at) + 2));
    BOOST_TEST(tries >= 2);
    BOOST_TEST(tries <= 3);
    BOOST_TEST(h.states.empty());
}

BOOST_AUTO_TEST_CASE(a_health_check_that_sees_a_newer_version_fetches_it)
{
    Harness h;
    FakeStated fake(h.loop);
    fake.announce = true;
    fake.state_delay = Millis{5};
    for (const char* mode : {"change", "pull"}) {
        h.states.clear();
        h.confirms = 0;
        fake.hits.clear();
        auto src = h.sources({fake.url()}, mode);
        uint64_t held = 0;
        std::vector<std::pair<std::string, uint64_t>> seen;
        src->on_announce([&](const std::string& source, uint64_t v) {
            seen.emplace_back(source, v);
            return v > held;
        });
        int silent = 0;
        src->on_silent([&](const std::string&) { ++silent; });
        fake.version = 5;
        src->start("http://127.0.0.1:7401/v1/state");
        BOOST_TEST(run_until(h.loop, [&] { return !h.states.empty(); }), mode);
        held = 5;
        if (std::string(mode) == "change")
            BOOST_TEST(run_until(h.loop, [&] { return h.confirms >= 2; }), mode);  // the same version confirms
        else
            BOOST_TEST(run_until(h.loop, [&] { return seen.size() >= 2; }), mode);
        int fetches = fake.hits["GET /v1/state"];
        // The state moves on and no push arrives: the next health check fetches it.
        fake.version = 6;
        int confirms = h.confirms;
        BOOST_TEST(run_until(h.loop, [&] { return h.states.back().first == 6u; }), mode);
        held = 6;
        BOOST_TEST(fake.hits["GET /v1/state"] == fetches + 1, mode);
        BOOST_TEST(h.confirms == confirms, mode);  // no confirmation of the older state
        BOOST_TEST(fake.hits["POST /v1/subscribers"] == (std::string(mode) == "change" ? 1 : 0), mode);
        BOOST_REQUIRE(!seen.empty());
        BOOST_TEST(seen.back().first == "127.0.0.1:" + std::to_string(fake.port));
        BOOST_TEST(src->to_json()[0]["announced_version"].get<uint64_t>() >= 5u);
        BOOST_TEST(silent == 0);
        src->stop();
    }
}

BOOST_AUTO_TEST_CASE(a_failed_health_check_makes_the_server_silent)
{
    Harness h;
    uint16_t port;
    {
        FakeStated gone(h.loop);
        port = gone.port;
    }
    auto src = h.sources({"http://127.0.0.1:" + std::to_string(port)}, "change", Millis{100});
    int silent = 0;
    src->on_silent([&](const std::string& key) {
        BOOST_TEST(key == "127.0.0.1:" + std::to_string(port));
        ++silent;
    });
    src->start("http://127.0.0.1:7401/v1/state");
    BOOST_TEST(run_until(h.loop, [&] { return silent >= 1; }));
    BOOST_TEST(src->to_json()[0]["announced_version"].is_null());
}
