// The client tables lbpush sends to lbproxy (lbkit.conf(5), Client tables): proxymap,
// charsets, sessions. Here they are checked line by line and kept with their
// version in SQLite; this release does not use them yet (lbproxy(8)).
//   proxymap:  pattern  proxy[,proxy...]|DIRECT   (pattern: host, *.domain, *)
//   charsets:  host  charset                      (a name iconv knows)
//   sessions:  site  start-path  end-path  [master host:port]
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace lbproxy::client_tables {

const std::vector<std::string>& names();
bool known(const std::string& name);

// Parses and checks the text of table `name`; returns the number of rows.
// Throws BadInput("NAME:LINE: reason") and refuses the whole table.
std::size_t validate(const std::string& name, const std::string& text);

}  // namespace lbproxy::client_tables
