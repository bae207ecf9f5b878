// A PAC file (Proxy Auto-Config, FindProxyForURL) from the proxy map an
// lbproxy has in force (GET /v1/proxymap), for machines that run no
// lbproxy: the same first match, the proxies in the order lbproxy would try
// them when the file was made.
#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace lbctl {

// `map` is the answer of GET /v1/proxymap; `from` the URL it came from and
// `now_ms` the Unix time, both for the header comment.
std::string pac_file(const nlohmann::json& map, const std::string& from, int64_t now_ms);

}  // namespace lbctl
