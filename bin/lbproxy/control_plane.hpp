// lbproxy's control plane, as main() sees it: the state that servers are
// chosen by (received by --state-mode from --state-server), the SQLite file
// that keeps the last state and the history, the proxy map, and the admin
// API. The request path (the data plane) only sees the Chooser, HistorySink
// and UpstreamStage interfaces.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "duration.hpp"
#include "history.hpp"
#include "httpd.hpp"
#include "loop.hpp"
#include "metrics.hpp"
#include "select.hpp"
#include "chooser.hpp"
#include "http/stages.hpp"

namespace lbproxy {

struct StateOptions {
    std::vector<std::string> state_servers;  // --state-server URL (repeatable)
    std::string state_mode = "change";       // --state-mode change|periodic|pull
    std::string policy = lbkit::select::to_string(lbkit::select::default_policy);  // --policy
    std::string admin = "127.0.0.1:7401";    // --admin ADDR:PORT
    lbkit::Millis state_interval{1000};      // --state-interval: periodic push interval
    lbkit::Millis suspect_for{5000};         // --suspect-time
    int64_t history_max_rows = 100000;       // --history-max-rows (0: no history)
    std::string admin_url;                   // --admin-url: where lbstated pushes (default http://ADMIN/v1/state)
    lbkit::Millis state_timeout{1000};       // --state-timeout: every request to lbstated
    lbkit::Millis stale_after{30000};        // --stale-after: unconfirmed state -> servers unknown
    std::string client_id;                   // --client-id: "client" of central selection (default hostname)
    lbkit::Millis slow_start{10000};         // --slow-start: ramp after a server comes back (0: off)
    int eject_after = 5;                     // --eject-after: consecutive failures (0: no ejection)
    int max_ejection_percent = 50;           // --max-ejection-percent: of a group's servers
    lbkit::Millis ejection_time{30000};      // --ejection-time: times the server's ejection count
    lbkit::httpd::Limits admin_limits;       // --admin-header-timeout, --admin-idle-timeout, --admin-max-connections
    std::string proxymap_file;               // --proxymap FILE: upstream proxies per destination
};

// Adds the flags above to the proxy's command line.
void add_state_options(CLI::App& app, StateOptions& o);
// The options as a start checks them (state server URLs, durations), with
// the URLs normalized; throws Error(EX_USAGE). lbproxy -n runs it too, and
// reads the --proxymap file (BadInput "FILE:LINE: reason").
StateOptions check_state_options(StateOptions o);

class ControlPlane {
public:
    // state_dir and token come from the common daemon flags.
    ControlPlane(lbkit::Loop& loop, lbkit::Metrics& metrics, const StateOptions& options,
              const std::string& state_dir, const std::string& token);
    ~ControlPlane();
    Chooser& chooser();
    HistorySink& history();
    // The proxy map's upstream stage for the request path.
    lbkit::http::UpstreamStage& upstream();
    // Binds the admin API, registers with the state servers; throws Error.
    void start();
    // SIGHUP: re-read what can be re-read (the --proxymap file, the
    // registrations); SIGTERM: flush history, unsubscribe.
    void reload();
    void shutdown();

    struct Impl;
private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace lbproxy
