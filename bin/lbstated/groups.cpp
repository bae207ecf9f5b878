#include "groups.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <set>

#include "error.hpp"

namespace lbstated {

bool same_name(const std::string& a, const std::string& b)
{
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [&](char x, char y) {
               return lower(x) == lower(y);
           });
}

const Group* Groups::find(const std::string& name) const
{
    for (const auto& g : groups)
        if (same_name(g.name, name))
            return &g;
    return nullptr;
}

bool Groups::has_server(const std::string& server) const
{
    for (const auto& g : groups)
        for (const auto& m : g.members)
            if (m.server == server)
                return true;
    return false;
}

std::vector<std::string> Groups::groups_of(const std::string& server) const
{
    std::vector<std::string> out;
    for (const auto& g : groups)
        for (const auto& m : g.members)
            if (m.server == server)
                out.push_back(g.name);
    return out;
}

namespace {

double parse_ratio(const lbkit::table::Table& t, const lbkit::table::Row& r, const std::string& text)
{
    char* end = nullptr;
    double v = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0' || !std::isfinite(v))
        lbkit::table::fail(t, r, "ratio '" + text + "' is not a number");
    if (v <= 0)
        lbkit::table::fail(t, r, "ratio must be > 0");
    if (v > 1e6)
        lbkit::table::fail(t, r, "ratio must be at most 1000000");
    return v;
}

void check_name(const lbkit::table::Table& t, const lbkit::table::Row& r, const std::string& name)
{
    try {
        lbkit::server_address(name);
    } catch (const lbkit::BadInput& e) {
        lbkit::table::fail(t, r, e.what());
    }
}

}  // namespace

Groups parse_groups(const std::string& text, const std::string& source, bool resolve_names)
{
    auto table = lbkit::table::parse(text, source);
    Groups out;
    out.text = text;
    out.source = source;
    std::set<std::pair<std::string, std::string>> seen;
    std::set<std::string> resolved;
    for (const auto& row : table.rows) {
        lbkit::table::expect_columns(table, row, 3, 3, "representative server[:port] ratio");
        const std::string& rep = row.fields[0];
        const std::string& server = row.fields[1];
        if (rep.find(':') != std::string::npos)
            lbkit::table::fail(table, row, "representative name '" + rep + "' must not have a port");
        check_name(table, row, rep);
        check_name(table, row, server);
        double ratio = parse_ratio(table, row, row.fields[2]);
        Group* g = nullptr;
        for (auto& existing : out.groups)
            if (same_name(existing.name, rep)) g = &existing;
        if (!g) {
            out.groups.push_back(Group{rep, {}});
            g = &out.groups.back();
        }
        if (!seen.emplace(g->name, server).second)
            lbkit::table::fail(table, row, "server " + server + " is listed twice in group " + g->name);
        g->members.push_back(Member{server, ratio});
        if (!resolve_names || !resolved.insert(server).second)
            continue;
        try {
            for (const auto& addr : lbkit::resolve(lbkit::server_address(server)))
                out.by_addr.emplace(addr, server);
        } catch (const lbkit::BadInput& e) {
            // Reports can still name the server as the table does.
            out.warnings.push_back(source + ":" + std::to_string(row.line) + ": " + e.what());
        }
    }
    return out;
}

}  // namespace lbstated
