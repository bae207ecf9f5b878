// lbproxy: the local forward proxy with load-dependent server selection.
// parse -> configure (-n stops here) -> state side -> proxy port -> loop.
#include <iostream>

#include "auth.hpp"
#include "cli.hpp"
#include "log.hpp"
#include "loop.hpp"
#include "metrics.hpp"
#include "proxy.hpp"
#include "proxy_config.hpp"
#include "state_side.hpp"

int main(int argc, char** argv)
{
    CLI::App app{"Local forward proxy that sends each request to the least loaded real server "
                 "behind a representative host name",
                 "lbproxy"};
    lbkit::cli::Daemon daemon;
    lbkit::cli::add_daemon(app, daemon, "127.0.0.1:3128");
    lbproxy::StateOptions state_options;
    lbproxy::add_state_options(app, state_options);
    lbproxy::ProxyOptions proxy_options;
    lbproxy::add_proxy_options(app, proxy_options);

    return lbkit::cli::run(app, argc, argv, [&] {
        lbkit::log::init("lbproxy", daemon.verbosity(), daemon.use_syslog);
        const lbproxy::ProxyConfig config = lbproxy::make_config(proxy_options, daemon.listen);
        const std::string token = lbkit::auth::load_token(daemon.token_file);
        if (daemon.check_only) {
            std::cout << "configuration OK\n";
            return 0;
        }
        lbkit::Loop loop;
        lbkit::Metrics metrics;
        lbproxy::StateSide state(loop, metrics, state_options, daemon.state_dir, token);
        lbproxy::Proxy proxy(loop, metrics, config, state.selection(), state.history());
        state.start();
        proxy.start();
        loop.on_reload([&] { state.reload(); });
        loop.on_stop([&] {
            proxy.stop();
            state.shutdown();
        });
        loop.run();
        return 0;
    });
}
