#include "log.hpp"

#include <syslog.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>

namespace lbkit::log {
namespace {

std::string g_prog = "lbkit";
int g_verbosity = 1;
bool g_syslog = false;

int syslog_priority(Level l)
{
    switch (l) {
    case Level::error: return LOG_ERR;
    case Level::warn: return LOG_WARNING;
    case Level::info: return LOG_INFO;
    case Level::debug: return LOG_DEBUG;
    }
    return LOG_INFO;
}

const char* tag(Level l)
{
    switch (l) {
    case Level::error: return "error";
    case Level::warn: return "warning";
    case Level::info: return "info";
    case Level::debug: return "debug";
    }
    return "";
}

}  // namespace

void init(const std::string& progname, int verbosity, bool use_syslog)
{
    g_prog = progname;
    g_verbosity = verbosity;
    g_syslog = use_syslog;
    if (use_syslog)
        openlog(g_prog.c_str(), LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

bool enabled(Level level)
{
    // -q keeps warnings and errors; default adds info; -v adds debug.
    return static_cast<int>(level) <= g_verbosity + 1;
}

void write(Level level, const std::string& line)
{
    if (g_syslog) {
        syslog(syslog_priority(level), "%s", line.c_str());
        return;
    }
    using namespace std::chrono;
    auto now = system_clock::now();
    std::time_t t = system_clock::to_time_t(now);
    int ms = static_cast<int>(duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000);
    std::tm tm;
    gmtime_r(&t, &tm);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    std::fprintf(stderr, "%s.%03dZ %s[%d]: %s: %s\n", stamp, ms, g_prog.c_str(),
                 static_cast<int>(getpid()), tag(level), line.c_str());
}

}  // namespace lbkit::log
