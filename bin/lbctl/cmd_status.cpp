// lbctl status [GROUP]: what lbstated knows of every server.
#include <iostream>

#include "api.hpp"
#include "context.hpp"
#include "httpd.hpp"

namespace lbctl {
namespace {

std::string flags(const lbkit::api::ServerView& s)
{
    std::string f;
    if (s.pinned) f = "pinned";
    if (s.draining) f += f.empty() ? "draining" : ",draining";
    return f.empty() ? "-" : f;
}

std::string age(int64_t ms)
{
    if (ms < 0)
        return "never";
    return lbkit::output::fixed(static_cast<double>(ms) / 1000.0, 1) + "s";
}

int run_status(Context& ctx, const std::string& group)
{
    ctx.what = group.empty() ? "status" : "status " + group;
    std::string path = "/v1/state";
    if (!group.empty())
        path += "?group=" + lbkit::httpd::url_encode(group);
    Json j = ctx.call(default_stated_url, "GET", path);
    if (ctx.output() == lbkit::output::Format::json) {
        print_json(j);
        return 0;
    }
    auto state = lbkit::api::state_from_json(j);
    std::vector<lbkit::output::Row> rows;
    for (const auto& g : state.groups)
        for (const auto& s : g.servers)
            rows.push_back({g.name, s.name, lbkit::output::fixed(s.load, 1), lbkit::output::fixed(s.ratio, 1),
                            lbkit::output::fixed(s.load / s.ratio, 2), lbkit::api::to_string(s.state), flags(s),
                            age(s.age_ms), std::to_string(s.ejected_by)});
    // EJECTED: proxies that eject the server now (passive ejection); last,
    // so scripts reading the tsv columns by number keep working.
    lbkit::output::print(std::cout, ctx.output(),
                         {"GROUP", "SERVER", "LOAD", "RATIO", "RELLOAD", "STATE", "FLAGS", "AGE", "EJECTED"}, rows);
    return 0;
}

}  // namespace

void add_status(CLI::App& app, Context& ctx)
{
    auto* sub = app.add_subcommand("status", "Show groups and servers: load, ratio, relative load, state, pins, ejections by proxies");
    auto group = std::make_shared<std::string>();
    sub->add_option("group", *group, "Only this representative name");
    sub->callback([&ctx, group] { ctx.exit_code = run_status(ctx, *group); });
}

}  // namespace lbctl
