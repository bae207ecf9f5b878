#include "watch.hpp"

#include <arpa/inet.h>

#include <map>
#include <unordered_map>

#include "error.hpp"
#include "table.hpp"

namespace lbsniff {

using lbkit::BadInput;
using lbkit::Error;

namespace {

constexpr uint16_t http_port = 80;

void add_entry(std::vector<WatchEntry>& out, std::map<std::string, std::string>& seen, WatchEntry e)
{
    auto [it, fresh] = seen.emplace(e.name, e.where);
    if (!fresh)
        throw BadInput(e.where + ": server '" + e.name + "' is already watched (" + it->second + ")");
    out.push_back(std::move(e));
}

}  // namespace

std::vector<WatchEntry> load_watch_list(const std::vector<std::string>& flags, const std::string& file)
{
    std::vector<WatchEntry> out;
    std::map<std::string, std::string> seen;
    try {
        for (const auto& w : flags)
            add_entry(out, seen, WatchEntry{w, lbkit::parse_host_port(w, http_port), "--watch"});
    } catch (const BadInput& e) {
        throw Error(EX_USAGE, "--watch: " + std::string(e.what()));
    }
    if (file.empty())
        return out;
    lbkit::table::Table t = lbkit::table::load(file);  // Error(EX_NOINPUT) when unreadable
    try {
        for (const auto& row : t.rows) {
            lbkit::table::expect_columns(t, row, 1, 2, "server [host:port]");
            const std::string& addr = row.fields.back();
            std::string where = t.source + ":" + std::to_string(row.line);
            try {
                add_entry(out, seen, WatchEntry{row.fields[0], lbkit::parse_host_port(addr, http_port), where});
                if (row.fields.size() == 2)
                    lbkit::parse_host_port(row.fields[0], http_port);  // the name must be a server name too
            } catch (const BadInput& e) {
                if (std::string(e.what()).rfind(where, 0) == 0)
                    throw;
                lbkit::table::fail(t, row, e.what());
            }
        }
    } catch (const BadInput& e) {
        throw Error(EX_CONFIG, e.what());
    }
    return out;
}

Endpoint parse_endpoint(const std::string& text)
{
    lbkit::HostPort hp = lbkit::parse_host_port(text, 0);
    unsigned char ip[16];
    if (inet_pton(AF_INET, hp.host.c_str(), ip) == 1)
        return make_endpoint(ip, 4, hp.port);
    if (inet_pton(AF_INET6, hp.host.c_str(), ip) == 1)
        return make_endpoint(ip, 6, hp.port);
    throw BadInput("'" + text + "' is not a numeric address");
}

std::vector<ServerSpec> resolve_watch_list(const std::vector<WatchEntry>& entries)
{
    std::vector<ServerSpec> out;
    std::unordered_map<Endpoint, std::string, EndpointHash> owner;  // -> server name
    for (const auto& e : entries) {
        ServerSpec spec{e.name, {}};
        std::vector<std::string> addrs;
        try {
            addrs = lbkit::resolve(e.addr);
        } catch (const BadInput& err) {
            throw Error(EX_NOHOST, "watch " + e.name + " (" + e.where + "): " + err.what());
        }
        for (const auto& a : addrs) {
            Endpoint ep = parse_endpoint(a);
            auto [it, fresh] = owner.emplace(ep, e.name);
            if (!fresh)
                throw Error(EX_CONFIG, "watch " + e.name + " (" + e.where + "): address " + a +
                                           " is already watched as " + it->second);
            spec.endpoints.push_back(ep);
        }
        out.push_back(std::move(spec));
    }
    return out;
}

}  // namespace lbsniff
