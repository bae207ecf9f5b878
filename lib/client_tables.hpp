// The client tables lbpush sends to lbproxy (lbkit.conf(5), Client tables):
// proxymap, charsets, sessions. The checks live here because both sides run
// them: lbproxy on every table it is sent or reads from --proxymap, lbpush
// before it sends one, so a bad table gets the same NAME:LINE reason from
// either and is never pushed. lbproxy uses the proxy map (parse_proxymap);
// charsets and sessions are checked here for lbpush but not used yet.
//   proxymap:  pattern  proxy[,proxy...]|DIRECT   (pattern: host, *.domain, *)
//   charsets:  host  charset                      (a name iconv knows)
//   sessions:  site  start-path  end-path  [master host:port]
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "addr.hpp"

namespace lbkit::client_tables {

const std::vector<std::string>& names();
bool known(const std::string& name);

// Parses and checks the text of table `name`; returns the number of rows.
// Throws BadInput("SOURCE:LINE: reason") and refuses the whole table;
// SOURCE is the file the text came from (lbpush), else the table's name.
std::size_t validate(const std::string& name, const std::string& text, const std::string& source = "");

// A proxy of the proxy map as written: host:port, or a name without a port,
// which is a representative name when the state has such a group and
// otherwise a host with the default port.
inline constexpr uint16_t default_proxy_port = 3128;
struct ProxyEntry {
    std::string text;         // as written
    HostPort address;         // the port defaulted to 3128
    std::string name;         // address.str(): "host:port", as states, history and metrics name it
    bool port_given = false;  // with a port it is never a group
};

struct ProxyRule {
    int line = 0;
    std::string pattern;      // in lower case: "host", "*.domain" or "*"
    bool direct = false;      // DIRECT: no proxies
    std::vector<ProxyEntry> proxies;
};

// The proxy map's rules in table order; source names it in errors
// (a file name, or "proxymap" for a pushed table). Throws
// BadInput("SOURCE:LINE: reason") as validate.
std::vector<ProxyRule> parse_proxymap(const std::string& text, const std::string& source);

}  // namespace lbkit::client_tables
