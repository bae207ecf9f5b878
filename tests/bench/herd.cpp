// Herd benchmark: many lbproxy instances choosing among the same servers on
// the same stale load figures, simulated in one process with simulated time
// but with the real selection code (lbkit::select::choose).
//
// What the simulation models, and why:
// - Each server's load is what lbsniff would report with --metric requests:
//   the requests it received during the last report interval (1 s). So load
//   follows what the proxies send, with one interval of delay.
// - lbstated receives that report once per second; each proxy gets the state
//   once per second too, pushed by its own periodic timer (staggered: each
//   proxy at its own phase in the second) or, as a harsher case, all at the
//   same instant (synchronized).
// - A proxy knows nothing of the other proxies' traffic. Its only local fact
//   is what lbproxy itself counts: its own requests in flight to each server
//   (started, not yet answered), or with --inflight since-update the requests
//   it sent to each server since its last state update.
// - Requests arrive at each proxy as a Poisson process; each is answered
//   after an exponential service time.
// Output: per-second share of each server for each policy, and the worst
// deviation from the ratio share after the warm-up.
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
    double rate = 200;          // requests per second per proxy
    int seconds = 30;
    int warmup = 5;
    double service_ms = 20;     // mean time a server takes to answer
    std::string inflight = "outstanding";  // or since-update
    std::vector<double> ratios{2, 1, 2, 1};
    uint64_t seed = 1;
    bool per_second = true;
};

enum class Refresh { staggered, synchronized };

struct Event {
    double t;   // ms
    enum Kind { arrival, done, deliver, report } kind;
    int proxy;
    int server;
    bool operator>(const Event& o) const { return t > o.t; }
};

struct Proxy {
    std::vector<double> load;      // as of the last state it received
    std::vector<double> local;     // its in-flight (or since-update) counts
    double phase_ms = 0;           // when in each second its push arrives
    std::mt19937_64 rng;
};

// shares[second][server] for one run.
using Shares = std::vector<std::vector<double>>;

class Sim {
public:
    Sim(const Options& o, sel::Policy policy, Refresh refresh)
        : o_(o), policy_(policy), refresh_(refresh), rng_(o.seed) {}

    Shares run()
    {
        std::size_t n = o_.ratios.size();
        recv_.assign(static_cast<std::size_t>(o_.seconds), std::vector<double>(n, 0));
        published_.assign(n, 0);
        std::uniform_real_distribution<double> phase(0, 1000);
        for (int p = 0; p < o_.proxies; ++p) {
            Proxy px{std::vector<double>(n, 0), std::vector<double>(n, 0), 0,
                     std::mt19937_64(o_.seed * 7919 + static_cast<uint64_t>(p))};
            px.phase_ms = refresh_ == Refresh::staggered ? phase(rng_) : 1.0;
            proxies_.push_back(std::move(px));
            push({next_arrival(0), Event::arrival, p, -1});
            push({first_delivery(p), Event::deliver, p, -1});
        }
        for (int s = 1; s <= o_.seconds; ++s)
            push({s * 1000.0, Event::report, -1, -1});
        const double end = o_.seconds * 1000.0;
        while (!q_.empty() && q_.top().t < end) {
            Event e = q_.top();
            q_.pop();
            handle(e);
        }
        Shares shares;
        for (const auto& sec : recv_) {
            double total = 0;
            for (double c : sec) total += c;
            std::vector<double> row;
            for (double c : sec) row.push_back(total > 0 ? c / total : 0);
            shares.push_back(row);
        }
        return shares;
    }

private:
    void push(Event e) { q_.push(e); }
    double first_delivery(int p) { return 1000.0 + proxies_[static_cast<std::size_t>(p)].phase_ms; }
    double next_arrival(double now)
    {
        return now + std::exponential_distribution<double>(o_.rate / 1000.0)(rng_);
    }

    void handle(const Event& e)
    {
        switch (e.kind) {
        case Event::arrival: request(e); break;
        case Event::done:
            if (o_.inflight == "outstanding")
                proxies_[static_cast<std::size_t>(e.proxy)].local[static_cast<std::size_t>(e.server)] -= 1;
            break;
        case Event::report: {
            // lbsniff's figure for the second that just ended reaches lbstated.
            int sec = static_cast<int>(std::lround(e.t / 1000.0)) - 1;
            published_ = recv_[static_cast<std::size_t>(sec)];
            break;
        }
        case Event::deliver: {
            Proxy& px = proxies_[static_cast<std::size_t>(e.proxy)];
            px.load = published_;
            if (o_.inflight == "since-update")
                std::fill(px.local.begin(), px.local.end(), 0);
            push({e.t + 1000.0, Event::deliver, e.proxy, -1});
            break;
        }
        }
    }

    void request(const Event& e)
    {
        Proxy& px = proxies_[static_cast<std::size_t>(e.proxy)];
        std::vector<sel::Candidate> c;
        for (std::size_t i = 0; i < o_.ratios.size(); ++i) {
            sel::Candidate k;
            k.name = "s" + std::to_string(i + 1);
            k.load = px.load[i];
            k.ratio = o_.ratios[i];
            k.state = lbkit::api::State::up;
            k.inflight = px.local[i];
            c.push_back(std::move(k));
        }
        int i = sel::choose(policy_, c, px.rng);
        if (i >= 0) {
            auto s = static_cast<std::size_t>(i);
            recv_[static_cast<std::size_t>(e.t / 1000.0)][s] += 1;
            px.local[s] += 1;
            if (o_.inflight == "outstanding") {
                double svc = std::exponential_distribution<double>(1.0 / o_.service_ms)(rng_);
                push({e.t + svc, Event::done, e.proxy, i});
            }
        }
        push({next_arrival(e.t), Event::arrival, e.proxy, -1});
    }

    const Options& o_;
    sel::Policy policy_;
    Refresh refresh_;
    std::mt19937_64 rng_;
    std::vector<Proxy> proxies_;
    std::vector<std::vector<double>> recv_;  // requests received per second and server
    std::vector<double> published_;          // lbstated's current loads
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

struct Worst {
    double dev = 0;   // relative: (share - expected) / expected
    int second = 0;
    int server = 0;
};

Worst worst_after_warmup(const Options& o, const Shares& sh)
{
    auto exp = expected_shares(o);
    Worst w;
    for (int s = o.warmup; s < o.seconds; ++s)
        for (std::size_t i = 0; i < exp.size(); ++i) {
            double d = (sh[static_cast<std::size_t>(s)][i] - exp[i]) / exp[i];
            if (std::fabs(d) > std::fabs(w.dev)) w = {d, s + 1, static_cast<int>(i) + 1};
        }
    return w;
}

void print_shares(const Options& o, const Shares& least, const Shares& p2c)
{
    std::size_t n = o.ratios.size();
    int width = static_cast<int>(n) * 7;
    std::printf("%4s | %-*s | %-*s |\n", "", width - 1, "least", width - 1, "p2c");
    std::printf("%4s |", "sec");
    for (int k = 0; k < 2; ++k) {
        for (std::size_t i = 0; i < n; ++i) std::printf(" %6s", ("s" + std::to_string(i + 1)).c_str());
        std::printf(" |");
    }
    std::printf("\n%4s |", "want");
    auto exp = expected_shares(o);
    for (int k = 0; k < 2; ++k) {
        for (double e : exp) std::printf(" %5.1f%%", e * 100);
        std::printf(" |");
    }
    std::printf("\n");
    for (int s = 0; s < o.seconds; ++s) {
        std::printf("%4d |", s + 1);
        for (const Shares* sh : {&least, &p2c}) {
            for (std::size_t i = 0; i < n; ++i) std::printf(" %5.1f%%", (*sh)[static_cast<std::size_t>(s)][i] * 100);
            std::printf(" |");
        }
        std::printf("%s\n", s + 1 == o.warmup ? " end of warm-up" : "");
    }
}

std::string ratios_text(const Options& o)
{
    std::string out;
    for (double r : o.ratios) out += (out.empty() ? "" : ":") + std::to_string(static_cast<int>(r));
    return out;
}

}  // namespace

int main(int argc, char** argv)
{
    Options o;
    CLI::App app{"herd: many simulated lbproxy instances on the real selection code"};
    app.add_option("--proxies", o.proxies, "simulated proxies")->check(CLI::Range(1, 10000));
    app.add_option("--rate", o.rate, "requests per second per proxy")->check(CLI::Range(1.0, 1e6));
    app.add_option("--seconds", o.seconds, "simulated seconds")->check(CLI::Range(2, 3600));
    app.add_option("--warmup", o.warmup, "seconds left out of the verdict")->check(CLI::Range(0, 3600));
    app.add_option("--service-ms", o.service_ms, "mean service time")->check(CLI::Range(0.01, 1e5));
    app.add_option("--inflight", o.inflight, "local estimate: outstanding or since-update")
        ->check(CLI::IsMember({"outstanding", "since-update"}));
    app.add_option("--ratios", o.ratios, "server ratios")->delimiter(',');
    app.add_option("--seed", o.seed, "random seed");
    app.add_flag("!--no-per-second", o.per_second, "only the summary");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int rc = app.exit(e);
        return rc == 0 ? 0 : 64;
    }
    if (o.warmup >= o.seconds) {
        std::cerr << "herd: --warmup must be below --seconds\n";
        return 64;
    }

    std::printf("herd: %d proxies x %.0f req/s, %zu servers with ratios %s; load = requests received\n"
                "in the last second; state every 1 s; local estimate = %s%s\n",
                o.proxies, o.rate, o.ratios.size(), ratios_text(o).c_str(),
                o.inflight == "outstanding" ? "requests in flight, mean service " : "requests sent since the last update",
                o.inflight == "outstanding" ? (std::to_string(static_cast<int>(o.service_ms)) + " ms").c_str() : "");

    Shares least_st = Sim(o, sel::Policy::least, Refresh::staggered).run();
    Shares p2c_st = Sim(o, sel::Policy::p2c, Refresh::staggered).run();
    if (o.per_second) {
        std::printf("\nper-second share, each proxy's push at its own phase (periodic mode):\n");
        print_shares(o, least_st, p2c_st);
    }
    Shares least_sy = Sim(o, sel::Policy::least, Refresh::synchronized).run();
    Shares p2c_sy = Sim(o, sel::Policy::p2c, Refresh::synchronized).run();
    // weighted ignores load: its deviation is the noise of random sampling alone.
    Shares weighted_st = Sim(o, sel::Policy::weighted, Refresh::staggered).run();

    std::printf("\nworst deviation from the ratio share, seconds %d-%d (relative: (share - want) / want)\n",
                o.warmup + 1, o.seconds);
    std::printf("%-8s %-13s %9s %7s %7s  %s\n", "policy", "state push", "worst", "server", "second", "target +-10%");
    struct Row { const char* pol; const char* refresh; const Shares* sh; bool target; };
    bool ok = true;
    for (Row r : {Row{"least", "staggered", &least_st, false}, Row{"p2c", "staggered", &p2c_st, true},
                  Row{"least", "synchronized", &least_sy, false}, Row{"p2c", "synchronized", &p2c_sy, true},
                  Row{"weighted", "(noise floor)", &weighted_st, false}}) {
        Worst w = worst_after_warmup(o, *r.sh);
        bool met = std::fabs(w.dev) <= 0.10;
        if (r.target) ok = ok && met;
        std::printf("%-8s %-13s %+8.1f%% %7s %7d  %s\n", r.pol, r.refresh, w.dev * 100,
                    ("s" + std::to_string(w.server)).c_str(), w.second, r.target ? (met ? "met" : "MISSED") : "-");
    }
    std::printf("p2c target (every server within +-10%% of its share every second after warm-up): %s\n",
                ok ? "met" : "MISSED");
    return 0;
}
