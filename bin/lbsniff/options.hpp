// lbsniff's command line: one struct, one function that declares every flag
// (the man page's OPTIONS follow the same order).
#pragma once
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli.hpp"
#include "addr.hpp"
#include "engine.hpp"
#include "httpd.hpp"

namespace lbsniff {

struct Probe {
    enum Kind { none, tcp, http } kind = none;
    std::string path;  // for http: "/health"
};

struct Options : lbkit::cli::Common {
    std::string interface;             // -i
    std::string read_file;             // -r ("-" = stdin)
    std::vector<std::string> watch;    // --watch HOST:PORT
    std::string watch_file;
    std::string watch_from;            // --watch-from URL: lbstated's groups table
    std::vector<std::string> watch_net;  // --watch-net CIDR (repeatable)
    std::string watch_from_base;       // checked: http://host:port
    std::vector<lbkit::Cidr> watch_nets;
    std::string filter;                // --filter EXPR, and-ed with the watch list
    int snaplen = 256;
    std::string buffer = "4M";         // kernel capture buffer
    long buffer_bytes = 4L << 20;
    bool no_promisc = false;
    lbkit::Millis interval{1000};
    lbkit::Millis syn_timeout{2000};
    int down_after = 3;
    int up_after = 2;
    Metric metric = Metric::packets;
    std::vector<std::string> report;   // lbstated URLs
    std::string token_file;
    std::string notifier;              // default: host name
    bool to_stdout = false;
    std::string probe_text;
    Probe probe;
    lbkit::Millis probe_interval{5000};
    std::string user;                  // -Z
    std::string listen;                // --listen; empty: no HTTP endpoint
    lbkit::httpd::Limits listen_limits;  // --header-timeout, --idle-timeout, --max-connections
    std::size_t max_flows = 1 << 16;
    bool check_only = false;           // -n
    bool print_filter = false;
};

void add_options(CLI::App& app, Options& o);
// Cross-flag checks CLI11 cannot express; throws Error(EX_USAGE).
void validate(Options& o);

// "4M", "512k", "1048576" -> bytes; throws BadInput.
long parse_size(const std::string& text);
Probe parse_probe(const std::string& text);  // throws BadInput

}  // namespace lbsniff
