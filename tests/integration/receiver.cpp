// lbtest-receiver: a stand-in for lbproxy's admin API in lbstated's tests.
// Takes POST /v1/state (optionally requiring a token, optionally failing
// with 503 while a flag file exists) and prints one line per push on stdout:
// "<unix ms> <version> <groups> <load,load,...>" (every server's load, in
// the order of the state).
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "api.hpp"
#include "cli.hpp"
#include "httpd.hpp"

int main(int argc, char** argv)
{
    CLI::App app{"lbtest-receiver: records state pushes", "lbtest-receiver"};
    std::string listen = "127.0.0.1:0", token, fail_flag;
    app.add_option("--listen", listen, "Address to listen on")->required();
    app.add_option("--token", token, "Require this bearer token");
    app.add_option("--fail-while", fail_flag, "Answer 503 while this file exists");
    return lbkit::cli::run(app, argc, argv, [&] {
        lbkit::Loop loop;
        lbkit::Metrics metrics;
        lbkit::httpd::Server server(loop, metrics, {token, 1 << 20, lbkit::httpd::Limits{}, "receiver"});
        server.add({"POST", "/v1/state", true, [&](lbkit::httpd::Request& req) {
                        struct stat st;
                        if (!fail_flag.empty() && stat(fail_flag.c_str(), &st) == 0)
                            return lbkit::httpd::Response::error(503, "told to fail");
                        auto state = lbkit::api::state_from_json(req.json_object());
                        auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::system_clock::now().time_since_epoch()).count();
                        std::string loads;
                        for (const auto& g : state.groups)
                            for (const auto& sv : g.servers) {
                                char num[32];
                                std::snprintf(num, sizeof num, "%g", sv.load);
                                loads += (loads.empty() ? "" : ",") + std::string(num);
                            }
                        std::printf("%lld %llu %zu %s\n", static_cast<long long>(now),
                                    static_cast<unsigned long long>(state.version), state.groups.size(),
                                    loads.empty() ? "-" : loads.c_str());
                        std::fflush(stdout);
                        return lbkit::httpd::Response::no_content();
                    }});
        server.listen(listen);
        loop.run();
        return 0;
    });
}
