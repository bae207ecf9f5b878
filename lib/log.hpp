// Logging to stderr (default) or syslog. Messages are one line each and name
// the object, the operation and the cause, as the DIAGNOSTICS sections of the
// man pages list them.
#pragma once
#include <sstream>
#include <string>

namespace lbkit::log {

enum class Level { error = 0, warn = 1, info = 2, debug = 3 };

// verbosity: 0 = warnings and errors (-q), 1 = info (default), 2+ = debug (-v).
void init(const std::string& progname, int verbosity, bool use_syslog);
bool enabled(Level level);
void write(Level level, const std::string& line);

template <typename... Args>
std::string cat(const Args&... args)
{
    std::ostringstream out;
    (out << ... << args);
    return out.str();
}

template <typename... Args> void error(const Args&... a) { write(Level::error, cat(a...)); }
template <typename... Args> void warn(const Args&... a) { if (enabled(Level::warn)) write(Level::warn, cat(a...)); }
template <typename... Args> void info(const Args&... a) { if (enabled(Level::info)) write(Level::info, cat(a...)); }
template <typename... Args> void debug(const Args&... a) { if (enabled(Level::debug)) write(Level::debug, cat(a...)); }

}  // namespace lbkit::log
