// lbproxy: the local forward proxy with load-dependent server selection.
// parse -> configure (-n stops here) -> control plane -> proxy port -> loop.
#include <malloc.h>

#include <iostream>

#include "auth.hpp"
#include "cli.hpp"
#include "log.hpp"
#include "loop.hpp"
#include "metrics.hpp"
#include "proxy.hpp"
#include "proxy_config.hpp"
#include "control_plane.hpp"

namespace {

// A relayed body passes through evbuffer chains of up to 256 KiB (the read
// limit), each freed once it is sent. With glibc's defaults such a chain is
// mmap()ed, and the top of the heap goes back to the system whenever 128 KiB
// of it is free: every 4 KiB of body then cost a page fault (about 200 per
// 1 MiB response, half the throughput). Only a side effect hid it, when the
// history queue grew and freed a large block, which raised glibc's sliding
// thresholds. Fixed ones keep the chains in the heap, and up to 16 MiB of
// freed heap in place for the next bodies.
void keep_relay_memory()
{
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
    mallopt(M_TRIM_THRESHOLD, 16 << 20);
}

}  // namespace

int main(int argc, char** argv)
{
    keep_relay_memory();
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
            lbproxy::check_state_options(state_options);
            std::cout << "configuration OK\n";
            return 0;
        }
        lbkit::Loop loop;
        lbkit::Metrics metrics;
        lbproxy::ControlPlane state(loop, metrics, state_options, daemon.state_dir, token);
        lbproxy::Proxy proxy(loop, metrics, config, state.chooser(), state.history(), state.upstream());
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
