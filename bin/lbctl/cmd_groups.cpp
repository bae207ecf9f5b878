// lbctl groups | reload: the groups table lbstated has in force.
#include <iostream>

#include "context.hpp"

namespace lbctl {
namespace {

void print_groups(Context& ctx, const Json& j)
{
    if (ctx.output() == lbkit::output::Format::json) {
        print_json(j);
        return;
    }
    std::vector<lbkit::output::Row> rows;
    for (const auto& g : j.at("groups"))
        for (const auto& s : g.at("servers"))
            rows.push_back({g.value("name", ""), s.value("server", ""), lbkit::output::fixed(s.value("ratio", 0.0), 1)});
    lbkit::output::print(std::cout, ctx.output(), {"GROUP", "SERVER", "RATIO"}, rows);
}

}  // namespace

void add_groups(CLI::App& app, Context& ctx)
{
    auto* groups = app.add_subcommand("groups", "Show the groups table in force");
    groups->callback([&ctx] {
        ctx.what = "groups";
        print_groups(ctx, ctx.call(Daemon::stated, "GET", "/v1/groups"));
    });
    auto* reload = app.add_subcommand("reload", "Make lbstated re-read its groups file");
    reload->callback([&ctx] {
        ctx.what = "reload";
        Json j = ctx.call(Daemon::stated, "POST", "/v1/groups/reload");
        if (ctx.output() != lbkit::output::Format::json && !ctx.quiet)
            std::cerr << "lbctl: groups reloaded from " << j.value("source", "?") << "\n";
        print_groups(ctx, j);
    });
}

}  // namespace lbctl
