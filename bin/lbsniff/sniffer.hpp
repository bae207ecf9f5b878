// The daemon: opens the capture, wires packets through the engine to the
// outputs, and runs it all on one lbkit::Loop (capture descriptor, interval
// tick, reports, probes, the /metrics endpoint, SIGHUP reload, SIGTERM stop).
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "capture.hpp"
#include "engine.hpp"
#include "error.hpp"
#include "ev.hpp"
#include "httpc.hpp"
#include "httpd.hpp"
#include "loop.hpp"
#include "metrics.hpp"
#include "options.hpp"
#include "outputs.hpp"
#include "probe.hpp"
#include "reporter.hpp"
#include "watch.hpp"
#include "watch_from.hpp"

namespace lbsniff {

class Sniffer {
public:
    explicit Sniffer(Options& options);
    // Returns the exit status; throws lbkit::Error for what stops it early.
    int run();

private:
    void load_watch();
    Capture open_source() const;  // -i or -r, as given
    void open_capture();
    void check_capture();
    void start_http();
    void start_reading();
    void read_some();
    void tick();
    void quiet_pipe_tick();
    void finish_input();
    void finished_reporting();
    void reload();
    void reload_token();
    std::vector<WatchEntry> watch_list() const;
    void apply_watch_list(const std::string& why);
    void stop();
    void log_capture_stats(bool final);
    static void packet_cb(u_char* user, const pcap_pkthdr* h, const u_char* bytes);
    static void read_cb(evutil_socket_t, short, void* arg);

    Options& o_;
    lbkit::Loop loop_;
    lbkit::Metrics metrics_;
    std::vector<std::unique_ptr<Reporter>> reporters_;  // outlive http_: its callbacks point here
    std::unique_ptr<lbkit::httpc::Client> http_;
    Outputs outputs_;
    Engine engine_;
    std::optional<Capture> capture_;
    int dlt_ = -1;
    lbkit::ev::EventPtr read_ev_;
    std::optional<lbkit::Timer> tick_;
    std::optional<lbkit::Timer> deadline_;
    std::unique_ptr<Prober> prober_;
    std::unique_ptr<lbkit::httpd::Server> api_;
    std::vector<WatchEntry> watch_;
    std::vector<ServerSpec> specs_;
    std::string token_;
    std::vector<std::string> group_servers_;  // --watch-from: the servers of the table last read
    std::unique_ptr<GroupsFollower> follower_;
    uint64_t frames_ = 0, undecoded_ = 0;
    Micros last_ts_ = 0, last_wall_ = 0;  // newest packet stamp; when it was read
    pcap_stat last_stats_{};
    std::optional<lbkit::Error> read_error_;  // a corrupt file: reported after the flush
    bool reporting_done_ = false;
};

}  // namespace lbsniff
