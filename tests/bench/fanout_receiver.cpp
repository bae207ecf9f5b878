// Fan-out benchmark driver for lbstated: one libevent process holding many
// HTTP listeners on loopback, each registered with lbstated as a subscriber
// in mode "change". Each round it reads the current state version, sends a
// report that flips a server up or down, and times how long it takes until
// every listener has received a state whose version is newer. All times are
// taken on this process's monotonic clock, so the report and the arrivals
// are measured alike; a listener answers 204 at once.
// With --storm-ms, a second connection meanwhile reports a new load for
// every server that often (a report storm): change mode must coalesce those
// to one push per --push-min-interval per subscriber, and the state flips
// must still arrive at once.
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <netinet/in.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "ev.hpp"
#include "fd_limit.hpp"

namespace {

using ConnPtr = std::unique_ptr<evhttp_connection,
                                lbkit::ev::Deleter<evhttp_connection, evhttp_connection_free>>;

double now_ms()
{
    using namespace std::chrono;
    return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

std::string body_of(evhttp_request* req, bool input)
{
    evbuffer* b = input ? evhttp_request_get_input_buffer(req) : evhttp_request_get_output_buffer(req);
    std::string s(evbuffer_get_length(b), '\0');
    evbuffer_copyout(b, s.data(), s.size());
    return s;
}

struct Options {
    std::string stated_host = "127.0.0.1";
    int stated_port = 7400;
    int subscribers = 1000;
    int rounds = 20;
    std::string server;         // the server whose reports flip its state
    double timeout_ms = 10000;  // per round
    double gap_ms = 200;        // quiet time between rounds
    int stated_pid = 0;         // to report lbstated's CPU time
    double storm_ms = 0;        // a load report for every server this often; 0: none
    std::vector<std::string> storm_servers;
};

// CPU seconds (user + system) of a process, from /proc/PID/stat; -1 if unknown.
double cpu_seconds(int pid)
{
    std::FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/stat").c_str(), "r");
    if (!f) return -1;
    char buf[1024];
    std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    buf[n] = '\0';
    const char* p = std::strrchr(buf, ')');
    unsigned long ut = 0, st = 0;
    // after "comm)": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
    if (!p || std::sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return static_cast<double>(ut + st) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double own_cpu_seconds()
{
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    auto s = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6; };
    return s(ru.ru_utime) + s(ru.ru_stime);
}

class Bench {
public:
    explicit Bench(Options o) : o_(std::move(o)), base_(event_base_new()),
        timer_(evtimer_new(base_.get(), &Bench::timer_cb, this)),
        storm_timer_(event_new(base_.get(), -1, EV_PERSIST, &Bench::storm_cb, this))
    {
        if (!base_ || !timer_ || !storm_timer_) throw std::runtime_error("libevent: cannot create the event base");
        for (ConnPtr* c : {&stated_, &storm_conn_}) {
            c->reset(evhttp_connection_base_new(base_.get(), nullptr, o_.stated_host.c_str(),
                                                static_cast<uint16_t>(o_.stated_port)));
            if (!*c) throw std::runtime_error("libevent: cannot create a connection");
            evhttp_connection_set_timeout(c->get(), 30);
        }
    }

    // Returns the process exit code.
    int run()
    {
        listen_all();
        register_all();
        event_base_dispatch(base_.get());
        if (!error_.empty()) {
            std::cerr << "fanout_receiver: " << error_ << "\n";
            return 1;
        }
        print();
        return 0;
    }

private:
    struct Sub {
        Bench* bench;
        int index;
        lbkit::ev::HttpPtr http;
        uint16_t port = 0;
        double arrived = -1;  // ms after the report, in this round
    };

    void fail(std::string what)
    {
        if (error_.empty()) error_ = std::move(what);
        event_base_loopbreak(base_.get());
    }

    void listen_all()
    {
        subs_.reserve(static_cast<std::size_t>(o_.subscribers));
        for (int i = 0; i < o_.subscribers; ++i) {
            subs_.push_back(std::make_unique<Sub>());
            Sub& s = *subs_.back();
            s.bench = this;
            s.index = i;
            s.http.reset(evhttp_new(base_.get()));
            evhttp_bound_socket* bound = s.http ? evhttp_bind_socket_with_handle(s.http.get(), "127.0.0.1", 0) : nullptr;
            if (!bound)
                throw std::runtime_error("listener " + std::to_string(i) + ": cannot bind 127.0.0.1 (raise the open files limit?)");
            sockaddr_in sa{};
            socklen_t len = sizeof sa;
            getsockname(evhttp_bound_socket_get_fd(bound), reinterpret_cast<sockaddr*>(&sa), &len);
            s.port = ntohs(sa.sin_port);
            evhttp_set_gencb(s.http.get(), &Bench::push_cb, &s);
        }
    }

    // POST JSON (or GET when body is empty) to lbstated; done gets status and body.
    void call(evhttp_cmd_type type, const std::string& path, const std::string& body,
              std::function<void(int, std::string)> done, evhttp_connection* conn = nullptr)
    {
        auto* holder = new std::function<void(int, std::string)>(std::move(done));
        evhttp_request* req = evhttp_request_new(&Bench::reply_cb, holder);
        evkeyvalq* h = evhttp_request_get_output_headers(req);
        evhttp_add_header(h, "Host", o_.stated_host.c_str());
        if (type == EVHTTP_REQ_POST) {
            evhttp_add_header(h, "Content-Type", "application/json");
            evbuffer_add(evhttp_request_get_output_buffer(req), body.data(), body.size());
        }
        if (evhttp_make_request(conn ? conn : stated_.get(), req, type, path.c_str()) != 0) {
            delete holder;
            fail("cannot send " + path + " to lbstated");
        }
    }

    static void reply_cb(evhttp_request* req, void* arg)
    {
        std::unique_ptr<std::function<void(int, std::string)>> done(
            static_cast<std::function<void(int, std::string)>*>(arg));
        if (!req) { (*done)(0, "no answer"); return; }
        (*done)(evhttp_request_get_response_code(req), body_of(req, true));
    }

    std::string where() const { return "lbstated " + o_.stated_host + ":" + std::to_string(o_.stated_port); }

    void register_all()
    {
        for (auto& s : subs_) {
            nlohmann::json j{{"url", "http://127.0.0.1:" + std::to_string(s->port) + "/v1/state"},
                             {"mode", "change"}};
            call(EVHTTP_REQ_POST, "/v1/subscribers", j.dump(), [this](int status, std::string body) {
                if (status < 200 || status > 299)
                    return fail("POST /v1/subscribers: " + where() + ": " + std::to_string(status) + " " + body);
                if (++registered_ == o_.subscribers) {
                    registered_at_ = now_ms();
                    after(o_.gap_ms, [this] { start_round(); });
                }
            });
        }
    }

    // Round 0 (server reported up) is the warm-up: it proves every subscriber
    // is registered and gets pushes, and is not counted.
    void start_round()
    {
        call(EVHTTP_REQ_GET, "/v1/state", "", [this](int status, std::string body) {
            if (status != 200) return fail("GET /v1/state: " + where() + ": " + std::to_string(status));
            try {
                base_version_ = nlohmann::json::parse(body).at("version").get<uint64_t>();
            } catch (const std::exception& e) {
                return fail(std::string("GET /v1/state: no version: ") + e.what());
            }
            send_report();
        });
    }

    void send_report()
    {
        const char* state = round_ % 2 == 0 ? "up" : "down";
        flipped_state_ = state;
        nlohmann::json j{{"notifier", "bench-fanout"}, {"interval_ms", 600000},
                         {"servers", {{{"addr", o_.server}, {"load", round_}, {"state", state}}}}};
        for (auto& s : subs_) s->arrived = -1;
        got_ = 0;
        in_round_ = true;
        t0_ = now_ms();
        call(EVHTTP_REQ_POST, "/v1/reports", j.dump(), [this](int status, std::string body) {
            if (status < 200 || status > 299)
                fail("POST /v1/reports: " + where() + ": " + std::to_string(status) + " " + body);
        });
        after(o_.timeout_ms, [this] { end_round(); });
    }

    static void push_cb(evhttp_request* req, void* arg)
    {
        auto* s = static_cast<Sub*>(arg);
        s->bench->on_push(*s, req);
    }

    void on_push(Sub& s, evhttp_request* req)
    {
        double t = now_ms();
        evhttp_send_reply(req, 204, "No Content", nullptr);
        ++pushes_;
        if (!in_round_ || s.arrived >= 0) return;
        uint64_t v = 0;
        try {
            v = nlohmann::json::parse(body_of(req, true)).at("version").get<uint64_t>();
        } catch (const std::exception&) {
            ++bad_pushes_;
            return;
        }
        if (v <= base_version_) return;
        s.arrived = t - t0_;
        if (++got_ == o_.subscribers) end_round();
    }

    void end_round()
    {
        in_round_ = false;
        evtimer_del(timer_.get());
        double last = 0;
        int missing = 0;
        for (auto& s : subs_) {
            if (s->arrived < 0) { ++missing; continue; }
            last = std::max(last, s->arrived);
            if (round_ > 0) deliveries_.push_back(s->arrived);
        }
        if (round_ > 0) {
            last_.push_back(missing ? INFINITY : last);
            missing_ += missing;
        } else if (missing) {
            return fail(std::to_string(missing) + " of " + std::to_string(o_.subscribers) +
                        " subscribers got no push within " + std::to_string(static_cast<int>(o_.timeout_ms)) +
                        " ms of the first report (warm-up)");
        }
        if (round_ == 0) {
            mark_cpu(0);
            start_storm();
        }
        if (++round_ > o_.rounds) {
            mark_cpu(1);
            event_del(storm_timer_.get());
            event_base_loopbreak(base_.get());
            return;
        }
        after(o_.gap_ms, [this] { start_round(); });
    }

    // CPU use of lbstated and of this receiver across the timed rounds.
    void mark_cpu(int k)
    {
        wall_[k] = now_ms() / 1000;
        own_cpu_[k] = own_cpu_seconds();
        stated_cpu_[k] = o_.stated_pid ? cpu_seconds(o_.stated_pid) : -1;
    }

    void start_storm()
    {
        if (o_.storm_ms <= 0 || o_.storm_servers.empty()) return;
        pushes_at_storm_ = pushes_;
        timeval tv{static_cast<time_t>(o_.storm_ms / 1000), static_cast<suseconds_t>(std::fmod(o_.storm_ms, 1000.0) * 1000)};
        event_add(storm_timer_.get(), &tv);
    }

    static void storm_cb(evutil_socket_t, short, void* arg) { static_cast<Bench*>(arg)->storm_report(); }

    // Every storm server with a new load (its state as the rounds left it):
    // no transition, only figures that move by far more than --load-delta.
    void storm_report()
    {
        nlohmann::json servers = nlohmann::json::array();
        for (const auto& name : o_.storm_servers) {
            const char* state = name == o_.server ? flipped_state_ : "up";
            servers.push_back({{"addr", name}, {"load", 100 + (storm_seq_ * 37 + name.size()) % 900}, {"state", state}});
        }
        ++storm_seq_;
        ++storm_reports_;
        nlohmann::json j{{"notifier", "bench-storm"}, {"interval_ms", 600000}, {"servers", servers}};
        call(EVHTTP_REQ_POST, "/v1/reports", j.dump(), [this](int status, std::string body) {
            if (status < 200 || status > 299)
                fail("storm POST /v1/reports: " + where() + ": " + std::to_string(status) + " " + body);
        }, storm_conn_.get());
    }

    void after(double ms, std::function<void()> fn)
    {
        pending_ = std::move(fn);
        timeval tv{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>(std::fmod(ms, 1000.0) * 1000)};
        evtimer_add(timer_.get(), &tv);
    }

    static void timer_cb(evutil_socket_t, short, void* arg)
    {
        auto* b = static_cast<Bench*>(arg);
        auto fn = std::move(b->pending_);
        b->pending_ = nullptr;
        if (fn) fn();
    }

    static double pct(std::vector<double> v, double p)
    {
        if (v.empty()) return NAN;
        std::sort(v.begin(), v.end());
        auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
        return v[std::clamp<std::size_t>(rank, 1, v.size()) - 1];
    }

    static std::string ms(double v)
    {
        if (std::isinf(v)) return "timeout";
        char b[32];
        std::snprintf(b, sizeof b, "%.1f ms", v);
        return b;
    }

    void print() const
    {
        double p99 = pct(last_, 99);
        std::printf("lbstated fan-out: %d subscribers (mode change) in one receiver, %d state changes\n",
                    o_.subscribers, o_.rounds);
        std::printf("%-32s %10s %10s %10s\n", "time from report to", "median", "p99", "max");
        std::printf("%-32s %10s %10s %10s\n", "  the last subscriber (per change)", ms(pct(last_, 50)).c_str(),
                    ms(p99).c_str(), ms(pct(last_, 100)).c_str());
        std::printf("%-32s %10s %10s %10s\n", "  each subscriber (all deliveries)", ms(pct(deliveries_, 50)).c_str(),
                    ms(pct(deliveries_, 99)).c_str(), ms(pct(deliveries_, 100)).c_str());
        if (missing_)
            std::printf("missing: %d deliveries never arrived within %.0f ms\n", missing_, o_.timeout_ms);
        std::printf("pushes received: %ld (%ld without a version)\n", pushes_, bad_pushes_);
        double wall = wall_[1] - wall_[0];
        if (wall > 0 && stated_cpu_[0] >= 0 && stated_cpu_[1] >= 0)
            std::printf("cpu during the timed rounds (%.1f s, pauses included): lbstated %.0f%%, receiver %.0f%% of one core\n",
                        wall, (stated_cpu_[1] - stated_cpu_[0]) / wall * 100, (own_cpu_[1] - own_cpu_[0]) / wall * 100);
        if (o_.storm_ms > 0 && wall > 0) {
            // Every flip reaches every subscriber once; the rest carried loads.
            double all = static_cast<double>(pushes_ - pushes_at_storm_) / o_.subscribers / wall;
            double flips = o_.rounds / wall;
            std::printf("report storm: %ld reports of %zu servers (one every %.0f ms); pushes per subscriber per second: "
                        "%.2f, of which state flips %.2f and load changes %.2f\n",
                        storm_reports_, o_.storm_servers.size(), o_.storm_ms, all, flips, all - flips);
            std::printf("target load pushes per subscriber per second <= 1 / push-min-interval (1 s): %s\n",
                        all - flips <= 1.0 ? "met" : "MISSED");
        }
        std::printf("target p99 last subscriber <= 200 ms: %s\n", p99 <= 200 ? "met" : "MISSED");
    }

    Options o_;
    lbkit::ev::BasePtr base_;
    lbkit::ev::EventPtr timer_;
    ConnPtr stated_;
    ConnPtr storm_conn_;       // the storm's reports must not queue behind a state flip
    lbkit::ev::EventPtr storm_timer_;
    long storm_seq_ = 0, storm_reports_ = 0, pushes_at_storm_ = 0;
    const char* flipped_state_ = "up";  // as last reported by a round
    std::vector<std::unique_ptr<Sub>> subs_;
    std::function<void()> pending_;
    std::string error_;
    int registered_ = 0;
    double registered_at_ = 0;
    int round_ = 0;
    uint64_t base_version_ = 0;
    bool in_round_ = false;
    double t0_ = 0;
    int got_ = 0;
    int missing_ = 0;
    long pushes_ = 0, bad_pushes_ = 0;
    double wall_[2] = {0, 0}, own_cpu_[2] = {0, 0}, stated_cpu_[2] = {-1, -1};
    std::vector<double> last_;        // per counted round
    std::vector<double> deliveries_;  // per subscriber and counted round
};

}  // namespace

int main(int argc, char** argv)
{
    Options o;
    std::string stated = "127.0.0.1:7400";
    CLI::App app{"fanout_receiver: times lbstated's change pushes to many subscribers"};
    app.add_option("--stated", stated, "lbstated address HOST:PORT");
    app.add_option("--subscribers", o.subscribers, "listeners to register")->check(CLI::Range(1, 15000));
    app.add_option("--rounds", o.rounds, "state changes timed")->check(CLI::Range(1, 10000));
    app.add_option("--server", o.server, "server (as in the groups table) whose state is flipped")->required();
    app.add_option("--timeout-ms", o.timeout_ms, "give up on a round after")->check(CLI::Range(1.0, 600000.0));
    app.add_option("--gap-ms", o.gap_ms, "pause between rounds")->check(CLI::Range(0.0, 60000.0));
    app.add_option("--stated-pid", o.stated_pid, "lbstated's PID, to report its CPU time");
    app.add_option("--storm-ms", o.storm_ms, "meanwhile report a new load for every --storm-server this often")
        ->check(CLI::Range(0.0, 60000.0));
    app.add_option("--storm-server", o.storm_servers, "a server whose load the storm changes (repeatable)");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 64;
    }
    auto colon = stated.rfind(':');
    if (colon == std::string::npos) {
        std::cerr << "fanout_receiver: --stated " << stated << ": want HOST:PORT\n";
        return 64;
    }
    lbkit::raise_open_files();
    try {
        o.stated_host = stated.substr(0, colon);
        o.stated_port = std::stoi(stated.substr(colon + 1));
        return Bench(o).run();
    } catch (const std::exception& e) {
        std::cerr << "fanout_receiver: " << e.what() << "\n";
        return 1;
    }
}
