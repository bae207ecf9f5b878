#include "context.hpp"

#include <iostream>

#include "api.hpp"
#include "auth.hpp"
#include "error.hpp"
#include "httpc.hpp"

namespace lbctl {

std::string Context::url(const char* default_url) const
{
    std::string u = server.empty() ? default_url : server;
    if (u.find("://") == std::string::npos)
        u = "http://" + u;
    while (!u.empty() && u.back() == '/')
        u.pop_back();
    return u;
}

lbkit::output::Format Context::output() const
{
    return lbkit::output::resolve(lbkit::output::parse_format(format));
}

Json Context::call(const char* default_url, const std::string& method, const std::string& path,
                   const std::optional<Json>& body, lbkit::Millis timeout) const
{
    const std::string base = url(default_url);
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
    int code = EX_SOFTWARE;
    if (r.status == 401 || r.status == 403) code = EX_NOPERM;
    else if (r.status == 503) code = EX_UNAVAILABLE;
    else if (r.status >= 400 && r.status < 500) code = EX_DATAERR;
    throw lbkit::Error(code, prefix + r.describe());
}

void print_json(const Json& j)
{
    std::cout << lbkit::api::dump(j, 2) << "\n";
}

}  // namespace lbctl
