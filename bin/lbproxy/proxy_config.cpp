#include "proxy_config.hpp"

#include <charconv>

#include "cli.hpp"
#include "error.hpp"
#include "http/upstream.hpp"

namespace lbproxy {

namespace {

uint16_t parse_port(const std::string& text, const std::string& whole)
{
    unsigned v = 0;
    auto r = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || r.ec != std::errc() || r.ptr != text.data() + text.size() || v == 0 || v > 65535)
        throw lbkit::BadInput("bad port '" + text + "' in '" + whole + "'");
    return uint16_t(v);
}

}  // namespace

void add_proxy_options(CLI::App& app, ProxyOptions& o)
{
    app.add_option("--allow", o.allow,
                   "Client network allowed to use the proxy, CIDR (repeatable; default 127.0.0.0/8 and ::1)");
    app.add_option("--connect-ports", o.connect_ports,
                   "Ports CONNECT may reach: comma-separated ports or ranges (e.g. 443,8443,9000-9100)")
        ->capture_default_str();
    app.add_option("--host-header", o.host_header,
                   "Host header sent to a chosen server: original (as the client sent it) or server (its own name)")
        ->check(CLI::IsMember({"original", "server"}))
        ->capture_default_str();
    app.add_option("--max-header", o.max_header, "Largest request or response head section, bytes (or 64KiB)")
        ->transform(CLI::AsSizeValue(false))
        ->capture_default_str();
    lbkit::cli::add_duration(app, "--connect-timeout", o.connect_timeout, "Time allowed to connect to a server");
    lbkit::cli::add_duration(app, "--header-timeout", o.header_timeout, "Time allowed for a client to send a request head");
    lbkit::cli::add_duration(app, "--idle-timeout", o.idle_timeout,
                        "Idle time after which keep-alive connections (client and server) and tunnels are closed");
    lbkit::cli::add_duration(app, "--server-timeout", o.server_timeout,
                        "Time a server may stay silent while a response is awaited (then 504)");
    app.add_option("--pool-size", o.pool_size, "Idle keep-alive connections kept per server")->capture_default_str();
    app.add_option("--max-connections", o.max_connections,
                   "Client connections open at once; beyond it new ones wait in the kernel's queue")
        ->check(lbkit::cli::positive)
        ->capture_default_str();
}

ProxyConfig make_config(const ProxyOptions& o, const std::string& listen)
{
    ProxyConfig c;
    try {
        c.listen = lbkit::parse_host_port(listen, 3128);
    } catch (const lbkit::BadInput& e) {
        throw lbkit::Error(EX_USAGE, std::string("--listen: ") + e.what());
    }
    std::vector<std::string> allow = o.allow;
    if (allow.empty())
        allow = {"127.0.0.0/8", "::1"};
    for (const auto& a : allow) {
        try {
            c.allow.push_back(lbkit::Cidr::parse(a));
        } catch (const lbkit::BadInput& e) {
            throw lbkit::Error(EX_USAGE, std::string("--allow: ") + e.what());
        }
    }
    try {
        c.connect_ports = parse_port_list(o.connect_ports);
    } catch (const lbkit::BadInput& e) {
        throw lbkit::Error(EX_USAGE, std::string("--connect-ports: ") + e.what());
    }
    if (o.max_header < 1024 || o.max_header > (std::size_t(16) << 20))
        throw lbkit::Error(EX_USAGE, "--max-header: must be between 1KiB and 16MiB");
    for (auto [name, d] : {std::pair{"--connect-timeout", o.connect_timeout}, {"--header-timeout", o.header_timeout},
                           {"--idle-timeout", o.idle_timeout}, {"--server-timeout", o.server_timeout}})
        if (d.count() <= 0)
            throw lbkit::Error(EX_USAGE, std::string(name) + ": must be more than zero");
    c.max_header = o.max_header;
    c.connect_timeout = o.connect_timeout;
    c.header_timeout = o.header_timeout;
    c.idle_timeout = o.idle_timeout;
    c.server_timeout = o.server_timeout;
    c.pool_size = o.pool_size;
    c.max_connections = o.max_connections;
    c.host_of_server = o.host_header == "server";
    return c;
}

std::vector<std::pair<uint16_t, uint16_t>> parse_port_list(const std::string& text)
{
    std::vector<std::pair<uint16_t, uint16_t>> out;
    std::size_t start = 0;
    while (start <= text.size()) {
        auto comma = text.find(',', start);
        std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        auto dash = item.find('-');
        if (dash == std::string::npos) {
            uint16_t p = parse_port(item, text);
            out.emplace_back(p, p);
        } else {
            uint16_t lo = parse_port(item.substr(0, dash), text), hi = parse_port(item.substr(dash + 1), text);
            if (lo > hi)
                throw lbkit::BadInput("bad range '" + item + "' in '" + text + "'");
            out.emplace_back(lo, hi);
        }
        if (comma == std::string::npos)
            break;
        start = comma + 1;
    }
    return out;
}

lbkit::http::RelayLimits ProxyConfig::relay_limits(event_base* base) const
{
    lbkit::http::RelayLimits l;
    l.max_header = max_header;
    l.server_timeout = server_timeout;
    l.idle_timeout = idle_timeout;
    l.idle_tv = lbkit::http::common_timeout(base, idle_timeout);
    l.header_tv = lbkit::http::common_timeout(base, header_timeout);
    l.host_of_server = host_of_server;
    return l;
}

bool ProxyConfig::allowed(const sockaddr* peer) const
{
    for (const auto& c : allow)
        if (c.contains(peer))
            return true;
    return false;
}

bool ProxyConfig::connect_port_ok(uint16_t port) const
{
    for (auto [lo, hi] : connect_ports)
        if (port >= lo && port <= hi)
            return true;
    return false;
}

std::string ProxyConfig::connect_ports_text() const
{
    std::string s;
    for (auto [lo, hi] : connect_ports) {
        if (!s.empty())
            s += ',';
        s += std::to_string(lo);
        if (hi != lo)
            s += '-' + std::to_string(hi);
    }
    return s;
}

}  // namespace lbproxy
