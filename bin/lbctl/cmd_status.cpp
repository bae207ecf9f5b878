// lbctl status [GROUP] [--watch]: what lbstated knows of every server, once
// or at every new version of the state (long polling on GET /v1/state).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <ctime>
#include <iostream>
#include <thread>

#include "api.hpp"
#include "cli.hpp"
#include "context.hpp"
#include "error.hpp"
#include "httpd.hpp"

namespace lbctl {
namespace {

using lbkit::Millis;

struct StatusOptions {
    std::string group;
    bool watch = false;
    int64_t count = 0;  // --count: stop after this many versions; 0: never
};

// How long one long poll asks lbstated to wait, and the back-off while it
// cannot be reached.
constexpr Millis poll_wait{30000};
constexpr Millis first_retry{1000}, max_retry{10000};

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

// EJECTED: proxies that eject the server now (passive ejection); last, so
// scripts reading the tsv columns by number keep working.
const lbkit::output::Row header{"GROUP", "SERVER", "LOAD", "RATIO", "RELLOAD", "STATE", "FLAGS", "AGE", "EJECTED"};

std::vector<lbkit::output::Row> rows(const lbkit::api::StateView& state)
{
    std::vector<lbkit::output::Row> out;
    for (const auto& g : state.groups)
        for (const auto& s : g.servers)
            out.push_back({g.name, s.name, lbkit::output::fixed(s.load, 1), lbkit::output::fixed(s.ratio, 1),
                           lbkit::output::fixed(s.load / s.ratio, 2), lbkit::api::to_string(s.state), flags(s),
                           age(s.age_ms), std::to_string(s.ejected_by)});
    return out;
}

std::string path(const StatusOptions& o)
{
    return o.group.empty() ? "/v1/state" : "/v1/state?group=" + lbkit::httpd::url_encode(o.group);
}

int print_once(Context& ctx, const StatusOptions& o)
{
    Json j = ctx.call(Daemon::stated, "GET", path(o));
    if (ctx.output() == lbkit::output::Format::json) {
        print_json(j);
        return 0;
    }
    lbkit::output::print(std::cout, ctx.output(), header, rows(lbkit::api::state_from_json(j)));
    return 0;
}

// One version in --watch mode. table: a line naming the version and the
// local time, then the table, blocks apart by a blank line; tsv: the rows
// with the version as a first column, so that each line stands alone for
// awk; json: the answer on one line (JSON Lines).
void print_version(Context& ctx, const Json& j, bool first)
{
    auto format = ctx.output();
    if (format == lbkit::output::Format::json) {
        std::cout << lbkit::api::dump(j) << "\n";
    } else {
        auto state = lbkit::api::state_from_json(j);
        auto r = rows(state);
        if (format == lbkit::output::Format::tsv) {
            for (auto& row : r)
                row.insert(row.begin(), std::to_string(state.version));
            lbkit::output::print(std::cout, format, header, r);
        } else {
            time_t now = std::time(nullptr);
            struct tm tm {};
            localtime_r(&now, &tm);
            char when[32];
            std::strftime(when, sizeof when, "%H:%M:%S", &tm);
            std::cout << (first ? "" : "\n") << "version " << state.version << " at " << when << "\n";
            lbkit::output::print(std::cout, format, header, r);
        }
    }
    std::cout.flush();
}

// --watch ends on these signals as a pager does: quietly, exit 0. Every
// block is flushed when printed, so nothing is lost to _exit.
extern "C" void quit_quietly(int)
{
    _exit(0);
}

void quit_on_signals()
{
    struct sigaction sa {};
    sa.sa_handler = quit_quietly;
    sigemptyset(&sa.sa_mask);
    for (int sig : {SIGINT, SIGTERM, SIGPIPE})
        sigaction(sig, &sa, nullptr);
}

// Failures worth waiting out: nothing answers, 503, a 5xx. Refusals (a
// wrong token, an unknown group) will not change by waiting.
bool transient(const lbkit::Error& e)
{
    return e.exit_code() == EX_UNAVAILABLE || e.exit_code() == EX_SOFTWARE;
}

int watch(Context& ctx, const StatusOptions& o)
{
    quit_on_signals();
    std::optional<uint64_t> shown;
    int64_t printed = 0;
    Millis retry{0};
    for (;;) {
        std::string p = path(o);
        if (shown)
            p += std::string(o.group.empty() ? "?" : "&") + "since=" + std::to_string(*shown) +
                 "&wait=" + lbkit::format_duration(poll_wait);
        const auto asked = std::chrono::steady_clock::now();
        Json j;
        try {
            j = ctx.call(Daemon::stated, "GET", p, std::nullopt, poll_wait + Millis(10000));
        } catch (const lbkit::Error& e) {
            if (!transient(e))
                throw;
            retry = std::min(max_retry, retry.count() ? retry * 2 : first_retry);
            std::cerr << "lbctl: " << e.what() << "; retrying in " << lbkit::format_duration(retry) << std::endl;
            std::this_thread::sleep_for(retry);
            continue;
        }
        if (retry.count() && !ctx.quiet)
            std::cerr << "lbctl: " << ctx.what << ": " << ctx.url(Daemon::stated) << ": reachable again" << std::endl;
        retry = Millis(0);
        const uint64_t version = lbkit::api::state_from_json(j).version;
        // A version that is not the one shown is printed, even a smaller one
        // (lbstated started again on an empty state directory).
        if (!shown || version != *shown) {
            print_version(ctx, j, !shown);
            shown = version;
            if (o.count > 0 && ++printed >= o.count)
                return 0;
        } else if (std::chrono::steady_clock::now() - asked < Millis(1000)) {
            // The same version at once: a daemon that does not wait (older
            // than long polling). Do not spin on it.
            std::this_thread::sleep_for(Millis(1000));
        }
    }
}

int run_status(Context& ctx, const StatusOptions& o)
{
    ctx.what = o.group.empty() ? "status" : "status " + o.group;
    return o.watch ? watch(ctx, o) : print_once(ctx, o);
}

}  // namespace

void add_status(CLI::App& app, Context& ctx)
{
    auto* sub = app.add_subcommand("status", "Show groups and servers: load, ratio, relative load, state, pins, ejections by proxies");
    auto o = std::make_shared<StatusOptions>();
    sub->add_option("group", o->group, "Only this representative name");
    sub->add_flag("-w,--watch", o->watch, "Print the status again at every new version of the state, until interrupted");
    sub->add_option("--count", o->count, "With --watch: stop after this many versions")
        ->check(lbkit::cli::positive);
    sub->callback([&ctx, o] {
        if (o->count > 0 && !o->watch)
            throw CLI::ValidationError("--count", "only with --watch");
        ctx.exit_code = run_status(ctx, *o);
    });
}

}  // namespace lbctl
