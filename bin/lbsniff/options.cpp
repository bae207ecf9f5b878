#include "options.hpp"

#include <unistd.h>

#include <climits>

#include "addr.hpp"
#include "cli.hpp"
#include "error.hpp"
#include "httpd_flags.hpp"

namespace lbsniff {

using lbkit::BadInput;
using lbkit::Error;

long parse_size(const std::string& text)
{
    std::size_t used = 0;
    long long v = -1;
    try {
        v = std::stoll(text, &used);
    } catch (const std::exception&) {
        v = -1;
    }
    std::string unit = text.substr(used);
    long long mult = unit.empty() ? 1 : unit == "k" || unit == "K" ? 1LL << 10
                   : unit == "m" || unit == "M" ? 1LL << 20 : unit == "g" || unit == "G" ? 1LL << 30 : 0;
    if (v <= 0 || mult == 0 || v > INT_MAX / mult)
        throw BadInput("bad size '" + text + "': expected a number of bytes with an optional k, M or G");
    return long(v * mult);
}

Probe parse_probe(const std::string& text)
{
    Probe p;
    if (text == "none") {
        p.kind = Probe::none;
    } else if (text == "tcp") {
        p.kind = Probe::tcp;
    } else if (text.rfind("http:", 0) == 0 && text.size() > 5 && text[5] == '/') {
        p.kind = Probe::http;
        p.path = text.substr(5);
    } else {
        throw BadInput("bad probe '" + text + "': expected 'tcp', 'http:/PATH' or 'none'");
    }
    return p;
}

namespace {

std::string host_name()
{
    char buf[256] = {};
    if (gethostname(buf, sizeof buf - 1) != 0 || !buf[0])
        return "lbsniff";
    return buf;
}

}  // namespace

void add_options(CLI::App& app, Options& o)
{
    lbkit::cli::add_common(app, o);
    auto* live = app.add_option("-i,--interface", o.interface, "Capture live on IFACE (\"any\": all interfaces)")
                     ->type_name("IFACE");
    app.add_option("-r,--read", o.read_file, "Read a pcap or pcapng file (\"-\": standard input)")
        ->type_name("FILE")->excludes(live);

    app.add_option("--watch", o.watch, "Watch server HOST:PORT (repeatable)")->type_name("HOST:PORT");
    app.add_option("--watch-file", o.watch_file, "Table of watched servers: 'server host:port' rows")
        ->type_name("FILE");
    app.add_option("--watch-from", o.watch_from,
                   "Also watch the servers of lbstated's groups table at URL, followed as it changes")
        ->type_name("URL");
    app.add_option("--watch-net", o.watch_net,
                   "With --watch-from, only the servers whose address is in CIDR (repeatable; default all)")
        ->type_name("CIDR");
    app.add_option("--filter", o.filter, "Extra BPF expression, and-ed with the watch list")->type_name("EXPR");
    app.add_option("--snaplen", o.snaplen, "Bytes captured per packet")->capture_default_str()
        ->check(CLI::Range(68, 262144))->type_name("BYTES");
    app.add_option("--buffer", o.buffer, "Kernel capture buffer size (k, M, G suffixes)")
        ->capture_default_str()->type_name("SIZE");
    app.add_flag("-p,--no-promisc", o.no_promisc, "Do not put the interface in promiscuous mode");

    lbkit::cli::add_duration(app, "--interval", o.interval, "Measurement and report interval");
    app.add_option_function<std::string>("--metric", [&o](const std::string& m) {
           o.metric = m == "bytes" ? Metric::bytes : m == "connections" ? Metric::connections
                    : m == "requests" ? Metric::requests : Metric::packets;
       }, "Counter reported as load, per second")
        ->check(CLI::IsMember({"packets", "bytes", "connections", "requests"}))->default_str("packets")
        ->type_name("METRIC");
    lbkit::cli::add_duration(app, "--syn-timeout", o.syn_timeout, "A SYN unanswered this long counts against");
    app.add_option("--down-after", o.down_after, "Bad signs in a row that make a server down")
        ->capture_default_str()->check(CLI::Range(1, 1000))->type_name("N");
    app.add_option("--up-after", o.up_after, "Good signs in a row that make a server up")
        ->capture_default_str()->check(CLI::Range(1, 1000))->type_name("N");

    app.add_option("--report", o.report, "Send reports to lbstated at URL (repeatable)")->type_name("URL");
    lbkit::cli::add_token_file(app, o.token_file)->type_name("FILE");
    app.add_option("--notifier", o.notifier, "Name in reports (default: the host name)")->type_name("NAME");
    app.add_flag("--stdout", o.to_stdout, "Print one tab-separated line per server and interval");
    app.add_option("--probe", o.probe_text, "Probe quiet servers: tcp, http:/PATH or none (default: tcp with -i)")
        ->type_name("KIND");
    lbkit::cli::add_duration(app, "--probe-interval", o.probe_interval, "Time without traffic before a probe");

    app.add_option("-Z,--user", o.user, "Drop privileges to USER once the capture is open")->type_name("USER");
    app.add_option("--listen", o.listen, "Serve /metrics and /v1/health on ADDR:PORT (default: off)")
        ->type_name("ADDR:PORT");
    lbkit::httpd::add_limit_flags(app, o.listen_limits, "", "the --listen endpoint");
    app.add_flag("--syslog", o.use_syslog, "Log to syslog instead of standard error");
    app.add_option("--max-flows", o.max_flows, "Connections tracked at once")->capture_default_str()
        ->check(CLI::Range(16, 1 << 24))->type_name("N");
    app.add_flag("-n", o.check_only, "Check the configuration and exit");
    app.add_flag("--print-filter", o.print_filter, "Print the BPF filter and exit");
}

void validate(Options& o)
{
    auto usage = [](const std::string& what) { return Error(EX_USAGE, what); };
    if (o.interface.empty() && o.read_file.empty() && (o.probe_text.empty() || o.probe_text == "none"))
        throw usage("give -i IFACE to capture, -r FILE to read a capture file, or --probe KIND to probe only");
    if (o.watch.empty() && o.watch_file.empty() && o.watch_from.empty())
        throw usage("no server to watch: give --watch HOST:PORT, --watch-file FILE or --watch-from URL");
    if (!o.watch_net.empty() && o.watch_from.empty())
        throw usage("--watch-net needs --watch-from: it chooses among the servers of the groups table");
    try {
        if (!o.watch_from.empty())
            o.watch_from_base = lbkit::http_base_url(o.watch_from);
    } catch (const BadInput& e) {
        throw usage(std::string("--watch-from ") + e.what());
    }
    for (const auto& n : o.watch_net) {
        try {
            o.watch_nets.push_back(lbkit::Cidr::parse(n));
        } catch (const BadInput& e) {
            throw usage(std::string("--watch-net: ") + e.what());
        }
    }
    if (o.interval.count() <= 0)
        throw usage("--interval must be more than 0");
    if (o.syn_timeout.count() <= 0)
        throw usage("--syn-timeout must be more than 0");
    if (o.probe_interval.count() <= 0)
        throw usage("--probe-interval must be more than 0");
    lbkit::httpd::check_limits(o.listen_limits);
    try {
        o.buffer_bytes = parse_size(o.buffer);
        // A live capture probes by default: a server that gets no traffic
        // would otherwise stay unknown, and unknown servers are not chosen
        // while another is up, so it would never get the traffic that shows
        // it up. A capture file has no servers to ask.
        o.probe = parse_probe(!o.probe_text.empty() ? o.probe_text : o.read_file.empty() ? "tcp" : "none");
    } catch (const BadInput& e) {
        throw usage(e.what());
    }
    if (o.probe.kind != Probe::none && !o.read_file.empty())
        throw usage("--probe needs a live capture (-i): a file has no servers to ask");
    for (const auto& url : o.report) {
        try {
            lbkit::http_base_url(url);
        } catch (const BadInput& e) {
            throw usage(std::string("--report ") + e.what());
        }
    }
    if (o.notifier.empty())
        o.notifier = host_name();
}

}  // namespace lbsniff
