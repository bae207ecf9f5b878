// The groups table (lbkit.conf(5)): "representative server[:port] ratio",
// several rows per representative name. Loading resolves every server name
// once, so reports that name a server by address (lbsniff measures ip:port)
// find it.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "addr.hpp"
#include "table.hpp"

namespace lbstated {

struct Member {
    std::string server;  // as the table writes it: "web1:8080" or "web1" (port 80)
    double ratio = 1;
};

struct Group {
    std::string name;
    std::vector<Member> members;
};

struct Groups {
    std::vector<Group> groups;
    std::string text;    // the table as loaded, for GET /v1/groups and persistence
    std::string source;  // "FILE" or "api (CLIENT)"
    bool from_api = false;  // set through PUT /v1/groups, not read from a file
    int64_t set_ms = 0;     // Unix ms when this table was read or set
    // "10.0.0.1:80" -> server names with that address.
    std::multimap<std::string, std::string> by_addr;
    std::vector<std::string> warnings;  // "FILE:LINE: cannot resolve ..."

    // Group names are host names: they match in any case, as lbproxy
    // matches them ("WEB.example" finds "web.example").
    const Group* find(const std::string& name) const;
    bool has_server(const std::string& server) const;
    // The groups that list the server, in table order: where a pin or a
    // drain of it applies.
    std::vector<std::string> groups_of(const std::string& server) const;
};

// Host names compare in ASCII lower case, whatever the locale.
bool same_name(const std::string& a, const std::string& b);

// Parses and validates the whole table; rows whose representative names
// differ only in case are one group, named as its first row writes it.
// Throws throws BadInput("SOURCE:LINE: ...")
// and leaves nothing half-loaded. resolve_names=false skips DNS (tests).
Groups parse_groups(const std::string& text, const std::string& source, bool resolve_names = true);

}  // namespace lbstated
