// What every lbctl command gets: the daemon to talk to, the token, the output
// format, and the call that turns an HTTP answer into JSON or a clear error.
#pragma once
#include <optional>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "duration.hpp"
#include "output.hpp"

namespace lbctl {

using Json = nlohmann::json;

inline constexpr const char* default_stated_url = "http://127.0.0.1:7400";
inline constexpr const char* default_proxy_url = "http://127.0.0.1:7401";

// The daemon a command talks to. Each has its default URL, which an
// environment variable replaces as PGHOST does psql's (lbctl(8), ENVIRONMENT).
enum class Daemon { stated, proxy };
const char* default_url(Daemon d);  // "http://127.0.0.1:7400"
const char* url_variable(Daemon d);  // "LBKIT_STATED"

struct Context {
    std::string server;        // -s URL; empty: the command's daemon from the environment or default
    std::string token_file;    // --token-file
    std::string format = "auto";  // -o table|tsv|json
    int exit_code = 0;
    int verbose = 0;     // -v: print each request on stderr
    bool quiet = false;  // -q: no notes on stderr, only errors
    // What the command is doing, for error messages: "pin web3:80".
    std::string what;

    // The -s URL, else the daemon's variable (LBKIT_STATED, LBKIT_PROXY),
    // else its default.
    std::string url(Daemon daemon) const;
    lbkit::output::Format output() const;

    // Calls the daemon; returns the JSON answer (null for 204). Throws
    // Error: EX_UNAVAILABLE with the URL when nothing answers,
    // EX_NOPERM for 401/403, EX_DATAERR for other 4xx, EX_UNAVAILABLE for
    // 503, EX_SOFTWARE for other 5xx, each with the daemon's sentence and
    // prefixed by `what`: "pin x: http://127.0.0.1:7400: 404 no such server 'x'".
    // `timeout` bounds the whole exchange (a long poll waits longer).
    Json call(Daemon daemon, const std::string& method, const std::string& path,
              const std::optional<Json>& body = std::nullopt, lbkit::Millis timeout = lbkit::Millis(10000)) const;
};

// Unix ms as a reader wants it, local time with its zone
// ("2026-12-02 14:57:07.123 CET"), or as a script wants it, one word in
// ISO 8601 UTC ("2026-12-02T13:57:07.123Z").
std::string local_time(int64_t ms);
std::string utc_time(int64_t ms);

// -o json: the daemon's answer, indented, on stdout.
void print_json(const Json& j);

// One function per command file, micromamba style: each adds its
// subcommand(s) and the callback that runs them.
void add_status(CLI::App& app, Context& ctx);
void add_pin(CLI::App& app, Context& ctx);          // pin, unpin, drain, undrain
void add_subscribers(CLI::App& app, Context& ctx);
void add_groups(CLI::App& app, Context& ctx);       // groups, reload
void add_history(CLI::App& app, Context& ctx);      // lbproxy's relay history
void add_report(CLI::App& app, Context& ctx);       // loads and states to lbstated
void add_tables(CLI::App& app, Context& ctx);       // lbproxy's client tables
void add_proxymap(CLI::App& app, Context& ctx);     // lbproxy's proxy map in force, or a PAC file

}  // namespace lbctl
