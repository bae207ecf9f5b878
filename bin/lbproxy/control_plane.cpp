// Wiring of the control plane: the SQLite file, the book, the state servers,
// the selection, the history writer and the admin API.
#include "control_plane.hpp"

#include "output.hpp"

#include <unistd.h>

#include "addr.hpp"
#include "admin_api.hpp"
#include "cli.hpp"
#include "ejections.hpp"
#include "error.hpp"
#include "history_query.hpp"
#include "history_store.hpp"
#include "httpc.hpp"
#include "httpd_flags.hpp"
#include "log.hpp"
#include "output.hpp"
#include "proxy_map_source.hpp"
#include "proxy_store.hpp"
#include "state_chooser.hpp"
#include "state_book.hpp"
#include "state_saver.hpp"
#include "state_source.hpp"
#include "table.hpp"
#include "upstream_proxies.hpp"

namespace lbproxy {

namespace log = lbkit::log;
using lbkit::Millis;

void add_state_options(CLI::App& app, StateOptions& o)
{
    app.add_option("--state-server", o.state_servers,
                   "lbstated to take the state from (repeatable; the newest version wins; default http://127.0.0.1:7400)")
        ->type_name("URL");
    app.add_option("--state-mode", o.state_mode, "How the state arrives: change or periodic (pushed), or pull")
        ->check(CLI::IsMember({"change", "periodic", "pull"}))
        ->capture_default_str();
    app.add_option("--policy", o.policy, "Server selection: adaptive, least, p2c, weighted or central")
        ->check(CLI::IsMember({"adaptive", "least", "p2c", "weighted", "central"}))
        ->capture_default_str();
    app.add_option("--admin", o.admin, "Address and port of the admin API")
        ->type_name("ADDR:PORT")
        ->capture_default_str();
    app.add_option("--admin-url", o.admin_url, "URL lbstated pushes the state to (default http://ADMIN/v1/state)")
        ->type_name("URL");
    lbkit::httpd::add_limit_flags(app, o.admin_limits, "admin-", "the admin API");
    lbkit::cli::add_duration(app, "--state-interval", o.state_interval,
                             "Periodic push interval; health check of lbstated; pause after a failed pull");
    lbkit::cli::add_duration(app, "--state-timeout", o.state_timeout, "Time allowed for each request to lbstated");
    lbkit::cli::add_duration(app, "--stale-after", o.stale_after,
                             "State no lbstated confirmed for this long: servers count as unknown; "
                             "behind a version lbstated announces for this long: health degraded");
    lbkit::cli::add_duration(app, "--suspect-time", o.suspect_for, "How long a server whose connect failed is avoided");
    app.add_option("--history-max-rows", o.history_max_rows, "Relay history rows kept (0: no history)")
        ->check(lbkit::cli::non_negative)
        ->capture_default_str();
    app.add_option("--client-id", o.client_id, "Name sent to lbstated with central selections (default the host name)");
    lbkit::cli::add_duration(app, "--slow-start", o.slow_start,
                             "A server that comes up, is unpinned or returns from ejection gets its share "
                             "over this long (0: at once)");
    app.add_option("--eject-after", o.eject_after,
                   "Consecutive failures (failed connect, 5xx, no answer) that eject a server (0: never)")
        ->check(CLI::Range(0, 1000000))
        ->capture_default_str();
    app.add_option("--max-ejection-percent", o.max_ejection_percent,
                   "Most servers of a group ejected at once, in percent (one may always be)")
        ->check(CLI::Range(0, 100))
        ->capture_default_str();
    lbkit::cli::add_duration(app, "--ejection-time", o.ejection_time,
                             "An ejection lasts this long times the server's ejections (at most 5 min, or this)");
    app.add_option("--proxymap", o.proxymap_file,
                   "Proxy map: pattern proxy[,proxy...]|DIRECT per line, re-read on SIGHUP "
                   "(a newer pushed table wins)")
        ->type_name("FILE");
}

namespace {

std::string host_name()
{
    char buf[256] = {};
    if (gethostname(buf, sizeof buf - 1) != 0 || !buf[0]) return "localhost";
    return buf;
}

}  // namespace

StateOptions check_state_options(StateOptions o)
{
    if (o.state_servers.empty()) o.state_servers.push_back("http://127.0.0.1:7400");
    for (auto& url : o.state_servers) url = normalize_state_url(url);
    auto at_least = [](Millis v, Millis min, const char* flag) {
        if (v < min)
            throw lbkit::Error(EX_USAGE, std::string(flag) + ": must be at least " + lbkit::format_duration(min));
    };
    at_least(o.state_interval, Millis{50}, "--state-interval");  // lbstated's minimum
    at_least(o.state_timeout, Millis{10}, "--state-timeout");
    at_least(o.stale_after, Millis{10}, "--stale-after");
    at_least(o.suspect_for, Millis{0}, "--suspect-time");
    at_least(o.slow_start, Millis{0}, "--slow-start");
    at_least(o.ejection_time, Millis{100}, "--ejection-time");
    lbkit::httpd::check_limits(o.admin_limits);
    if (o.client_id.empty()) o.client_id = host_name();
    ProxyMapSource::check_file(o.proxymap_file);
    return o;
}

namespace {

Passive passive(const StateOptions& o)
{
    Passive p;
    p.eject_after = o.eject_after;
    p.max_percent = o.max_ejection_percent;
    p.ejection_time = o.ejection_time;
    p.slow_start = o.slow_start;
    return p;
}

}  // namespace

struct ControlPlane::Impl {
    Impl(lbkit::Loop& loop, lbkit::Metrics& metrics, StateOptions o, const std::string& state_dir,
         const std::string& token);

    lbkit::Loop& loop;
    lbkit::Metrics& metrics;
    StateOptions opt;
    std::string db_path;
    lbkit::store::StateLock lock;  // before the file: nothing is read from a directory in use
    lbkit::store::Db db;
    StateSaver saver;  // state writes, off the loop
    StateBook book;
    HistoryStore history;
    HistoryQueries history_queries;
    lbkit::httpc::Client http;
    StateSources sources;
    EjectionReports reports;
    Ejections ejections;
    StateChooser chooser;
    ProxyMapSource proxymap;
    UpstreamProxies upstream;
    AdminDeps deps;
    lbkit::httpd::Server admin;
    lbkit::Timer persist_timer;
    int64_t saved_confirmed_ms = 0;
    bool stopped = false;
    bool degraded = false;  // as last logged
    lbkit::Series* degraded_total = nullptr;

    StateBook::Outcome receive(lbkit::api::StateView view, const std::string& source);
    void restore();
    void persist_confirmed();
    std::string push_url() const;
    void add_metrics();
    // Logs (once) when the state turns degraded and when it recovers.
    void check_degraded();
};

ControlPlane::Impl::Impl(lbkit::Loop& loop, lbkit::Metrics& metrics, StateOptions o, const std::string& state_dir,
                      const std::string& token)
    : loop(loop), metrics(metrics), opt(check_state_options(std::move(o))),
      db_path(lbkit::store::state_path(state_dir, proxy_store::file_name)),
      lock(state_dir, "lbproxy"),
      db(proxy_store::open(db_path)),
      saver(db_path),
      book(opt.stale_after, passive(opt)),
      history(db_path, HistoryLimits{opt.history_max_rows}),
      history_queries(loop, db_path, [this] { admin.notify(); }),
      http(loop),
      sources(loop, http, metrics,
              SourceConfig{opt.state_servers, opt.state_mode, opt.state_interval, opt.state_timeout, token},
              [this](lbkit::api::StateView v, const std::string& s) { receive(std::move(v), s); },
              [this](const std::string&) { book.confirm(unix_ms()); }),
      reports(http, opt.state_servers, token, opt.state_timeout),
      ejections(loop, metrics, book, reports),
      chooser(metrics, book, sources, lbkit::select::policy_from_string(opt.policy), opt.suspect_for,
                opt.client_id, ejections),
      proxymap(db, opt.proxymap_file),
      upstream(book, proxymap.current(), metrics, lbkit::select::policy_from_string(opt.policy), opt.suspect_for),
      deps{book, sources, db, history, history_queries, proxymap, metrics, opt.state_mode, opt.policy,
           [this](lbkit::api::StateView v, const std::string& s) { return receive(std::move(v), s); }},
      admin(loop, metrics,
            lbkit::httpd::Options{token, 2 * lbkit::table::max_bytes + 65536, opt.admin_limits, "lbproxy"}),
      persist_timer(loop, [this] { persist_confirmed(); })
{
    restore();
    proxymap.start();
    sources.on_restart([this](const std::string& source) {
        book.source_restarted(source);
        ejections.state_server_restarted(source);
    });
    sources.on_announce([this](const std::string& source, uint64_t version) {
        bool take = book.announced(source, version, unix_ms());
        check_degraded();
        return take;
    });
    sources.on_silent([this](const std::string& source) {
        book.silent(source, unix_ms());
        check_degraded();
    });
    admin.add(admin_routes(deps));
    admin.on_health([this] {
        int64_t now = unix_ms();
        check_degraded();
        nlohmann::json j{{"state_version", book.version()},
                         {"state_age_ms", book.confirmed_ms() ? now - book.confirmed_ms() : -1},
                         {"state_stale", book.stale(now)},
                         {"state_newest_version", book.newest_announced()},
                         {"state_behind_ms", book.behind_ms(now)},
                         {"state_mode", opt.state_mode},
                         {"policy", opt.policy}};
        // Until a first state arrives, representative names are relayed as
        // plain host names: not a proxy a health check should send clients to.
        if (auto missing = chooser.missing_state(); !missing.empty()) {
            j["status"] = "starting";
            j["reason"] = missing;
        } else if (book.degraded(now)) {
            // It serves, but on a state older than a state server's for
            // longer than --stale-after: its pushes or fetches are lost.
            j["status"] = "degraded";
            j["reason"] = book.degraded_reason(now);
        }
        return j;
    });
    add_metrics();
}

void ControlPlane::Impl::check_degraded()
{
    int64_t now = unix_ms();
    bool is = book.degraded(now);
    if (is == degraded) return;
    degraded = is;
    if (is) {
        if (degraded_total) degraded_total->inc();
        log::warn("health degraded: ", book.degraded_reason(now));
    } else {
        uint64_t newest = book.newest_announced();
        log::info("health ok again: state version ", book.version(),
                  newest ? ", state servers announce " + std::to_string(newest) + " at most"
                         : ", no state server announces a version now");
    }
}

void ControlPlane::Impl::add_metrics()
{
    metrics.gauge_fn("lbproxy_state_version", "Version of the state in use",
                     [this] { return static_cast<double>(book.version()); });
    metrics.gauge_fn("lbproxy_state_age_seconds", "Seconds since a state server last confirmed the state", [this] {
        return book.confirmed_ms() ? static_cast<double>(unix_ms() - book.confirmed_ms()) / 1000.0 : -1.0;
    });
    metrics.gauge_fn("lbproxy_state_degraded",
                     "1 while the state held has been behind a version a state server announces for longer than "
                     "--stale-after",
                     [this] { return book.degraded(unix_ms()) ? 1.0 : 0.0; });
    metrics.gauge_fn("lbproxy_state_behind_seconds",
                     "Seconds the state held has been behind a version a state server announces (0: it is not)",
                     [this] { return static_cast<double>(book.behind_ms(unix_ms())) / 1000.0; });
    degraded_total = &metrics.counter("lbproxy_state_degraded_total",
                                      "Times the health turned degraded: the state held lagged behind for longer "
                                      "than --stale-after");
    metrics.gauge_fn("lbproxy_history_rows_written", "History rows committed to SQLite",
                     [this] { return static_cast<double>(history.written()); });
    metrics.gauge_fn("lbproxy_history_rows_dropped", "History rows dropped because the queue was full",
                     [this] { return static_cast<double>(history.dropped()); });
    metrics.gauge_fn("lbproxy_history_write_errors", "History rows lost to SQLite errors",
                     [this] { return static_cast<double>(history.write_errors()); });
    metrics.gauge_fn("lbproxy_history_queued", "History rows waiting for the writer",
                     [this] { return static_cast<double>(history.queued()); });
}

void ControlPlane::Impl::restore()
{
    std::optional<proxy_store::SavedState> saved;
    try {
        saved = proxy_store::load_state(db);
        if (!saved) return;
        book.restore(lbkit::api::state_from_json(nlohmann::json::parse(saved->json)), saved->source,
                     saved->confirmed_ms);
        saved_confirmed_ms = saved->confirmed_ms;
        log::info("state version ", saved->version, " from ", saved->source, " loaded from ", db_path, " (",
                  (unix_ms() - saved->confirmed_ms) / 1000, " s old)");
    } catch (const std::exception& e) {
        log::warn(db_path, ": saved state ignored: ", e.what());
    }
}

StateBook::Outcome ControlPlane::Impl::receive(lbkit::api::StateView view, const std::string& source)
{
    uint64_t version = view.version;
    lbkit::api::StateView before = book.view();
    auto outcome = book.apply(std::move(view), source, unix_ms());
    metrics.counter("lbproxy_state_updates_total", "States received, by outcome", {{"outcome", to_string(outcome)}})
        .inc();
    check_degraded();
    if (outcome == StateBook::Outcome::older) {
        log::debug("state version ", version, " from ", source, " ignored: version ", book.version(), " is newer");
        return outcome;
    }
    if (outcome != StateBook::Outcome::accepted) return outcome;
    // Loads change with nearly every version: only transitions are news.
    std::string changes = describe_changes(before, book.view());
    if (!changes.empty()) log::info("state version ", version, " from ", source, ": ", changes);
    else log::debug("state version ", version, " from ", source, ": loads only");
    saver.save({book.version(), book.source(), lbkit::api::dump(lbkit::api::to_json(book.view())),
                book.confirmed_ms()});
    saved_confirmed_ms = book.confirmed_ms();
    admin.notify();  // GET /v1/state?since= requests waiting for this version
    return outcome;
}

// Confirmations are frequent (every periodic push, health check or pull),
// so the time is written at most every few seconds, not each time.
void ControlPlane::Impl::persist_confirmed()
{
    if (book.confirmed_ms() == saved_confirmed_ms || book.version() == 0) return;
    saver.save_confirmed(book.confirmed_ms());
    saved_confirmed_ms = book.confirmed_ms();
}

std::string ControlPlane::Impl::push_url() const
{
    if (!opt.admin_url.empty()) return opt.admin_url;
    lbkit::HostPort hp;
    if (!opt.admin.empty() && opt.admin[0] == ':') {
        hp.host = host_name();
    } else {
        hp = lbkit::parse_host_port(opt.admin, 7401);
        if (hp.host == "0.0.0.0" || hp.host == "::") hp.host = host_name();
    }
    hp.port = admin.bound_port();
    return "http://" + hp.str() + "/v1/state";
}

ControlPlane::ControlPlane(lbkit::Loop& loop, lbkit::Metrics& metrics, const StateOptions& options,
                     const std::string& state_dir, const std::string& token)
    : impl_(std::make_unique<Impl>(loop, metrics, options, state_dir, token))
{
}

ControlPlane::~ControlPlane()
{
    shutdown();
}

Chooser& ControlPlane::chooser()
{
    return impl_->chooser;
}

HistorySink& ControlPlane::history()
{
    return impl_->history;
}

lbkit::http::UpstreamStage& ControlPlane::upstream()
{
    return impl_->upstream;
}

void ControlPlane::start()
{
    impl_->admin.listen(impl_->opt.admin);
    std::string url = impl_->push_url();
    log::info("admin API on ", impl_->opt.admin, " (port ", impl_->admin.bound_port(), "); state by ",
              impl_->opt.state_mode, ", policy ", impl_->opt.policy);
    impl_->reports.set_proxy(source_key(url));
    impl_->sources.start(url);
    impl_->persist_timer.start(Millis{5000}, true);
}

void ControlPlane::reload()
{
    log::info("reload: registering again with the state servers");
    impl_->sources.reregister();
    impl_->proxymap.reload();
}

void ControlPlane::shutdown()
{
    if (!impl_ || impl_->stopped) return;
    impl_->stopped = true;
    impl_->persist_timer.cancel();
    impl_->ejections.stop();
    impl_->sources.stop();
    impl_->sources.unsubscribe();
    impl_->persist_confirmed();
    // The history writer runs on until the ControlPlane is destroyed, after the
    // proxy: rows its teardown records are written too.
}

}  // namespace lbproxy
