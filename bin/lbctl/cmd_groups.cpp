// lbctl groups | reload: the groups table lbstated has in force.
#include <iostream>

#include "context.hpp"

namespace lbctl {
namespace {

// Where the table in force came from, as GET /v1/groups says: a note on
// stderr, so that the rows on stdout stay rows for scripts.
std::string origin_note(const Json& j)
{
    std::string origin = j.value("origin", "");
    std::string source = j.value("source", "");
    int64_t set_ms = j.value("set_ms", int64_t{0});
    std::string when = set_ms > 0 ? local_time(set_ms) : "a time not recorded";
    std::string file = j.value("groups_file", "");
    // source is "api (CLIENT)": who set them.
    if (origin == "api" && source.rfind("api (", 0) == 0 && source.back() == ')')
        source = source.substr(5, source.size() - 6);
    if (origin == "api")
        return "groups set through the API by " + source + " at " + when +
               (file.empty() ? "" : "; `lbctl reload` returns to the file " + file);
    if (origin == "file")
        return "groups read from the file " + source + " at " + when;
    return "no groups in force";
}

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
        Json j = ctx.call(Daemon::stated, "GET", "/v1/groups");
        if (ctx.output() != lbkit::output::Format::json && !ctx.quiet)
            std::cerr << "lbctl: " << origin_note(j) << "\n";
        print_groups(ctx, j);
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
