#include "select.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "error.hpp"

namespace lbkit::select {
namespace {

bool eligible(const Candidate& c, api::State wanted)
{
    return c.state == wanted && !c.draining && !c.suspect && !c.ejected && c.ratio > 0;
}

// Indexes of the servers a policy may choose from: those up, or when none
// is up, those whose state is unknown (stale reports).
std::vector<int> pool(std::span<const Candidate> servers)
{
    std::vector<int> out;
    for (api::State wanted : {api::State::up, api::State::unknown}) {
        for (std::size_t i = 0; i < servers.size(); ++i)
            if (eligible(servers[i], wanted))
                out.push_back(static_cast<int>(i));
        if (!out.empty())
            break;
    }
    return out;
}

// The ratio a server is chosen by: its configured ratio, scaled down while
// it ramps up after coming back (slow start).
double effective_ratio(const Candidate& c)
{
    return c.ratio * c.ramp;
}

double p2c_cost(const Candidate& c)
{
    return (c.load + c.inflight) / effective_ratio(c);
}

int least(std::span<const Candidate> s, const std::vector<int>& idx, std::mt19937_64& rng)
{
    double best = std::numeric_limits<double>::infinity();
    std::vector<int> ties;
    for (int i : idx) {
        double r = relative_load(s[static_cast<std::size_t>(i)]);
        if (r < best) {
            best = r;
            ties.assign(1, i);
        } else if (r == best) {
            ties.push_back(i);
        }
    }
    if (ties.size() == 1)
        return ties[0];
    return ties[std::uniform_int_distribution<std::size_t>(0, ties.size() - 1)(rng)];
}

int weighted(std::span<const Candidate> s, const std::vector<int>& idx, std::mt19937_64& rng)
{
    double total = 0;
    for (int i : idx)
        total += effective_ratio(s[static_cast<std::size_t>(i)]);
    double x = std::uniform_real_distribution<double>(0, total)(rng);
    for (int i : idx) {
        x -= effective_ratio(s[static_cast<std::size_t>(i)]);
        if (x < 0)
            return i;
    }
    return idx.back();
}

// Power of two choices. Two candidates are drawn in proportion to their
// ratio, with replacement (the same one twice is chosen as it is), and the
// one with the lower cost, (load + in-flight) / ratio, wins with probability
// other cost / (sum of both costs). Drawing with replacement is what makes
// equal relative loads give exactly the ratio shares; its price is that a
// busy server still gets (ratio / total ratio)^2 of the requests.
// The soft comparison is what breaks the herd: every proxy holds the same
// load figures for a whole update interval, and a hard "lower wins" would
// send all of them to the same server and starve the most loaded one; with
// it, a server above its share loses in proportion to the excess, and at
// equal relative loads each server gets its ratio share.
int p2c(std::span<const Candidate> s, const std::vector<int>& idx, std::mt19937_64& rng)
{
    int a = weighted(s, idx, rng);
    int b = weighted(s, idx, rng);
    if (a == b)
        return a;
    double ca = p2c_cost(s[static_cast<std::size_t>(a)]), cb = p2c_cost(s[static_cast<std::size_t>(b)]);
    if (ca + cb <= 0)
        return a;  // both idle: the ratio-weighted draw decides
    return std::uniform_real_distribution<double>(0, ca + cb)(rng) < cb ? a : b;
}

// adaptive's weight of a server: the ratio, scaled by the slow-start ramp
// and by the share factor adapt() learned from the loads of up servers.
double adaptive_weight(const Candidate& c)
{
    return effective_ratio(c) * (c.state == api::State::up ? c.share : 1.0);
}

// The server whose requests from this selector lag its weight the most:
// cost = (sent since the figure + in flight + e) / weight share, e drawn
// from an exponential distribution of mean 1. Sent-since-figure makes one selector's shares follow the weights
// exactly over a figure's life instead of with the noise of a random draw;
// in-flight counts again what a server has not answered yet, so a server
// that turns slow receives less before its load figure says so; e makes the
// first choice after a new figure a draw in proportion to the weights (the
// smallest e / weight of independent exponentials falls on each server with
// the probability of its weight), since every selector makes it at once.
int adaptive(std::span<const Candidate> s, const std::vector<int>& idx, std::mt19937_64& rng)
{
    double total = 0;
    for (int i : idx)
        total += adaptive_weight(s[static_cast<std::size_t>(i)]);
    std::exponential_distribution<double> e(1.0);
    int best = -1;
    double best_cost = std::numeric_limits<double>::infinity();
    for (int i : idx) {
        const Candidate& c = s[static_cast<std::size_t>(i)];
        double w = adaptive_weight(c) / total;
        if (w <= 0)
            continue;
        double cost = (c.sent_since_figure + c.inflight + e(rng)) / w;
        if (cost < best_cost) {
            best_cost = cost;
            best = i;
        }
    }
    return best;
}

// adapt() reads a load figure with a model: a server's load is what the
// selectors sent it (its share s of their total, P) plus load from
// elsewhere, F: L = s P + F. The share each server had is known (every
// selector computes the same shares from the same figures, so its own stand
// for all); P is taken from the server with the least load per share (the
// one with no foreign load; only among those not shunned, whose few
// requests say nothing), and F follows for every server. The new shares
// fill the servers up to one common relative load, (F + a) / ratio, the way
// water fills a vessel with an uneven floor. Unexplained load below a
// quarter of what a server was sent is measurement noise and ignored, so
// that a small sampling wobble does not move the shares. A share never
// falls below share_floor of the ratio share, so that a server that
// recovers gets its share back with the next figure, not gradually.
constexpr double noise_band = 0.25;
constexpr double share_floor = 0.02;

// The common level lambda where sum(max(0, lambda r_i - f_i)) = total.
double water_level(const std::vector<double>& r, const std::vector<double>& f, double total)
{
    std::vector<std::size_t> order(r.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return f[a] / r[a] < f[b] / r[b]; });
    double sum_r = 0, sum_f = 0, level = 0;
    for (std::size_t k = 0; k < order.size(); ++k) {
        sum_r += r[order[k]];
        sum_f += f[order[k]];
        level = (total + sum_f) / sum_r;
        if (k + 1 == order.size() || level <= f[order[k + 1]] / r[order[k + 1]])
            break;
    }
    return level;
}

}  // namespace

void adapt(std::span<Candidate> servers)
{
    std::vector<std::size_t> idx;
    double total_load = 0, total_ratio = 0, total_weight = 0;
    for (std::size_t i = 0; i < servers.size(); ++i) {
        const Candidate& c = servers[i];
        if (!eligible(c, api::State::up))
            continue;  // the selectors sent it nothing: its figure says nothing of them
        idx.push_back(i);
        total_load += c.load;
        total_ratio += effective_ratio(c);
        total_weight += effective_ratio(c) * c.share;
    }
    if (idx.size() < 2 || total_weight <= 0)
        return;
    if (total_load <= 0) {
        // Nobody loads any server, from here or elsewhere: the ratio shares.
        for (std::size_t i : idx)
            servers[i].share = 1;
        return;
    }
    std::vector<double> r, s, load;
    double sent = std::numeric_limits<double>::infinity();
    for (std::size_t i : idx) {
        const Candidate& c = servers[i];
        r.push_back(effective_ratio(c));
        s.push_back(effective_ratio(c) * c.share / total_weight);
        load.push_back(c.load);
        // A shunned server received a few requests or none in the figure's
        // interval: its load per share is noise, not a measure of P.
        if (c.share >= 0.5)
            sent = std::min(sent, c.load / s.back());
    }
    // Some server the proxies sent requests shows no load: they were idle, or
    // their requests are lost in the others' load. Their part is then taken
    // as a server's mean load, so load from elsewhere still weighs.
    if (!std::isfinite(sent) || sent <= 0)
        sent = total_load / static_cast<double>(idx.size());
    std::vector<double> foreign;
    for (std::size_t k = 0; k < idx.size(); ++k)
        foreign.push_back(std::max(0.0, load[k] - s[k] * sent * (1 + noise_band)));
    double level = water_level(r, foreign, sent);
    for (std::size_t k = 0; k < idx.size(); ++k) {
        double a = std::max(0.0, level * r[k] - foreign[k]);
        servers[idx[k]].share = std::max(share_floor, (a / sent) / (r[k] / total_ratio));
    }
}

Policy policy_from_string(const std::string& s)
{
    if (s == "least") return Policy::least;
    if (s == "p2c") return Policy::p2c;
    if (s == "weighted") return Policy::weighted;
    if (s == "central") return Policy::central;
    if (s == "adaptive") return Policy::adaptive;
    throw BadInput("unknown policy '" + s + "' (adaptive, least, p2c, weighted or central)");
}

const char* to_string(Policy p)
{
    switch (p) {
    case Policy::least: return "least";
    case Policy::p2c: return "p2c";
    case Policy::weighted: return "weighted";
    case Policy::central: return "central";
    case Policy::adaptive: return "adaptive";
    }
    return "adaptive";
}

double relative_load(const Candidate& c)
{
    return c.load / effective_ratio(c);
}

int choose(Policy policy, std::span<const Candidate> servers, std::mt19937_64& rng)
{
    std::vector<int> idx = pool(servers);
    if (idx.empty())
        return -1;
    switch (policy) {
    case Policy::least: return least(servers, idx, rng);
    case Policy::weighted: return weighted(servers, idx, rng);
    case Policy::adaptive: return adaptive(servers, idx, rng);
    case Policy::p2c:
    case Policy::central:  // asked of lbstated; p2c when it cannot be asked
        return p2c(servers, idx, rng);
    }
    return -1;
}

std::string explain_none(const std::string& group, std::span<const Candidate> servers)
{
    if (servers.empty())
        return "no server of group " + group + " is up (the group has no servers)";
    int down = 0, pinned_down = 0, draining = 0, suspect = 0, ejected = 0, unknown = 0;
    for (const auto& c : servers) {
        if (c.state == api::State::down) (c.pinned ? pinned_down : down)++;
        else if (c.draining) draining++;
        else if (c.suspect) suspect++;
        else if (c.ejected) ejected++;
        else if (c.state == api::State::unknown) unknown++;
    }
    std::string detail;
    auto add = [&](int n, const char* what) {
        if (n == 0) return;
        if (!detail.empty()) detail += ", ";
        detail += std::to_string(n) + " " + what;
    };
    add(down, "down");
    add(pinned_down, "pinned down");
    add(draining, "draining");
    add(suspect, "failing to connect");
    add(ejected, "ejected");
    add(unknown, "unknown");
    return "no server of group " + group + " is up (" + std::to_string(servers.size()) + " known: " + detail + ")";
}

}  // namespace lbkit::select
