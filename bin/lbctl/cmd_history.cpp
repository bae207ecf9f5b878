// lbctl history: lbproxy's relay history (GET /v1/history on its admin API),
// as a table, TSV, JSON, or Squid's native access.log format so existing log
// analyzers read it:
//   time.ms elapsed client code/status bytes method URL user hierarchy/host type
#include <sys/time.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <memory>

#include "context.hpp"
#include "duration.hpp"
#include "error.hpp"
#include "httpd.hpp"

namespace lbctl {

namespace {

struct HistoryOptions {
    std::string since;
    std::string backend;
    std::string old_server;  // history --server, read as -s before: refused
    std::string group;
    bool failed = false;
    int64_t limit = 100;
    std::string format;  // "squid", or empty for -o
};

// --since: Unix seconds ("1700000000", "1700000000.5") or a duration ago
// ("10m", "2h", "90s"). A bare number is always a time, never a duration.
double since_seconds(const std::string& text)
{
    std::size_t used = 0;
    double v = -1;
    try {
        v = std::stod(text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used == text.size() && used > 0 && std::isfinite(v) && v >= 0) return v;
    try {
        auto ago = lbkit::parse_duration(text);
        auto now = std::chrono::system_clock::now().time_since_epoch();
        double s = std::chrono::duration<double>(now).count() - static_cast<double>(ago.count()) / 1000.0;
        return s < 0 ? 0 : s;
    } catch (const lbkit::BadInput&) {
        throw lbkit::Error(EX_USAGE, "history --since '" + text +
                                         "': not Unix seconds nor a duration ago such as 10m");
    }
}

std::string query(const HistoryOptions& o)
{
    using lbkit::httpd::url_encode;
    std::string q = "/v1/history?limit=" + std::to_string(o.limit);
    if (!o.since.empty()) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.3f", since_seconds(o.since));
        q += std::string("&since=") + buf;
    }
    if (!o.backend.empty()) q += "&server=" + url_encode(o.backend);
    if (!o.group.empty()) q += "&group=" + url_encode(o.group);
    if (o.failed) q += "&failed=1";
    return q;
}

// The time of a row: for a reader, local time with its zone; for a script,
// one word in UTC that sorts as text and needs no zone.
std::string row_time(int64_t ms, lbkit::output::Format f)
{
    return f == lbkit::output::Format::table ? local_time(ms) : utc_time(ms);
}

// "127.0.0.1:5342" -> "127.0.0.1", "[::1]:5342" -> "::1".
std::string ip_only(const std::string& addr)
{
    if (!addr.empty() && addr[0] == '[') {
        auto end = addr.find(']');
        return end == std::string::npos ? addr : addr.substr(1, end - 1);
    }
    auto colon = addr.rfind(':');
    return colon == std::string::npos || addr.find(':') != colon ? addr : addr.substr(0, colon);
}

std::string or_dash(const std::string& s)
{
    return s.empty() ? "-" : s;
}

// Whether a server was reached for the row. A proxy older than the
// "reached" field is judged by whether it names a server.
bool reached(const Json& r)
{
    return r.value("reached", !r.value("server", "").empty());
}

// Squid's result code: TAG_NONE when no server was reached (a CONNECT
// too), TCP_TUNNEL for CONNECT, _ABORTED when the client did not get the
// whole response.
std::string squid_code(const Json& r)
{
    std::string method = r.value("method", "");
    std::string code = !reached(r) ? "TAG_NONE" : method == "CONNECT" ? "TCP_TUNNEL" : "TCP_MISS";
    if (!r.value("delivered", false) && r.value("status", 0) != 0 && method != "CONNECT") code += "_ABORTED";
    return code;
}

std::string squid_hierarchy(const Json& r)
{
    std::string server = r.value("server", "");
    std::string proxy = r.value("upstream_proxy", "");
    if (server.empty() || proxy == "-") return "HIER_NONE/-";
    if (!proxy.empty() && proxy != "DIRECT") return "FIRSTUP_PARENT/" + proxy;
    // host:port as the groups table names it: the servers of one host
    // on several ports stay apart.
    return "HIER_DIRECT/" + server;
}

void print_squid(const Json& rows)
{
    for (const auto& r : rows) {
        int64_t t = r.value("time_ms", int64_t{0});
        std::printf("%lld.%03lld %6lld %s %s/%03d %lld %s %s - %s -\n",
                    static_cast<long long>(t / 1000), static_cast<long long>(t % 1000),
                    static_cast<long long>(r.value("duration_ms", int64_t{0})),
                    or_dash(ip_only(r.value("client", ""))).c_str(), squid_code(r).c_str(),
                    r.value("status", 0), static_cast<long long>(r.value("bytes_out", int64_t{0})),
                    or_dash(r.value("method", "")).c_str(), or_dash(r.value("url", "")).c_str(),
                    squid_hierarchy(r).c_str());
    }
}

void print_rows(const Json& rows, lbkit::output::Format f)
{
    if (f == lbkit::output::Format::json) {
        print_json(rows);
        return;
    }
    std::vector<lbkit::output::Row> out;
    for (const auto& r : rows) {
        out.push_back({row_time(r.value("time_ms", int64_t{0}), f), r.value("client", ""), r.value("method", ""),
                       r.value("url", ""), or_dash(r.value("group", "")), or_dash(r.value("server", "")),
                       std::to_string(r.value("status", 0)),
                       std::to_string(r.value("bytes_out", int64_t{0})),
                       std::to_string(r.value("duration_ms", int64_t{0})),
                       r.value("delivered", false) ? "yes" : "no", or_dash(r.value("error", ""))});
    }
    lbkit::output::print(std::cout, f,
                         {"TIME", "CLIENT", "METHOD", "URL", "GROUP", "SERVER", "STATUS", "BYTES", "MS", "DELIVERED", "ERROR"},
                         out);
}

}  // namespace

void add_history(CLI::App& app, Context& ctx)
{
    auto o = std::make_shared<HistoryOptions>();
    CLI::App* cmd = app.add_subcommand("history", "Show lbproxy's relay history (default -s $LBKIT_PROXY, else " +
                                                      std::string(default_proxy_url) + ")");
    cmd->add_option("--since", o->since, "Rows since T: Unix seconds, or a duration ago such as 10m")->type_name("T");
    cmd->add_option("--backend", o->backend, "Only rows relayed to this server (host:port as in the groups table)")
        ->type_name("SERVER");
    // Once the filter's name: one command line named the daemon with -s and
    // the filter with --server, and the filter won. Refused, hidden.
    cmd->add_option("--server", o->old_server)->group("");
    cmd->add_option("--group", o->group, "Only rows of this representative name");
    cmd->add_flag("--failed", o->failed, "Only failed rows: an error, no response, a 5xx, or not delivered");
    cmd->add_option("--limit", o->limit, "The newest N rows (default 100)")->check(CLI::Range(1, 100000));
    cmd->add_option("--format", o->format, "squid: Squid's native access.log format")
        ->check(CLI::IsMember({"squid"}));
    cmd->callback([o, &ctx] {
        if (o->format == "squid" && ctx.format != "auto")
            throw CLI::ValidationError("--format squid", "prints Squid's access.log lines, not -o " + ctx.format +
                                                             ": give one or the other");
        if (!o->old_server.empty())
            throw CLI::ValidationError("--server", "the server filter of history is --backend SERVER; the daemon's URL is -s URL");
        ctx.what = "history";
        Json answer = ctx.call(Daemon::proxy, "GET", query(*o));
        Json rows = answer.is_object() && answer.contains("rows") ? answer["rows"] : Json::array();
        if (o->format == "squid") print_squid(rows);
        else print_rows(rows, ctx.output());
    });
}

}  // namespace lbctl
