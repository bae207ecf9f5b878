// lbpush: sends a client table (proxymap, charsets, sessions) to many
// lbproxy instances at once, from cron (lbpush(8)). The table is checked
// here first with lbproxy's own checks, so a bad one is never sent.
#include <sys/stat.h>

#include <cerrno>
#include <iostream>

#include "auth.hpp"
#include "cli.hpp"
#include "client_tables.hpp"
#include "clients.hpp"
#include "config.h"
#include "error.hpp"
#include "fanout.hpp"
#include "report.hpp"
#include "table.hpp"

namespace {

struct Options {
    std::string file, clients_file, token_file, format = "auto";
    std::vector<std::string> clients;
    std::vector<std::string> version;  // --version [N]: empty, the program's version
    lbkit::cli::Common common;
    lbpush::Plan plan;
};

void add_options(CLI::App& app, Options& o)
{
    lbkit::cli::add_common(app, o.common);
    // --version N is the table's version; alone it is the program's, as
    // every lbkit tool prints it.
    app.set_version_flag("");
    app.add_option("--version", o.version, "The table's version (default: the file's modification time in "
                                           "Unix seconds); alone, print the program's version")
        ->expected(0, 1)->type_name("[N]");
    o.plan.table = "proxymap";
    app.add_option("-t,--table", o.plan.table, "The table: proxymap, charsets or sessions")
        ->check(CLI::IsMember(lbkit::client_tables::names()))->capture_default_str();
    app.add_option("-f,--file", o.file, "The table's file")->type_name("FILE");
    app.add_option("--clients", o.clients_file, "File of lbproxy admin addresses, one per line")->type_name("FILE");
    app.add_option("client", o.clients, "lbproxy admin address: host:port or http://host:port")->type_name("CLIENT");
    app.add_option("-j,--parallel", o.plan.parallel, "At most N pushes at once")
        ->check(CLI::Range(1, 10000))->capture_default_str();
    lbkit::cli::add_duration(app, "--timeout", o.plan.timeout, "Time limit of one try");
    app.add_option("--retries", o.plan.retries, "Tries again after a failure (no answer, 5xx), with backoff")
        ->check(CLI::Range(0, 100))->capture_default_str();
    lbkit::cli::add_token_file(app, o.token_file);
    app.add_flag("--force", o.plan.force, "Make the proxies take a version older than theirs");
    app.add_flag("--dry-run", o.plan.dry_run, "Check the table, ask each proxy its version, push nothing");
    app.add_option("-o,--output", o.format, "Output format: table, tsv or json (default: table on a terminal, else tsv)")
        ->check(CLI::IsMember({"auto", "table", "tsv", "json"}));
}

// The version a table goes out with: --version N, else the file's
// modification time, so that an edited file is newer than what was sent.
int64_t table_version(const Options& o)
{
    if (!o.version.empty()) {
        std::size_t used = 0;
        long long v = -1;
        try {
            v = std::stoll(o.version[0], &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used == 0 || used != o.version[0].size() || v < 1)
            throw lbkit::Error(EX_USAGE, "usage: --version '" + o.version[0] + "': not a whole number of 1 or more");
        return v;
    }
    struct stat st {};
    if (stat(o.file.c_str(), &st) != 0)
        throw lbkit::Error(EX_NOINPUT, o.file + ": " + lbkit::errno_text(errno));
    return static_cast<int64_t>(st.st_mtime);
}

int push(Options& o)
{
    if (o.file.empty())
        throw lbkit::Error(EX_USAGE, "usage: -f FILE is required: the table to push");
    lbpush::Plan& plan = o.plan;
    plan.text = lbkit::table::read_file(o.file);
    plan.version = table_version(o);
    try {
        lbkit::client_tables::validate(plan.table, plan.text, o.file);
    } catch (const lbkit::BadInput& e) {
        throw lbkit::Error(EX_DATAERR, std::string(e.what()) + "; nothing pushed");
    }
    auto clients = lbpush::gather(o.clients_file, o.clients);
    plan.token = lbkit::auth::load_token(o.token_file);
    plan.verbose = o.common.verbose > 0;
    auto outcomes = lbpush::run(plan, clients);
    return lbpush::report(outcomes, plan, lbkit::output::resolve(lbkit::output::parse_format(o.format)),
                          o.common.quiet);
}

}  // namespace

int main(int argc, char** argv)
{
    CLI::App app{"lbpush: send a client table to many lbproxy instances", "lbpush"};
    Options o;
    add_options(app, o);
    return lbkit::cli::run(app, argc, argv, [&] {
        // CLI11 records a flag-like use of --version as one empty value.
        if (app.count("--version") > 0 && (o.version.empty() || o.version[0].empty())) {
            std::cout << "lbpush (lbkit) " PACKAGE_VERSION "\n";
            return 0;
        }
        return push(o);
    });
}
