#include "sniffer.hpp"

#include <cstdio>
#include <iostream>

#include "auth.hpp"
#include "decode.hpp"
#include "clock.hpp"
#include "error.hpp"
#include "filter.hpp"
#include "log.hpp"
#include "privileges.hpp"

namespace lbsniff {

using lbkit::Error;
using lbkit::Millis;
namespace log = lbkit::log;

namespace {

constexpr int file_batch = 4096;       // packets read from a file per loop turn
constexpr Millis live_tick{100};       // interval and SYN timeout resolution, live
constexpr Millis report_deadline{10000};  // end of a file: wait this long for lbstated

EngineConfig engine_config(const Options& o)
{
    EngineConfig c;
    c.interval = Micros(o.interval.count()) * 1000;
    c.syn_timeout = Micros(o.syn_timeout.count()) * 1000;
    c.down_after = o.down_after;
    c.up_after = o.up_after;
    c.metric = o.metric;
    c.max_flows = o.max_flows;
    return c;
}

}  // namespace

Sniffer::Sniffer(Options& options)
    : o_(options), outputs_(metrics_, options.to_stdout ? stdout : nullptr, reporters_),
      engine_(engine_config(options), outputs_)
{
}

int Sniffer::run()
{
    log::init("lbsniff", o_.verbosity(), o_.use_syslog);
    load_watch();
    if (o_.print_filter) {
        std::string expr = filter_candidates(specs_, o_.filter).front();
        Capture::check_filter(expr, o_.filter);
        std::cout << expr << "\n";
        return 0;
    }
    token_ = lbkit::auth::load_token(o_.token_file);
    if (o_.check_only) {
        // What a start would refuse: the interface, the permission to
        // capture on it, the file, the filter.
        check_capture();
        std::cout << "configuration OK\n";
        return 0;
    }
    open_capture();
    start_http();
    if (!o_.user.empty())
        drop_privileges(o_.user);

    http_ = std::make_unique<lbkit::httpc::Client>(loop_);
    for (const auto& url : o_.report)
        reporters_.push_back(std::make_unique<Reporter>(loop_, *http_, metrics_, url, token_, o_.notifier, o_.interval));
    engine_.set_servers(specs_);
    outputs_.set_servers(specs_);
    if (o_.probe.kind != Probe::none) {
        prober_ = std::make_unique<Prober>(loop_, *http_, engine_, o_.probe, o_.probe_interval);
        prober_->set_targets(specs_);
    }
    if (!o_.watch_from.empty()) {
        follower_ = std::make_unique<GroupsFollower>(
            loop_, *http_, o_.watch_from_base, group_servers_, [this](const std::vector<std::string>& servers) {
                group_servers_ = servers;
                apply_watch_list("--watch-from " + o_.watch_from_base + ": groups changed");
            });
        follower_->start();
    }
    loop_.on_reload([this] { reload(); });
    loop_.on_stop([this] { stop(); });
    start_reading();
    loop_.run();
    std::fflush(stdout);
    if (read_error_)
        throw *read_error_;
    if (capture_ && !capture_->live() && !reporters_.empty()) {
        for (const auto& r : reporters_) {
            if (r->refused())
                throw Error(EX_PROTOCOL, "report to " + r->url() + ": refused: " + r->last_refusal());
            if (!r->delivered())
                throw Error(EX_TEMPFAIL, "report to " + r->url() + ": not delivered before the end: " +
                                             r->last_failure());
        }
    }
    return 0;
}

void Sniffer::load_watch()
{
    if (!o_.watch_from.empty())
        group_servers_ = fetch_group_servers(o_.watch_from_base);
    watch_ = watch_list();
    specs_ = resolve_watch_list(watch_);
}

// --watch and --watch-file, and the servers of the groups table last read
// that --watch-net lets in (a name in both counts once).
std::vector<WatchEntry> Sniffer::watch_list() const
{
    auto entries = load_watch_list(o_.watch, o_.watch_file);
    if (!o_.watch_from.empty()) {
        auto more = watch_entries_from_groups(group_servers_, o_.watch_nets, entries, o_.watch_from_base);
        entries.insert(entries.end(), more.begin(), more.end());
    }
    if (entries.empty()) {
        if (!o_.watch_from.empty())
            throw Error(EX_CONFIG, "--watch-from " + o_.watch_from_base + ": no server of the groups table" +
                                       (o_.watch_nets.empty() ? "" : " is in --watch-net") +
                                       (o_.watch_file.empty() ? "" : ", and none in " + o_.watch_file));
        throw Error(EX_CONFIG, "watch file " + o_.watch_file + ": no server in it");
    }
    return entries;
}

Capture Sniffer::open_source() const
{
    if (!o_.read_file.empty())
        return Capture::open_offline(o_.read_file);
    return Capture::open_live({o_.interface, o_.snaplen, o_.buffer_bytes, !o_.no_promisc});
}

void Sniffer::check_capture()
{
    auto candidates = filter_candidates(specs_, o_.filter);
    // Standard input is the data itself: -n does not read it.
    if (o_.read_file == "-" || (o_.interface.empty() && o_.read_file.empty())) {
        Capture::check_filter(candidates.front(), o_.filter);
        return;
    }
    open_source().set_filter(candidates, o_.filter);
}

void Sniffer::open_capture()
{
    if (o_.interface.empty() && o_.read_file.empty()) {
        log::info("no capture: probing ", specs_.size(), " server(s) only (loads stay 0)");
        return;
    }
    capture_.emplace(open_source());
    dlt_ = capture_->datalink();
    std::string expr = capture_->set_filter(filter_candidates(specs_, o_.filter), o_.filter);
    log::info(capture_->live() ? "capturing on " : "reading ", capture_->name(), " (", link_name(dlt_), "), ",
              specs_.size(), " server(s) watched", expr.empty() ? "" : ", filter: " + expr);

    metrics_.gauge_fn("lbsniff_frames", "Frames read from the capture", [this] { return double(frames_); });
    metrics_.gauge_fn("lbsniff_frames_undecoded", "Frames that are not TCP over IPv4/IPv6 (or fragments)",
                      [this] { return double(undecoded_); });
    metrics_.gauge_fn("lbsniff_segments_ignored", "TCP segments of no watched server",
                      [this] { return double(engine_.ignored()); });
    metrics_.gauge_fn("lbsniff_flows", "Connections tracked", [this] { return double(engine_.flows().size()); });
    metrics_.gauge_fn("lbsniff_flows_untracked", "Connections not tracked: flow table full",
                      [this] { return double(engine_.flows().untracked()); });
    if (capture_->live()) {
        metrics_.gauge_fn("lbsniff_capture_received", "Packets the kernel passed to the capture (pcap_stats)",
                          [this] { pcap_stat s{}; capture_->stats(s); return double(s.ps_recv); });
        metrics_.gauge_fn("lbsniff_capture_dropped", "Packets dropped for lack of buffer space (pcap_stats)",
                          [this] { pcap_stat s{}; capture_->stats(s); return double(s.ps_drop); });
        metrics_.gauge_fn("lbsniff_capture_if_dropped", "Packets dropped by the interface (pcap_stats)",
                          [this] { pcap_stat s{}; capture_->stats(s); return double(s.ps_ifdrop); });
    }
}

void Sniffer::start_http()
{
    if (o_.listen.empty())
        return;
    lbkit::httpd::Options opts;
    opts.token = token_;
    opts.service = "lbsniff";
    opts.limits = o_.listen_limits;
    api_ = std::make_unique<lbkit::httpd::Server>(loop_, metrics_, opts);
    api_->on_health([this] {
        lbkit::httpd::Json servers = lbkit::httpd::Json::array();
        for (std::size_t i = 0; i < engine_.servers(); ++i)
            servers.push_back({{"name", engine_.name(i)}, {"state", to_string(engine_.state(i))},
                               {"load", engine_.last_load(i)}});
        lbkit::httpd::Json j = {{"servers", servers}, {"reports", lbkit::httpd::Json::array()}};
        if (capture_)
            j.update({{"capture", capture_->name()}, {"link", link_name(dlt_)}, {"live", capture_->live()}});
        else
            j["capture"] = nullptr;
        // Not ok while the last reports to an lbstated were refused or
        // failed: the sniffer runs, but the state manager does not hear it.
        std::string reasons;
        for (const auto& r : reporters_) {
            j["reports"].push_back(r->health());
            if (std::string t = r->trouble(); !t.empty())
                reasons += (reasons.empty() ? "" : "; ") + t;
        }
        if (!reasons.empty())
            j.update({{"status", "reports failing"}, {"reason", reasons}});
        return j;
    });
    api_->listen(o_.listen);
    log::info("serving /metrics and /v1/health on ", o_.listen,
              o_.listen.size() > 2 && o_.listen.substr(o_.listen.size() - 2) == ":0"
                  ? " (port " + std::to_string(api_->bound_port()) + ")" : "");
}

void Sniffer::start_reading()
{
    if (!capture_) {  // probes only: the clock drives the intervals
        engine_.start(lbkit::unix_us());
        tick_.emplace(loop_, [this] { tick(); });
        tick_->start(live_tick, true);
        return;
    }
    int fd = capture_->wait_fd();
    short kind = fd >= 0 ? EV_READ | EV_PERSIST : 0;
    read_ev_.reset(event_new(loop_.base(), fd, kind, &Sniffer::read_cb, this));
    if (capture_->live()) {
        engine_.start(lbkit::unix_us());
        tick_.emplace(loop_, [this] { tick(); });
        tick_->start(live_tick, true);
    } else if (fd >= 0) {
        tick_.emplace(loop_, [this] { quiet_pipe_tick(); });
        tick_->start(live_tick, true);
    }
    if (fd >= 0)
        event_add(read_ev_.get(), nullptr);
    if (capture_->ready())
        event_active(read_ev_.get(), EV_READ, 0);
}

void Sniffer::read_cb(evutil_socket_t, short, void* arg)
{
    static_cast<Sniffer*>(arg)->read_some();
}

void Sniffer::packet_cb(u_char* user, const pcap_pkthdr* h, const u_char* bytes)
{
    auto* self = reinterpret_cast<Sniffer*>(user);
    ++self->frames_;
    Packet p;
    if (!decode(self->dlt_, bytes, h->caplen, p)) {
        ++self->undecoded_;
        return;
    }
    self->last_ts_ = Micros(h->ts.tv_sec) * 1'000'000 + h->ts.tv_usec;
    self->engine_.packet(self->last_ts_, p);
}

void Sniffer::read_some()
{
    auto* user = reinterpret_cast<u_char*>(this);
    try {
        if (capture_->live()) {
            // A few buffers per wake-up, then let timers and reports run.
            for (int i = 0; i < 8 && capture_->dispatch(-1, &Sniffer::packet_cb, user) > 0; ++i) {
            }
            return;
        }
        if (capture_->dispatch(file_batch, &Sniffer::packet_cb, user) > 0)
            last_wall_ = lbkit::unix_us();
    } catch (const Error& e) {
        // Never let an exception cross libevent: keep it for run() to throw.
        read_error_ = e;
        if (capture_->live()) {
            event_del(read_ev_.get());
            loop_.stop();
            return;
        }
        // A corrupt file: what was counted so far is still reported.
    }
    if (capture_->at_end()) {
        event_del(read_ev_.get());
        finish_input();
        return;
    }
    std::fflush(stdout);
    if (capture_->ready())
        event_active(read_ev_.get(), EV_READ, 0);
}

void Sniffer::tick()
{
    engine_.advance(lbkit::unix_us());
    std::fflush(stdout);
    log_capture_stats(false);
}

// A pipe (tcpdump -U -w - | lbsniff -r -) that goes quiet: time goes on with
// the clock from the last packet's stamp, so the last interval and the SYN
// timeouts are reported without waiting for the next packet. A file read
// through a pipe is never quiet for a whole interval, so its figures stay
// those of its stamps.
void Sniffer::quiet_pipe_tick()
{
    if (!engine_.started() || capture_->at_end())
        return;
    Micros idle = lbkit::unix_us() - last_wall_;
    if (idle >= Micros(o_.interval.count()) * 1000) {
        engine_.advance(last_ts_ + idle);
        std::fflush(stdout);
    }
}

void Sniffer::log_capture_stats(bool final)
{
    pcap_stat s{};
    if (!capture_ || !capture_->stats(s))
        return;
    if (final) {
        log::info("capture on ", capture_->name(), ": ", s.ps_recv, " packets received, ", s.ps_drop,
                  " dropped by the kernel, ", s.ps_ifdrop, " dropped by the interface");
    } else if (s.ps_drop > last_stats_.ps_drop) {
        log::warn("capture on ", capture_->name(), ": ", s.ps_drop - last_stats_.ps_drop,
                  " packets dropped by the kernel (raise --buffer, or narrow --filter)");
    }
    last_stats_ = s;
}

void Sniffer::finish_input()
{
    engine_.finish();
    std::fflush(stdout);
    if (reporters_.empty())
        return loop_.stop();
    deadline_.emplace(loop_, [this] { finished_reporting(); });
    deadline_->start(report_deadline);
    for (auto& r : reporters_) {
        r->on_done([this] {
            for (auto& each : reporters_)
                if (each->busy())
                    return;
            finished_reporting();
        });
        r->flush_now();
    }
    // Nothing was waiting anywhere: done already.
    for (auto& r : reporters_)
        if (r->busy())
            return;
    finished_reporting();
}

void Sniffer::finished_reporting()
{
    if (reporting_done_)
        return;
    reporting_done_ = true;
    loop_.stop();
}

void Sniffer::reload()
{
    reload_token();
    apply_watch_list("reload");
}

void Sniffer::apply_watch_list(const std::string& why)
{
    try {
        auto entries = watch_list();
        auto specs = resolve_watch_list(entries);
        std::string expr = capture_ ? capture_->set_filter(filter_candidates(specs, o_.filter), o_.filter) : "";
        watch_ = std::move(entries);
        specs_ = std::move(specs);
        engine_.set_servers(specs_);
        outputs_.set_servers(specs_);
        if (prober_)
            prober_->set_targets(specs_);
        log::info(why, ": ", specs_.size(), " server(s) watched", expr.empty() ? "" : ", filter: " + expr);
    } catch (const std::exception& e) {
        log::error(why, ": ", e.what(), ": keeping the watch list in force");
    }
}

// A token refused by lbstated is fixed in the token file, then SIGHUP:
// the reports kept meanwhile go at once with the new one.
void Sniffer::reload_token()
{
    try {
        std::string token = lbkit::auth::load_token(o_.token_file);
        if (token == token_)
            return;
        token_ = std::move(token);
        for (auto& r : reporters_)
            r->set_token(token_);
        log::info("reload: token read again");
    } catch (const std::exception& e) {
        log::error("reload: ", e.what(), ": keeping the token in force");
    }
}

void Sniffer::stop()
{
    if (!capture_ || capture_->live()) {
        engine_.advance(lbkit::unix_us());
        log_capture_stats(true);
    }
    std::fflush(stdout);
}

}  // namespace lbsniff
