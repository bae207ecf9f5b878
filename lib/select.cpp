#include "select.hpp"

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

double p2c_cost(const Candidate& c)
{
    return (c.load + c.inflight) / c.ratio;
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
        total += s[static_cast<std::size_t>(i)].ratio;
    double x = std::uniform_real_distribution<double>(0, total)(rng);
    for (int i : idx) {
        x -= s[static_cast<std::size_t>(i)].ratio;
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

}  // namespace

Policy policy_from_string(const std::string& s)
{
    if (s == "least") return Policy::least;
    if (s == "p2c") return Policy::p2c;
    if (s == "weighted") return Policy::weighted;
    if (s == "central") return Policy::central;
    throw BadInput("unknown policy '" + s + "' (least, p2c, weighted or central)");
}

const char* to_string(Policy p)
{
    switch (p) {
    case Policy::least: return "least";
    case Policy::p2c: return "p2c";
    case Policy::weighted: return "weighted";
    case Policy::central: return "central";
    }
    return "p2c";
}

double relative_load(const Candidate& c)
{
    return c.load / c.ratio;
}

int choose(Policy policy, std::span<const Candidate> servers, std::mt19937_64& rng)
{
    std::vector<int> idx = pool(servers);
    if (idx.empty())
        return -1;
    switch (policy) {
    case Policy::least: return least(servers, idx, rng);
    case Policy::weighted: return weighted(servers, idx, rng);
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
    int down = 0, pinned_down = 0, draining = 0, suspect = 0, unknown = 0;
    for (const auto& c : servers) {
        if (c.state == api::State::down) (c.pinned ? pinned_down : down)++;
        else if (c.draining) draining++;
        else if (c.suspect) suspect++;
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
    add(unknown, "unknown");
    return "no server of group " + group + " is up (" + std::to_string(servers.size()) + " known: " + detail + ")";
}

}  // namespace lbkit::select
