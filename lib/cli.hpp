// Command-line conventions shared by every tool (lbkit(7), Conventions):
// --help, --version, -v/-q, sysexits, one "tool: what failed: why" line.
#pragma once
#include <functional>
#include <string>

#include <CLI/CLI.hpp>

#include "duration.hpp"

namespace lbkit::cli {

struct Common {
    int verbose = 0;
    bool quiet = false;
    bool use_syslog = false;
    int verbosity() const { return quiet ? 0 : 1 + verbose; }
};

struct Daemon : Common {
    std::string listen;
    std::string state_dir = LBKIT_LOCALSTATEDIR "/lib/lbkit";
    std::string token_file;
    bool check_only = false;  // -n: check the configuration and exit
};

// -v (repeatable), -q, --version.
void add_common(CLI::App& app, Common& c);
// --token-file, the same for every tool that sends or checks the token.
CLI::Option* add_token_file(CLI::App& app, std::string& target);
// add_common plus --listen, --state-dir, --token-file, --syslog, -n.
void add_daemon(CLI::App& app, Daemon& d, const std::string& default_listen);

// A duration option ("2", "2s", "500ms", "1m") stored as Millis.
CLI::Option* add_duration(CLI::App& app, const std::string& name, Millis& target, const std::string& help);

// Number checks whose refusal is a sentence ("--ratio: must be > 0"), not
// CLI11's "Value 0 not in range 0.000000 to 1797693134862..." of 300 digits.
extern const CLI::Validator positive;
extern const CLI::Validator non_negative;

// Parses argv and runs body; the one place errors become exit codes:
// CLI11 usage errors -> 64, Error -> its code, BadInput -> 65, anything else -> 70.
// An unknown command or option is named, with the nearest known one
// ("unknown command 'stauts' (did you mean 'status'?)").
int run(CLI::App& app, int argc, char** argv, const std::function<int()>& body);

}  // namespace lbkit::cli
