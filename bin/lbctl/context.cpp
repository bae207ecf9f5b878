#include "context.hpp"

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>

#include "addr.hpp"
#include "api.hpp"
#include "auth.hpp"
#include "error.hpp"
#include "httpc.hpp"

namespace lbctl {

const char* default_url(Daemon d)
{
    return d == Daemon::proxy ? default_proxy_url : default_stated_url;
}

const char* url_variable(Daemon d)
{
    return d == Daemon::proxy ? "LBKIT_PROXY" : "LBKIT_STATED";
}

std::string Context::url(Daemon daemon) const
{
    if (!server.empty()) {
        try {
            return lbkit::http_base_url(server);
        } catch (const lbkit::BadInput& e) {
            throw lbkit::Error(EX_USAGE, std::string("-s ") + e.what());
        }
    }
    const char* env = std::getenv(url_variable(daemon));
    if (!env || !*env)
        return default_url(daemon);
    try {
        return lbkit::http_base_url(env);
    } catch (const lbkit::BadInput& e) {
        throw lbkit::Error(EX_CONFIG, std::string(url_variable(daemon)) + " " + e.what());
    }
}

lbkit::output::Format Context::output() const
{
    return lbkit::output::resolve(lbkit::output::parse_format(format));
}

namespace {

// The daemon answered that it has no such endpoint: -s names the other one.
std::string wrong_daemon(const std::string& path)
{
    if (path.rfind("/v1/history", 0) == 0 || path.rfind("/v1/tables", 0) == 0 || path.rfind("/v1/proxymap", 0) == 0)
        return "this is asked of lbproxy's admin API (by default http://127.0.0.1:7401), not of lbstated: "
               "give -s (or LBKIT_PROXY) the address of an lbproxy admin API";
    return "this is asked of lbstated (by default http://127.0.0.1:7400), not of lbproxy: "
           "give -s (or LBKIT_STATED) the address of lbstated";
}

// A 401 to an lbctl user: which token was sent, from where, and what to do.
std::string token_advice(const std::string& token_file, const std::string& sent)
{
    std::string file = token_file.empty() ? lbkit::auth::default_token_file : token_file;
    if (sent.empty())
        return "lbctl sent no token: " + file + " does not exist; give --token-file with the daemon's token";
    return "the daemon refused the token of " + file + ": it is not the daemon's (see its --token-file)";
}

}  // namespace

Json Context::call(Daemon daemon, const std::string& method, const std::string& path,
                   const std::optional<Json>& body, lbkit::Millis timeout) const
{
    const std::string base = url(daemon);
    const std::string prefix = (what.empty() ? "" : what + ": ") + base + ": ";
    lbkit::httpc::Request req;
    req.method = method;
    req.url = base + path;
    req.bearer = lbkit::auth::load_token(token_file);
    req.timeout = timeout;
    if (body)
        req.body = lbkit::api::dump(*body);
    if (verbose > 0)
        std::cerr << "lbctl: " << method << " " << req.url << (req.body.empty() ? "" : " " + req.body) << "\n";
    auto r = lbkit::httpc::fetch(req);
    if (verbose > 0)
        std::cerr << "lbctl: " << (r.error.empty() ? std::to_string(r.status) : r.error) << " in "
                  << static_cast<int>(r.seconds * 1000) << " ms\n";
    if (!r.error.empty())
        throw lbkit::Error(EX_UNAVAILABLE, prefix + r.error);
    if (r.status >= 200 && r.status < 300) {
        if (r.body.empty())
            return nullptr;
        Json j = Json::parse(r.body, nullptr, false);
        if (j.is_discarded())
            throw lbkit::Error(EX_SOFTWARE, prefix + "the answer is not JSON");
        return j;
    }
    if (r.status == 401)
        throw lbkit::Error(EX_NOPERM, prefix + r.describe() + "; " + token_advice(token_file, req.bearer));
    if (r.status == 404 && r.body.find("no such endpoint") != std::string::npos)
        throw lbkit::Error(EX_DATAERR, prefix + r.describe() + "; " + wrong_daemon(path));
    int code = EX_SOFTWARE;
    if (r.status == 401 || r.status == 403) code = EX_NOPERM;
    else if (r.status == 503) code = EX_UNAVAILABLE;
    else if (r.status >= 400 && r.status < 500) code = EX_DATAERR;
    throw lbkit::Error(code, prefix + r.describe());
}

namespace {

std::string format_time(int64_t ms, bool utc)
{
    time_t t = static_cast<time_t>(ms / 1000);
    struct tm tm {};
    if (utc) gmtime_r(&t, &tm);
    else localtime_r(&t, &tm);
    char date[64], zone[16];
    std::strftime(date, sizeof date, utc ? "%Y-%m-%dT%H:%M:%S" : "%Y-%m-%d %H:%M:%S", &tm);
    std::strftime(zone, sizeof zone, "%Z", &tm);
    char out[96];
    std::snprintf(out, sizeof out, utc ? "%s.%03dZ" : "%s.%03d %s", date, static_cast<int>(ms % 1000), zone);
    return out;
}

}  // namespace

std::string local_time(int64_t ms)
{
    return format_time(ms, false);
}

std::string utc_time(int64_t ms)
{
    return format_time(ms, true);
}

void print_json(const Json& j)
{
    std::cout << lbkit::api::dump(j, 2) << "\n";
}

}  // namespace lbctl
