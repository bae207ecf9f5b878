// lbstated: the state manager. Collects loads and up/down state from the
// sniffers, holds groups, pins and drains, and delivers the state to the
// local proxies (lbstated(8)).
#include <iostream>

#include "auth.hpp"
#include "cli.hpp"
#include "httpd.hpp"
#include "httpd_flags.hpp"
#include "log.hpp"
#include "routes.hpp"
#include "stated.hpp"

namespace {

void add_options(CLI::App& app, lbstated::Options& o)
{
    app.add_option("--groups", o.groups_file, "Groups table: representative server[:port] ratio");
    lbkit::cli::add_duration(app, "--stale-after", o.stale_after,
                             "A server with no report for this long becomes unknown (default: 3 report intervals)")
        ->default_str("3 intervals");
    lbkit::cli::add_duration(app, "--drop-after", o.delivery.drop_after, "Drop a subscriber unreachable for this long");
    lbkit::cli::add_duration(app, "--push-min-interval", o.delivery.push_min_interval,
                             "Change mode: at most one push of load changes per subscriber this often");
    app.add_option("--load-delta", o.delivery.load_delta,
                   "Change mode: push a load change when a relative load moved by more than this fraction")
        ->check(CLI::Range(0.0, 100.0))
        ->capture_default_str();
    app.add_option("--max-body", o.max_body, "Largest request body the API accepts, in bytes")->capture_default_str();
}

}  // namespace

int main(int argc, char** argv)
{
    CLI::App app{"lbstated: lbkit state manager", "lbstated"};
    lbkit::cli::Daemon common;
    lbstated::Options options;
    lbkit::httpd::Limits limits;
    lbkit::cli::add_daemon(app, common, "127.0.0.1:7400");
    add_options(app, options);
    lbkit::httpd::add_limit_flags(app, limits, "", "the API");
    return lbkit::cli::run(app, argc, argv, [&] {
        lbkit::log::init("lbstated", common.verbosity(), common.use_syslog);
        std::string token = lbkit::auth::load_token(common.token_file);
        lbkit::httpd::check_limits(limits);
        if (common.check_only) {
            if (!options.groups_file.empty())
                lbstated::parse_groups(lbkit::table::read_file(options.groups_file), options.groups_file);
            std::cout << "configuration OK\n";
            return 0;
        }
        lbkit::Loop loop;
        lbkit::Metrics metrics;
        lbstated::Stated daemon(loop, metrics, options, common.state_dir, token);
        lbkit::httpd::Server api(loop, metrics, {token, options.max_body, limits, "lbstated"});
        api.add(lbstated::routes(daemon));
        api.on_health([&] { return lbkit::httpd::Json{{"state_version", daemon.model().version()}}; });
        daemon.on_changed([&api] { api.notify(); });
        // Bind first: a daemon that cannot listen must not touch its state file.
        api.listen(common.listen);
        daemon.start();
        loop.on_reload([&] {
            try {
                daemon.reload_groups_file();
            } catch (const std::exception& e) {
                lbkit::log::error("reload: ", e.what(), "; keeping the groups in force");
            }
        });
        lbkit::log::info("listening on ", common.listen, token.empty() ? " (no token: mutating calls are open)" : "");
        loop.run();
        return 0;
    });
}
