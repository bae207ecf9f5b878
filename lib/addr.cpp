#include "addr.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include <cstring>
#include <set>

#include "error.hpp"

namespace lbkit {

std::string HostPort::str() const
{
    if (host.find(':') != std::string::npos)
        return "[" + host + "]:" + std::to_string(port);
    return host + ":" + std::to_string(port);
}

namespace {

uint16_t parse_port(const std::string& p, const std::string& text)
{
    if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos)
        throw BadInput("bad port '" + p + "' in '" + text + "'");
    unsigned long v = std::stoul(p);
    if (v == 0 || v > 65535)
        throw BadInput("bad port '" + p + "' in '" + text + "': must be 1 to 65535");
    return static_cast<uint16_t>(v);
}

bool valid_host(const std::string& h)
{
    if (h.empty() || h.size() > 253)
        return false;
    for (char c : h)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' || c == ':'))
            return false;
    return true;
}

}  // namespace

HostPort parse_host_port(const std::string& text, uint16_t default_port)
{
    HostPort hp;
    std::string port;
    if (!text.empty() && text[0] == '[') {
        auto close = text.find(']');
        if (close == std::string::npos)
            throw BadInput("bad address '" + text + "': missing ']'");
        hp.host = text.substr(1, close - 1);
        if (close + 1 < text.size()) {
            if (text[close + 1] != ':')
                throw BadInput("bad address '" + text + "': expected ':' after ']'");
            port = text.substr(close + 2);
            hp.port = parse_port(port, text);
        }
    } else {
        auto colon = text.rfind(':');
        if (colon != std::string::npos && text.find(':') == colon) {
            hp.host = text.substr(0, colon);
            hp.port = parse_port(text.substr(colon + 1), text);
        } else {
            hp.host = text;  // a bare IPv6 literal has several colons
        }
    }
    if (!valid_host(hp.host))
        throw BadInput("bad host name in '" + text + "'");
    if (hp.port == 0) {
        if (default_port == 0)
            throw BadInput("missing port in '" + text + "'");
        hp.port = default_port;
    }
    return hp;
}

std::vector<std::string> resolve(const HostPort& hp)
{
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    std::string port = std::to_string(hp.port);
    int rc = getaddrinfo(hp.host.c_str(), port.c_str(), &hints, &res);
    if (rc != 0)
        throw BadInput("cannot resolve '" + hp.host + "': " + gai_strerror(rc));
    std::vector<std::string> out;
    std::set<std::string> seen;
    for (auto* ai = res; ai; ai = ai->ai_next) {
        auto s = sockaddr_str(ai->ai_addr);
        if (seen.insert(s).second)
            out.push_back(s);
    }
    freeaddrinfo(res);
    return out;
}

std::string sockaddr_ip(const sockaddr* sa)
{
    char buf[INET6_ADDRSTRLEN] = "?";
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, buf, sizeof buf);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, buf, sizeof buf);
    return buf;
}

std::string sockaddr_str(const sockaddr* sa)
{
    if (sa->sa_family == AF_INET)
        return sockaddr_ip(sa) + ":" + std::to_string(ntohs(reinterpret_cast<const sockaddr_in*>(sa)->sin_port));
    if (sa->sa_family == AF_INET6)
        return "[" + sockaddr_ip(sa) + "]:" + std::to_string(ntohs(reinterpret_cast<const sockaddr_in6*>(sa)->sin6_port));
    return "?";
}

bool is_loopback(const std::string& host)
{
    if (host == "localhost")
        return true;
    in_addr a4;
    if (inet_pton(AF_INET, host.c_str(), &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    in6_addr a6;
    if (inet_pton(AF_INET6, host.c_str(), &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6);
    return false;
}

Cidr Cidr::parse(const std::string& text)
{
    Cidr c;
    c.text_ = text;
    auto slash = text.find('/');
    std::string ip = text.substr(0, slash);
    if (inet_pton(AF_INET, ip.c_str(), c.addr_) == 1) {
        c.family_ = AF_INET;
        c.prefix_ = 32;
    } else if (inet_pton(AF_INET6, ip.c_str(), c.addr_) == 1) {
        c.family_ = AF_INET6;
        c.prefix_ = 128;
    } else {
        throw BadInput("bad network '" + text + "': not an IPv4 or IPv6 address");
    }
    if (slash != std::string::npos) {
        std::string p = text.substr(slash + 1);
        if (p.empty() || p.size() > 3 || p.find_first_not_of("0123456789") != std::string::npos ||
            std::stoi(p) > c.prefix_)
            throw BadInput("bad network '" + text + "': bad prefix length");
        c.prefix_ = std::stoi(p);
    }
    return c;
}

bool Cidr::contains(const sockaddr* sa) const
{
    const unsigned char* a;
    unsigned char mapped[4];
    if (sa->sa_family == AF_INET && family_ == AF_INET) {
        a = reinterpret_cast<const unsigned char*>(&reinterpret_cast<const sockaddr_in*>(sa)->sin_addr);
    } else if (sa->sa_family == AF_INET6) {
        auto* a6 = &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr;
        if (family_ == AF_INET && IN6_IS_ADDR_V4MAPPED(a6)) {
            std::memcpy(mapped, a6->s6_addr + 12, 4);
            a = mapped;
        } else if (family_ == AF_INET6) {
            a = a6->s6_addr;
        } else {
            return false;
        }
    } else {
        return false;
    }
    int full = prefix_ / 8, rest = prefix_ % 8;
    if (std::memcmp(a, addr_, full) != 0)
        return false;
    if (rest == 0)
        return true;
    unsigned char mask = static_cast<unsigned char>(0xff << (8 - rest));
    return (a[full] & mask) == (addr_[full] & mask);
}

std::string http_base_url(const std::string& text)
{
    auto bad = [&] { return BadInput("'" + text + "': expected host:port or http://host:port"); };
    std::string url = text.find("://") == std::string::npos ? "http://" + text : text;
    std::size_t scheme = url.find("://");
    std::string name = url.substr(0, scheme);
    if (name != "http" && name != "https")
        throw bad();
    while (url.size() > scheme + 3 && url.back() == '/')
        url.pop_back();
    std::size_t host_end = url.find('/', scheme + 3);
    std::string authority = url.substr(scheme + 3, host_end == std::string::npos ? std::string::npos : host_end - scheme - 3);
    if (authority.empty() || authority.front() == ':' ||
        authority.find_first_of(" \t@?#") != std::string::npos)
        throw bad();
    return url;
}

}  // namespace lbkit
