#include "cli.hpp"

#include <algorithm>
#include <cmath>
#include <iostream>
#include <vector>

#include "auth.hpp"
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

CLI::Option* add_token_file(CLI::App& app, std::string& target)
{
    return app.add_option("--token-file", target, std::string("File with the shared token (default ") +
                                                      auth::default_token_file + " when it exists)");
}

void add_daemon(CLI::App& app, Daemon& d, const std::string& default_listen)
{
    add_common(app, d);
    d.listen = default_listen;
    app.add_option("--listen", d.listen, "Address and port to listen on")->capture_default_str();
    app.add_option("--state-dir", d.state_dir, "Directory of the state file")->capture_default_str();
    add_token_file(app, d.token_file);
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

namespace {

CLI::Validator number_check(bool zero_allowed)
{
    return CLI::Validator(
        [zero_allowed](std::string& text) -> std::string {
            double v = 0;
            std::size_t used = 0;
            try {
                v = std::stod(text, &used);
            } catch (const std::exception&) {
                used = 0;
            }
            if (used == 0 || used != text.size() || !std::isfinite(v))
                return "'" + text + "' is not a number";
            if (zero_allowed ? v < 0 : v <= 0)
                return zero_allowed ? "must be >= 0" : "must be > 0";
            return "";
        },
        zero_allowed ? "NUMBER >= 0" : "NUMBER > 0");
}

// Edits (insert, delete, replace, swap of neighbours) from a to b.
std::size_t distance(const std::string& a, const std::string& b)
{
    std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
    for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
    for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i)
        for (std::size_t j = 1; j <= b.size(); ++j) {
            d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1])});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
        }
    return d[a.size()][b.size()];
}

// The known word nearest to word, when near enough to be a slip.
std::string nearest(const std::string& word, const std::vector<std::string>& known)
{
    std::string best;
    std::size_t best_d = std::max<std::size_t>(2, word.size() / 3) + 1;
    for (const auto& k : known) {
        std::size_t d = distance(word, k);
        if (d < best_d || (d == best_d && !best.empty() && k.size() < best.size()) ||
            (k.rfind(word, 0) == 0 && word.size() >= 3 && best.empty())) {
            best = k;
            best_d = std::min(d, best_d);
        }
    }
    return best;
}

// The app the user got to: the last subcommand given, or the app itself.
const CLI::App* innermost(const CLI::App& app)
{
    const CLI::App* at = &app;
    for (bool deeper = true; deeper;) {
        deeper = false;
        for (const CLI::App* sub : at->get_subcommands())
            if (sub->parsed()) {
                at = sub;
                deeper = true;
                break;
            }
    }
    return at;
}

std::vector<std::string> long_options(const CLI::App* app)
{
    std::vector<std::string> out;
    for (const CLI::App* a = app; a; a = a->get_parent())
        for (const CLI::Option* o : a->get_options())
            for (const auto& n : o->get_lnames()) out.push_back("--" + n);
    return out;
}

std::vector<std::string> commands(const CLI::App* app)
{
    std::vector<std::string> out;
    for (const CLI::App* sub : app->get_subcommands({})) out.push_back(sub->get_name());
    return out;
}

// "unknown command 'stauts' (did you mean 'status'?)", or "" when the
// error is not about an unknown word.
std::string unknown_word(const CLI::App& app, const std::vector<std::string>& extras)
{
    if (extras.empty())
        return "";
    const CLI::App* at = innermost(app);
    const std::string& word = extras.front();
    bool option = word.size() > 1 && word[0] == '-';
    std::string name = option ? word.substr(0, word.find('=')) : word;
    std::vector<std::string> known = option ? long_options(at) : commands(at);
    if (!option && known.empty())
        return "";  // an extra argument where the command takes none: CLI11's sentence says it
    std::string out = std::string(option ? "unknown option '" : "unknown command '") + name + "'";
    std::string guess = nearest(name, known);
    if (!guess.empty())
        out += " (did you mean '" + guess + "'?)";
    return out;
}

}  // namespace

const CLI::Validator positive = number_check(false);
const CLI::Validator non_negative = number_check(true);

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
        std::string unknown = unknown_word(app, app.remaining());
        const CLI::App* at = innermost(app);
        std::string help = at == &app ? prog + " --help" : prog + " " + at->get_name() + " --help";
        std::cerr << prog << ": usage: " << (unknown.empty() ? std::string(e.what()) : unknown) << "\n"
                  << "Run '" << help << "' for the options.\n";
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
