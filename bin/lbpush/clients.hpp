// The lbproxy instances lbpush sends a table to: their admin addresses from
// the command line and from a --clients file (one per line, '#' comments,
// blank lines), as "host:port" or "http://host:port".
#pragma once
#include <string>
#include <vector>

namespace lbpush {

struct Client {
    std::string name;  // as the user wrote it: what the report shows
    std::string url;   // the admin API's base URL, "http://host:port"
};

// The clients of `file` (when not empty), then those of `args`, each once.
// Throws Error: EX_USAGE for a bad address in args or no client at all,
// EX_NOINPUT when file cannot be read, EX_DATAERR ("FILE:LINE: ...") for a
// bad line in it.
std::vector<Client> gather(const std::string& file, const std::vector<std::string>& args);

}  // namespace lbpush
