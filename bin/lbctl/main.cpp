// lbctl: the maintenance command of lbkit (lbctl(8)). Each command lives in
// its own cmd_*.cpp and talks to a daemon's control API.
#include "cli.hpp"
#include "context.hpp"

int main(int argc, char** argv)
{
    CLI::App app{"lbctl: control lbkit daemons", "lbctl"};
    lbkit::cli::Common common;
    lbctl::Context ctx;
    lbkit::cli::add_common(app, common);
    app.add_option("-s,--server", ctx.server,
                   "URL of the daemon (default $LBKIT_STATED, else http://127.0.0.1:7400, lbstated; "
                   "for history, tables and proxymap $LBKIT_PROXY, else http://127.0.0.1:7401, lbproxy)");
    lbkit::cli::add_token_file(app, ctx.token_file);
    app.add_option("-o,--output", ctx.format, "Output format: table, tsv or json (default: table on a terminal, else tsv)")
        ->check(CLI::IsMember({"auto", "table", "tsv", "json"}));
    app.require_subcommand(1, 1);
    app.fallthrough();  // global options may follow the command: lbctl status -o json
    lbctl::add_status(app, ctx);
    lbctl::add_pin(app, ctx);
    lbctl::add_subscribers(app, ctx);
    lbctl::add_groups(app, ctx);
    lbctl::add_history(app, ctx);
    lbctl::add_report(app, ctx);
    lbctl::add_tables(app, ctx);
    lbctl::add_proxymap(app, ctx);
    // Runs before the command's callback, once the global flags are known.
    app.parse_complete_callback([&] {
        ctx.verbose = common.verbose;
        ctx.quiet = common.quiet;
    });
    return lbkit::cli::run(app, argc, argv, [&] { return ctx.exit_code; });
}
