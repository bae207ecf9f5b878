// Addresses as the tables and the command lines write them: "host",
// "host:port", "[v6]:port", "10.0.0.0/8".
#pragma once
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <vector>

namespace lbkit {

struct HostPort {
    std::string host;  // without brackets
    uint16_t port = 0;
    // "host:port", with brackets around an IPv6 literal.
    std::string str() const;
};

// Throws BadInput with a sentence ("bad port '99999' in 'a:99999'").
HostPort parse_host_port(const std::string& text, uint16_t default_port);

// A web server as every table, API path and command names it (lbkit.conf(5)):
// "host:port", or "host" meaning port 80.
inline constexpr uint16_t http_port = 80;
inline HostPort server_address(const std::string& name) { return parse_host_port(name, http_port); }

// Numeric "ip:port" strings for every address the name resolves to
// (getaddrinfo, TCP). Throws BadInput("cannot resolve 'x': ...").
std::vector<std::string> resolve(const HostPort& hp);

// Numeric form of a socket address: "127.0.0.1:80", "[::1]:80".
std::string sockaddr_str(const sockaddr* sa);
std::string sockaddr_ip(const sockaddr* sa);

bool is_loopback(const std::string& host);

// A daemon's URL as every tool takes it (--state-server, --report, lbctl
// -s): "host:port" means "http://host:port"; http and https only; no
// trailing '/'. A path, when given, is kept. Throws BadInput("'ftp://x':
// expected host:port or http://host:port").
std::string http_base_url(const std::string& text);

class Cidr {
public:
    static Cidr parse(const std::string& text);  // throws BadInput
    bool contains(const sockaddr* sa) const;
    std::string str() const { return text_; }

private:
    int family_ = 0;
    unsigned char addr_[16] = {};
    int prefix_ = 0;
    std::string text_;
};

}  // namespace lbkit
