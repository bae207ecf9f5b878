// Herd benchmark: many lbproxy instances choosing among the same servers on
// the same stale load figures, simulated in one process with simulated time
// but with the real selection code (lbkit::select::choose and adapt).
//
// What the simulation models, and why:
// - A server's load figure is what lbsniff reports: the requests it received
//   per second over the last report interval, from the proxies and, in the
//   foreign scenario, from clients that run no lbproxy.
// - lbstated pushes each new figure to every proxy (change mode); a push
//   reaches a proxy within 100 ms of the report, at a random delay.
// - A proxy knows nothing of the other proxies' traffic. Its local facts are
//   what lbproxy counts: its requests in flight to each server and those it
//   sent since the figure it holds; with adaptive it also keeps the share
//   factors it learned (lbkit::select::adapt on each new figure).
// - Requests arrive at each proxy as a Poisson process; each is answered
//   after an exponential service time (ten times longer on a slow server).
// Scenarios (lbkit(7) states the targets):
//   a  loads held equal relative to the ratios, no feedback: shares must be
//      the ratio shares within 5 points every second;
//   b  loads follow what the servers receive, report interval 1, 5 and 10 s:
//      every server within 10 % of its ratio share every second after warm-up;
//   c  foreign load on s1 (relative load >= 3x the others) from 10 s to 20 s:
//      s1's share of the proxies' requests <= 5 % from two intervals after
//      the start; back within 10 % of its share two intervals after the end;
//   slow  s1 answers ten times slower from 10 s: p99 latency, s1's share.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <queue>
#include <random>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "select.hpp"

namespace {

namespace sel = lbkit::select;

struct Options {
    int proxies = 50;
    double rate = 200;           // requests per second per proxy
    double service_ms = 20;      // mean time a server takes to answer
    std::vector<double> ratios{2, 1, 2, 1};
    uint64_t seed = 1;
    bool per_second = false;
};

struct Scenario {
    std::string name;
    double report_s = 1;          // report interval
    bool feedback = true;         // loads follow what the servers receive
    double foreign_factor = 0;    // foreign req/s on s1, times the proxies' total rate
    double slow_factor = 1;       // s1's service time multiplier from event_s
    int seconds = 30;
    int event_s = 10;             // foreign load or slowness starts
    int event_end_s = 20;         // foreign load stops
    int warmup_s = 5;
};

struct Event {
    double t;  // ms
    enum Kind { arrival, done, deliver, report } kind;
    int proxy;
    int server;
    double started;
    bool operator>(const Event& o) const { return t > o.t; }
};

struct Proxy {
    std::vector<sel::Candidate> view;  // the figures it holds, and its local counts
    std::mt19937_64 rng;
};

struct Run {
    std::vector<std::vector<double>> shares;  // [second][server], of the proxies' requests
    std::vector<double> latencies;            // ms, of requests started after the event
};

class Sim {
public:
    Sim(const Options& o, const Scenario& sc, sel::Policy policy) : o_(o), sc_(sc), policy_(policy), rng_(o.seed)
    {
        for (std::size_t i = 0; i < o_.ratios.size(); ++i) names_.push_back("s" + std::to_string(i + 1));
    }

    Run run()
    {
        std::size_t n = o_.ratios.size();
        recv_.assign(static_cast<std::size_t>(sc_.seconds), std::vector<double>(n, 0));
        window_.assign(n, 0);
        published_.assign(n, 0);
        for (std::size_t i = 0; i < n; ++i)
            published_[i] = sc_.feedback ? 0 : o_.ratios[i] * 100;
        for (int p = 0; p < o_.proxies; ++p) {
            Proxy px{candidates(), std::mt19937_64(o_.seed * 7919 + static_cast<uint64_t>(p))};
            proxies_.push_back(std::move(px));
            push({next_arrival(0), Event::arrival, p, -1, 0});
        }
        for (double t = sc_.report_s * 1000; t < sc_.seconds * 1000.0; t += sc_.report_s * 1000)
            push({t, Event::report, -1, -1, 0});
        const double end = sc_.seconds * 1000.0;
        while (!q_.empty() && q_.top().t < end) {
            Event e = q_.top();
            q_.pop();
            handle(e);
        }
        Run out;
        for (const auto& sec : recv_) {
            double total = 0;
            for (double c : sec) total += c;
            std::vector<double> row;
            for (double c : sec) row.push_back(total > 0 ? c / total : 0);
            out.shares.push_back(row);
        }
        out.latencies = std::move(latencies_);
        return out;
    }

private:
    std::vector<sel::Candidate> candidates() const
    {
        std::vector<sel::Candidate> c;
        for (std::size_t i = 0; i < o_.ratios.size(); ++i) {
            sel::Candidate k;
            k.name = names_[i];
            k.load = published_[i];
            k.ratio = o_.ratios[i];
            k.state = lbkit::api::State::up;
            c.push_back(std::move(k));
        }
        return c;
    }

    void push(Event e) { q_.push(e); }
    double next_arrival(double now) { return now + std::exponential_distribution<double>(o_.rate / 1000.0)(rng_); }
    bool foreign_on(double t) const
    {
        return sc_.foreign_factor > 0 && t >= sc_.event_s * 1000.0 && t < sc_.event_end_s * 1000.0;
    }

    void handle(const Event& e)
    {
        switch (e.kind) {
        case Event::arrival: request(e); break;
        case Event::done: {
            auto& c = proxies_[static_cast<std::size_t>(e.proxy)].view[static_cast<std::size_t>(e.server)];
            c.inflight -= 1;
            if (e.started >= sc_.event_s * 1000.0)
                latencies_.push_back(e.t - e.started);
            break;
        }
        case Event::report: report(e.t); break;
        case Event::deliver: deliver(proxies_[static_cast<std::size_t>(e.proxy)]); break;
        }
    }

    void report(double t)
    {
        if (sc_.feedback) {
            double total_rate = o_.proxies * o_.rate;
            for (std::size_t i = 0; i < window_.size(); ++i)
                published_[i] = window_[i] / sc_.report_s;
            if (foreign_on(t - 1))
                published_[0] += sc_.foreign_factor * total_rate;
            std::fill(window_.begin(), window_.end(), 0);
        }
        std::uniform_real_distribution<double> delay(0, 100);
        for (int p = 0; p < o_.proxies; ++p)
            push({t + delay(rng_), Event::deliver, p, -1, 0});
    }

    void deliver(Proxy& px)
    {
        for (std::size_t i = 0; i < px.view.size(); ++i) {
            px.view[i].load = published_[i];
            px.view[i].sent_since_figure = 0;
        }
        if (policy_ == sel::Policy::adaptive)
            sel::adapt(px.view);
    }

    void request(const Event& e)
    {
        Proxy& px = proxies_[static_cast<std::size_t>(e.proxy)];
        int i = sel::choose(policy_, px.view, px.rng);
        if (i >= 0) {
            auto s = static_cast<std::size_t>(i);
            recv_[static_cast<std::size_t>(e.t / 1000.0)][s] += 1;
            window_[s] += 1;
            px.view[s].inflight += 1;
            px.view[s].sent_since_figure += 1;
            double mean = o_.service_ms * (i == 0 && e.t >= sc_.event_s * 1000.0 ? sc_.slow_factor : 1);
            push({e.t + std::exponential_distribution<double>(1.0 / mean)(rng_), Event::done, e.proxy, i, e.t});
        }
        push({next_arrival(e.t), Event::arrival, e.proxy, -1, 0});
    }

    const Options& o_;
    const Scenario& sc_;
    sel::Policy policy_;
    std::mt19937_64 rng_;
    std::vector<std::string> names_;         // by server; the candidates view them
    std::vector<Proxy> proxies_;
    std::vector<std::vector<double>> recv_;  // proxies' requests received per second and server
    std::vector<double> window_;             // received since the last report
    std::vector<double> published_;          // lbstated's current loads
    std::vector<double> latencies_;
    std::priority_queue<Event, std::vector<Event>, std::greater<>> q_;
};

std::vector<double> expected_shares(const Options& o)
{
    double total = 0;
    for (double r : o.ratios) total += r;
    std::vector<double> out;
    for (double r : o.ratios) out.push_back(r / total);
    return out;
}

// The verdict of one scenario for one policy: the figure its target is
// about, and whether the target is met.
struct Verdict {
    std::string figure;
    bool met = false;
};

// Worst per-second deviation over [from, to): in points (a) or relative (b).
double worst_deviation(const Options& o, const Run& r, int from, int to, bool points, int& at)
{
    auto want = expected_shares(o);
    double worst = 0;
    for (int s = std::max(from, 0); s < to && s < static_cast<int>(r.shares.size()); ++s)
        for (std::size_t i = 0; i < want.size(); ++i) {
            double share = r.shares[static_cast<std::size_t>(s)][i];
            double d = points ? (share - want[i]) * 100 : (share - want[i]) / want[i] * 100;
            if (std::fabs(d) > std::fabs(worst)) {
                worst = d;
                at = s + 1;
            }
        }
    return worst;
}

double percentile(std::vector<double> v, double p)
{
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1))];
}

Verdict judge(const Options& o, const Scenario& sc, const Run& r)
{
    char buf[160];
    int at = 0;
    int interval = static_cast<int>(std::ceil(sc.report_s));
    if (sc.name == "a") {
        double w = worst_deviation(o, r, 1, sc.seconds, true, at);
        std::snprintf(buf, sizeof buf, "worst %+.1f points (second %d)", w, at);
        return {buf, std::fabs(w) <= 5};
    }
    if (sc.foreign_factor > 0) {
        double peak = 0;
        for (int s = sc.event_s + 2 * interval; s < sc.event_end_s; ++s)
            peak = std::max(peak, r.shares[static_cast<std::size_t>(s)][0]);
        int back_from = sc.event_end_s + 2 * interval;
        double after = worst_deviation(o, r, back_from, sc.seconds, false, at);
        std::snprintf(buf, sizeof buf, "s1 during <= %.1f %%, after: worst %+.1f %% (second %d)", peak * 100, after, at);
        return {buf, peak <= 0.05 && std::fabs(after) <= 10};
    }
    if (sc.slow_factor > 1) {
        double slow_share = 0;
        int secs = 0;
        for (int s = sc.event_s + 2; s < sc.seconds; ++s, ++secs)
            slow_share += r.shares[static_cast<std::size_t>(s)][0];
        std::snprintf(buf, sizeof buf, "p99 %.0f ms, max %.0f ms, slow s1 gets %.1f %%", percentile(r.latencies, 0.99),
                      percentile(r.latencies, 1.0), secs ? slow_share / secs * 100 : 0);
        return {buf, true};
    }
    double w = worst_deviation(o, r, sc.warmup_s, sc.seconds, false, at);
    std::snprintf(buf, sizeof buf, "worst %+.1f %% (second %d)", w, at);
    return {buf, std::fabs(w) <= 10};
}

void print_shares(const Options& o, const Run& r)
{
    for (std::size_t s = 0; s < r.shares.size(); ++s) {
        std::printf("    %3zu", s + 1);
        for (std::size_t i = 0; i < o.ratios.size(); ++i)
            std::printf(" %5.1f%%", r.shares[s][i] * 100);
        std::printf("\n");
    }
}

std::string ratios_text(const Options& o)
{
    std::string out;
    for (double r : o.ratios) out += (out.empty() ? "" : ":") + std::to_string(static_cast<int>(r));
    return out;
}

std::vector<Scenario> scenarios()
{
    std::vector<Scenario> out;
    out.push_back({"a", 1, false, 0, 1, 20, 10, 20, 0});
    for (double r : {1.0, 5.0, 10.0}) {
        Scenario b{"b", r, true, 0, 1, 0, 10, 20, 0};
        b.warmup_s = static_cast<int>(3 * r);
        b.seconds = b.warmup_s + 30;
        out.push_back(b);
    }
    out.push_back({"c", 1, true, 2.0, 1, 30, 10, 20, 5});
    out.push_back({"slow", 1, true, 0, 10, 30, 10, 30, 5});
    return out;
}

std::string scenario_label(const Scenario& sc)
{
    if (sc.name == "a") return "a equal loads";
    if (sc.name == "b") return "b stale " + std::to_string(static_cast<int>(sc.report_s)) + " s";
    if (sc.name == "c") return "c foreign load";
    return "slow server";
}

}  // namespace

int main(int argc, char** argv)
{
    Options o;
    std::string only;
    CLI::App app{"herd: many simulated lbproxy instances on the real selection code"};
    app.add_option("--proxies", o.proxies, "simulated proxies")->check(CLI::Range(1, 10000));
    app.add_option("--rate", o.rate, "requests per second per proxy")->check(CLI::Range(1.0, 1e6));
    app.add_option("--service-ms", o.service_ms, "mean service time")->check(CLI::Range(0.01, 1e5));
    app.add_option("--ratios", o.ratios, "server ratios")->delimiter(',');
    app.add_option("--seed", o.seed, "random seed");
    app.add_option("--policy", only, "run only this policy");
    app.add_flag("--per-second", o.per_second, "print the per-second shares too");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int rc = app.exit(e);
        return rc == 0 ? 0 : 64;
    }
    std::vector<sel::Policy> policies{sel::Policy::least, sel::Policy::p2c, sel::Policy::adaptive};
    if (!only.empty()) {
        try {
            policies = {sel::policy_from_string(only)};
        } catch (const std::exception& e) {
            std::cerr << "herd: " << e.what() << "\n";
            return 64;
        }
    }

    std::printf("herd: %d proxies x %.0f req/s, %zu servers with ratios %s, mean service %.0f ms;\n"
                "load = requests received per second over the report interval; change-mode pushes\n\n",
                o.proxies, o.rate, o.ratios.size(), ratios_text(o).c_str(), o.service_ms);
    std::printf("%-16s %-9s %-58s %s\n", "scenario", "policy", "figure", "target");
    bool default_ok = true;
    for (const Scenario& sc : scenarios()) {
        for (sel::Policy p : policies) {
            Run r = Sim(o, sc, p).run();
            Verdict v = judge(o, sc, r);
            bool targeted = sc.name != "slow";
            if (p == sel::default_policy && targeted)
                default_ok = default_ok && v.met;
            std::printf("%-16s %-9s %-58s %s\n", scenario_label(sc).c_str(), sel::to_string(p), v.figure.c_str(),
                        targeted ? (v.met ? "met" : "MISSED") : "-");
            if (o.per_second)
                print_shares(o, r);
        }
    }
    std::printf("default policy (%s) meets a, b and c: %s\n", sel::to_string(sel::default_policy),
                default_ok ? "yes" : "NO");
    return 0;
}
