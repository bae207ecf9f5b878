// The data path's command-line options (--allow, --connect-ports,
// --host-header, --max-header, --max-connections and the timeouts) and their
// checked form.
#pragma once
#include <sys/socket.h>

#include <event2/event.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "addr.hpp"
#include "duration.hpp"
#include "http/relay_limits.hpp"

namespace lbproxy {

struct ProxyOptions {
    std::vector<std::string> allow;        // --allow CIDR (repeatable); empty: loopback
    std::string connect_ports = "443";     // --connect-ports LIST
    std::string host_header = "original";  // --host-header original|server
    std::size_t max_header = 64 * 1024;    // --max-header BYTES
    lbkit::Millis connect_timeout{5000};   // --connect-timeout
    lbkit::Millis header_timeout{10000};   // --header-timeout
    lbkit::Millis idle_timeout{60000};     // --idle-timeout
    lbkit::Millis server_timeout{60000};   // --server-timeout
    std::size_t pool_size = 128;           // --pool-size: idle connections kept per server
    std::size_t max_connections = 16384;   // --max-connections: open client connections
};

void add_proxy_options(CLI::App& app, ProxyOptions& o);

struct ProxyConfig {
    lbkit::HostPort listen;
    std::vector<lbkit::Cidr> allow;
    std::vector<std::pair<uint16_t, uint16_t>> connect_ports;  // inclusive ranges
    std::size_t max_header = 64 * 1024;
    lbkit::Millis connect_timeout{5000}, header_timeout{10000}, idle_timeout{60000}, server_timeout{60000};
    std::size_t pool_size = 128;
    std::size_t max_connections = 16384;
    // --host-header server: a chosen server gets its own name as Host, not
    // the representative name the client asked for.
    bool host_of_server = false;

    // The relay engine's limits, its timers as base's common timeouts.
    lbkit::http::RelayLimits relay_limits(event_base* base) const;

    bool allowed(const sockaddr* peer) const;
    bool connect_port_ok(uint16_t port) const;
    std::string connect_ports_text() const;
};

// Checks the options; throws lbkit::Error(EX_USAGE) naming the flag and the value.
ProxyConfig make_config(const ProxyOptions& o, const std::string& listen);

// "443,8443,9000-9100" -> ranges; throws BadInput.
std::vector<std::pair<uint16_t, uint16_t>> parse_port_list(const std::string& text);

}  // namespace lbproxy
