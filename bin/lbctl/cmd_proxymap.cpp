// lbctl proxymap [--pac]: the proxy map an lbproxy has in force, each rule's
// proxies in the order it would try them now (GET /v1/proxymap), or as a
// PAC file for machines that run no lbproxy.
#include <iostream>

#include "clock.hpp"
#include "context.hpp"
#include "pac.hpp"

namespace lbctl {

namespace {

// Where the map came from, on stderr as for groups: the rows stay rows.
std::string origin_note(const Json& j)
{
    std::string origin = j.value("origin", "none");
    std::string version = std::to_string(j.value("version", int64_t{0}));
    if (origin == "none") return "no proxy map in force: every request goes DIRECT";
    if (origin == "file") return "proxy map version " + version + " read from the file " + j.value("source", "");
    return "proxy map version " + version + " pushed by " + j.value("source", "lbpush");
}

std::string load_text(const Json& p)
{
    return p.contains("load") && p["load"].is_number() ? lbkit::output::fixed(p["load"].get<double>(), 1) : "-";
}

void print_map(const Json& j, lbkit::output::Format f)
{
    std::vector<lbkit::output::Row> rows;
    for (const auto& rule : j.at("rules")) {
        std::string pattern = rule.value("pattern", "");
        if (rule.value("direct", false) || rule.at("proxies").empty()) {
            rows.push_back({pattern, "DIRECT", "-", "-", "-", "-"});
            continue;
        }
        for (const auto& p : rule.at("proxies")) {
            std::string reason = p.value("reason", "");
            rows.push_back({pattern, p.value("name", ""), p.value("state", "unknown"), load_text(p),
                            p.value("usable", false) ? "yes" : "no", reason.empty() ? "-" : reason});
        }
    }
    lbkit::output::print(std::cout, f, {"PATTERN", "PROXY", "STATE", "LOAD", "USABLE", "REASON"}, rows);
}

}  // namespace

void add_proxymap(CLI::App& app, Context& ctx)
{
    auto pac = std::make_shared<bool>(false);
    auto* cmd = app.add_subcommand("proxymap", "Show lbproxy's proxy map in force, proxies in the order tried "
                                               "(default -s $LBKIT_PROXY, else " + std::string(default_proxy_url) + ")");
    cmd->add_flag("--pac", *pac, "Print it as a PAC file (FindProxyForURL) for machines without lbproxy");
    cmd->callback([pac, &ctx] {
        if (*pac && ctx.format != "auto")
            throw CLI::ValidationError("--pac", "prints a PAC file, not -o " + ctx.format + ": give one or the other");
        ctx.what = "proxymap";
        Json j = ctx.call(Daemon::proxy, "GET", "/v1/proxymap");
        if (*pac) {
            std::cout << pac_file(j, ctx.url(Daemon::proxy), lbkit::unix_ms());
            return;
        }
        if (ctx.output() == lbkit::output::Format::json) {
            print_json(j);
            return;
        }
        if (!ctx.quiet) std::cerr << "lbctl: " << origin_note(j) << "\n";
        print_map(j, ctx.output());
    });
}

}  // namespace lbctl
