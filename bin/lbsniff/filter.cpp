#include "filter.hpp"

#include <netinet/in.h>

#include <set>

namespace lbsniff {
namespace {

std::string with_extra(const std::string& expr, const std::string& extra)
{
    return extra.empty() ? expr : "(" + expr + ") and (" + extra + ")";
}

std::string exact(const std::vector<ServerSpec>& servers)
{
    std::string out;
    for (const auto& s : servers) {
        for (const auto& e : s.endpoints) {
            char ip[INET6_ADDRSTRLEN];
            format_addr(e, ip, sizeof ip);
            std::string port = std::to_string(e.port);
            std::string host = std::string(ip);
            if (!out.empty())
                out += " or ";
            out += "(dst host " + host + " and dst port " + port + ") or (src host " + host +
                   " and src port " + port + ")";
        }
    }
    return out.empty() ? "tcp" : "tcp and (" + out + ")";
}

std::string ports(const std::vector<ServerSpec>& servers)
{
    std::set<uint16_t> seen;
    std::string out;
    for (const auto& s : servers)
        for (const auto& e : s.endpoints)
            if (seen.insert(e.port).second)
                out += (out.empty() ? "" : " or ") + std::string("port ") + std::to_string(e.port);
    return out.empty() ? "tcp" : "tcp and (" + out + ")";
}

}  // namespace

std::vector<std::string> filter_candidates(const std::vector<ServerSpec>& servers, const std::string& extra)
{
    return {with_extra(exact(servers), extra), with_extra(ports(servers), extra), with_extra("tcp", extra)};
}

}  // namespace lbsniff
