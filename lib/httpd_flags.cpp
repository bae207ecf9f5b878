#include "httpd_flags.hpp"

#include "cli.hpp"
#include "error.hpp"

namespace lbkit::httpd {

void add_limit_flags(CLI::App& app, Limits& limits, const std::string& prefix, const std::string& listener)
{
    limits.flag_prefix = "--" + prefix;
    cli::add_duration(app, limits.flag_prefix + "header-timeout", limits.header_timeout,
                      "Time allowed for a client of " + listener + " to send a request, head and body");
    cli::add_duration(app, limits.flag_prefix + "idle-timeout", limits.idle_timeout,
                      "Idle time after which a keep-alive connection to " + listener + " is closed");
    app.add_option(limits.flag_prefix + "max-connections", limits.max_connections,
                   "Connections " + listener + " keeps open; beyond, new ones wait until one closes")
        ->check(cli::positive)
        ->capture_default_str();
}

void check_limits(const Limits& limits)
{
    for (auto [name, d] : {std::pair{"header-timeout", limits.header_timeout}, {"idle-timeout", limits.idle_timeout}})
        if (d.count() <= 0)
            throw Error(EX_USAGE, limits.flag_prefix + name + ": must be more than zero");
    if (limits.max_connections == 0)
        throw Error(EX_USAGE, limits.flag_prefix + "max-connections: must be more than zero");
}

}  // namespace lbkit::httpd
