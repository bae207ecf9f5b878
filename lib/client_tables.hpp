// The client tables lbpush sends to lbproxy (lbkit.conf(5), Client tables):
// proxymap, charsets, sessions. The checks live here because both sides run
// them: lbproxy on every table it is sent, lbpush before it sends one, so a
// bad table gets the same NAME:LINE reason from either and is never pushed.
//   proxymap:  pattern  proxy[,proxy...]|DIRECT   (pattern: host, *.domain, *)
//   charsets:  host  charset                      (a name iconv knows)
//   sessions:  site  start-path  end-path  [master host:port]
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace lbkit::client_tables {

const std::vector<std::string>& names();
bool known(const std::string& name);

// Parses and checks the text of table `name`; returns the number of rows.
// Throws BadInput("SOURCE:LINE: reason") and refuses the whole table;
// SOURCE is the file the text came from (lbpush), else the table's name.
std::size_t validate(const std::string& name, const std::string& text, const std::string& source = "");

}  // namespace lbkit::client_tables
