#include "watch_from.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <set>

#include "api.hpp"
#include "error.hpp"
#include "log.hpp"

namespace lbsniff {

using lbkit::BadInput;
using lbkit::Error;
using lbkit::Millis;

namespace {

constexpr uint16_t http_port = 80;
constexpr Millis long_poll{30000};      // lbstated allows up to 60 s
constexpr Millis min_gap{1000};         // the state changes with every report: read the table at most this often
constexpr Millis retry_after{5000};

// "10.0.0.1:80" or "[::1]:80" as lbkit::resolve gives it.
bool in_nets(const std::string& ip_port, const std::vector<lbkit::Cidr>& nets)
{
    lbkit::HostPort hp = lbkit::parse_host_port(ip_port, 0);
    sockaddr_storage ss{};
    auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
    if (inet_pton(AF_INET, hp.host.c_str(), &v4->sin_addr) == 1)
        ss.ss_family = AF_INET;
    else if (inet_pton(AF_INET6, hp.host.c_str(), &v6->sin6_addr) == 1)
        ss.ss_family = AF_INET6;
    else
        return false;
    return std::any_of(nets.begin(), nets.end(),
                       [&](const lbkit::Cidr& c) { return c.contains(reinterpret_cast<sockaddr*>(&ss)); });
}

std::string groups_url(const std::string& base) { return base + "/v1/groups"; }

}  // namespace

std::vector<std::string> group_servers(const nlohmann::json& doc)
{
    if (!doc.is_object() || !doc.contains("groups") || !doc["groups"].is_array())
        throw BadInput("not a groups table (no \"groups\" list)");
    std::vector<std::string> out;
    std::set<std::string> seen;
    for (const auto& g : doc["groups"]) {
        if (!g.is_object() || !g.contains("servers") || !g["servers"].is_array())
            throw BadInput("a group without a \"servers\" list");
        for (const auto& s : g["servers"]) {
            std::string name = lbkit::api::get_string(s, "server", "groups");
            if (seen.insert(name).second)
                out.push_back(name);
        }
    }
    return out;
}

std::vector<std::string> fetch_group_servers(const std::string& base_url)
{
    lbkit::httpc::Request req;
    req.url = groups_url(base_url);
    lbkit::httpc::Result r = lbkit::httpc::fetch(req);
    if (!r.ok())
        throw Error(EX_UNAVAILABLE, "--watch-from " + req.url + ": " + r.describe());
    try {
        auto doc = nlohmann::json::parse(r.body, nullptr, false);
        return group_servers(doc);
    } catch (const BadInput& e) {
        throw Error(EX_UNAVAILABLE, "--watch-from " + req.url + ": " + e.what());
    }
}

std::vector<WatchEntry> watch_entries_from_groups(const std::vector<std::string>& servers,
                                                  const std::vector<lbkit::Cidr>& nets,
                                                  const std::vector<WatchEntry>& present, const std::string& url)
{
    std::vector<WatchEntry> out;
    const std::string where = "--watch-from " + url;
    for (const auto& name : servers) {
        if (std::any_of(present.begin(), present.end(), [&](const WatchEntry& e) { return e.name == name; }))
            continue;
        lbkit::HostPort hp;
        std::vector<std::string> addrs;
        try {
            hp = lbkit::parse_host_port(name, http_port);
            addrs = lbkit::resolve(hp);
        } catch (const BadInput& e) {
            throw Error(EX_NOHOST, "watch " + name + " (" + where + "): " + e.what());
        }
        if (nets.empty() || std::any_of(addrs.begin(), addrs.end(), [&](const auto& a) { return in_nets(a, nets); }))
            out.push_back(WatchEntry{name, hp, where});
    }
    return out;
}

GroupsFollower::GroupsFollower(lbkit::Loop& loop, lbkit::httpc::Client& http, std::string base_url,
                               std::vector<std::string> servers,
                               std::function<void(const std::vector<std::string>&)> on_change)
    : http_(http), base_(std::move(base_url)), servers_(std::move(servers)), on_change_(std::move(on_change)),
      pause_(loop, [this] { poll(); })
{
}

void GroupsFollower::start()
{
    poll();
}

void GroupsFollower::poll()
{
    lbkit::httpc::Request req;
    req.url = base_ + "/v1/state";
    if (have_version_)
        req.url += "?since=" + std::to_string(version_) + "&wait=" + std::to_string(long_poll.count()) + "ms";
    req.timeout = long_poll + Millis{10000};
    http_.start(std::move(req), [this](const lbkit::httpc::Result& r) { polled(r); });
}

void GroupsFollower::polled(const lbkit::httpc::Result& r)
{
    if (!r.ok())
        return failed(base_ + "/v1/state", r);
    auto doc = nlohmann::json::parse(r.body, nullptr, false);
    if (!doc.is_object() || !doc.contains("version") || !doc["version"].is_number_unsigned())
        return failed(base_ + "/v1/state", lbkit::httpc::Result{r.status, "", "an answer without a version", 0});
    const uint64_t version = doc["version"].get<uint64_t>();
    const bool news = !have_version_ || version != version_;
    version_ = version;
    have_version_ = true;
    if (news)
        read_groups();
    else
        poll();
}

void GroupsFollower::read_groups()
{
    lbkit::httpc::Request req;
    req.url = groups_url(base_);
    http_.start(std::move(req), [this](const lbkit::httpc::Result& r) {
        if (!r.ok())
            return failed(groups_url(base_), r);
        std::vector<std::string> servers;
        try {
            servers = group_servers(nlohmann::json::parse(r.body, nullptr, false));
        } catch (const BadInput& e) {
            return failed(groups_url(base_), lbkit::httpc::Result{r.status, "", e.what(), 0});
        }
        if (failing_)
            lbkit::log::info("--watch-from ", base_, ": reachable again");
        failing_ = false;
        if (servers != servers_) {
            servers_ = servers;
            on_change_(servers_);
        }
        pause_.start(min_gap);
    });
}

void GroupsFollower::failed(const std::string& what, const lbkit::httpc::Result& r)
{
    if (!failing_)
        lbkit::log::warn("--watch-from ", what, ": ", r.describe(), ": keeping the watch list in force, retrying");
    failing_ = true;
    have_version_ = false;
    pause_.start(retry_after);
}

}  // namespace lbsniff
