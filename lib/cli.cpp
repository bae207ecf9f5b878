#include "cli.hpp"

#include <iostream>

#include "config.h"
#include "error.hpp"
#include "log.hpp"

namespace lbkit::cli {

void add_common(CLI::App& app, Common& c)
{
    app.set_version_flag("--version", std::string(app.get_name()) + " (lbkit) " PACKAGE_VERSION);
    app.add_flag("-v,--verbose", c.verbose, "More output (repeatable)");
    app.add_flag("-q,--quiet", c.quiet, "Only warnings and errors");
}

void add_daemon(CLI::App& app, Daemon& d, const std::string& default_listen)
{
    add_common(app, d);
    d.listen = default_listen;
    app.add_option("--listen", d.listen, "Address and port to listen on")->capture_default_str();
    app.add_option("--state-dir", d.state_dir, "Directory of the state file")->capture_default_str();
    app.add_option("--token-file", d.token_file,
                   "File with the shared token (default /etc/lbkit/token when it exists)");
    app.add_flag("--syslog", d.use_syslog, "Log to syslog instead of stderr");
    app.add_flag("-n", d.check_only, "Check the configuration and exit");
}

CLI::Option* add_duration(CLI::App& app, const std::string& name, Millis& target, const std::string& help)
{
    auto* opt = app.add_option_function<std::string>(
        name,
        [&target, name](const std::string& text) {
            try {
                target = parse_duration(text);
            } catch (const BadInput& e) {
                throw CLI::ValidationError(name, e.what());
            }
        },
        help);
    opt->default_str(format_duration(target));
    opt->type_name("DURATION");
    return opt;
}

int run(CLI::App& app, int argc, char** argv, const std::function<int()>& body)
{
    const std::string prog = app.get_name();
    // Subcommand callbacks run inside parse(), so one try covers both.
    try {
        app.parse(argc, argv);
        return body();
    } catch (const CLI::Success& e) {
        return app.exit(e);  // --help, --version
    } catch (const CLI::ParseError& e) {
        std::cerr << prog << ": usage: " << e.what() << "\n"
                  << "Run '" << prog << " --help' for the options.\n";
        return EX_USAGE;
    } catch (const Error& e) {
        std::cerr << prog << ": " << e.what() << "\n";
        return e.exit_code();
    } catch (const BadInput& e) {
        std::cerr << prog << ": " << e.what() << "\n";
        return EX_DATAERR;
    } catch (const std::exception& e) {
        std::cerr << prog << ": internal error: " << e.what() << "\n";
        return EX_SOFTWARE;
    }
}

}  // namespace lbkit::cli
