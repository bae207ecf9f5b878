#include "stated.hpp"

#include <set>

#include "clock.hpp"
#include "error.hpp"
#include "log.hpp"
#include "output.hpp"
#include "table.hpp"

namespace lbstated {

Stated::Stated(lbkit::Loop& loop, lbkit::Metrics& metrics, const Options& options,
               const std::string& state_dir, const std::string& token)
    : loop_(loop), metrics_(metrics), options_(options),
      lock_(state_dir, "lbstated"),
      store_(lbkit::store::state_path(state_dir, "lbstated.db")),
      model_(options.stale_after.count()), http_(loop),
      sweep_(loop, [this] {
          model_.expire_ejections(now_ms());
          if (auto gone = model_.sweep(now_ms()); !gone.empty()) {
              lbkit::log::info("reports stopped: ", lbkit::output::join(gone), gone.size() == 1 ? " is" : " are", " now unknown (version ",
                               model_.version(), ")");
              changed(true);
          }
      })
{
    subscribers_ = std::make_unique<Subscribers>(loop_, http_, store_, metrics_, options_.delivery, token,
                                                 [this] { return state_body(); });
    metrics_.gauge_fn("lbstated_state_version", "Version of the state", [this] { return static_cast<double>(model_.version()); });
    metrics_.on_scrape([this] { update_server_metrics(); });
}

int64_t Stated::now_ms() const
{
    return lbkit::monotonic_ms();
}

void Stated::start()
{
    model_.restore_version(store_.version_ceiling());
    model_.on_reserve([this](uint64_t ceiling) { store_.set_version_ceiling(ceiling); });
    for (const auto& [server, pin] : store_.pins())
        model_.restore_pin(server, pin);
    for (const auto& server : store_.drains())
        model_.restore_drain(server);

    auto stored = store_.groups();
    std::string file_text;
    if (!options_.groups_file.empty())
        file_text = lbkit::table::read_file(options_.groups_file);
    if (!options_.groups_file.empty() && (!stored || stored->file_text != file_text)) {
        apply_groups(read_now(parse_groups(file_text, options_.groups_file)), file_text);
    } else if (stored) {
        // The file is as it was when last read: what the API set since wins.
        file_text_ = stored->file_text;
        Groups g = parse_groups(stored->text, stored->source);
        g.from_api = stored->from_api;
        g.set_ms = stored->set_ms;
        if (g.from_api && !options_.groups_file.empty())
            lbkit::log::info("keeping the groups of ", g.source, " over ", options_.groups_file,
                             ", unchanged since it was last read; `lbctl reload` or SIGHUP returns to the file");
        apply_groups(std::move(g), stored->file_text);
    } else {
        lbkit::log::warn("no groups: start with --groups FILE or send them with PUT /v1/groups");
    }
    subscribers_->start();
    sweep_.start(lbkit::Millis(200), true);
}

void Stated::apply_groups(Groups g, const std::string& file_text)
{
    for (const auto& w : g.warnings)
        lbkit::log::warn(w);
    std::size_t servers = 0;
    for (const auto& grp : g.groups)
        servers += grp.members.size();
    store_.save_groups(StoredGroups{g.text, g.source, file_text, g.from_api, g.set_ms});
    file_text_ = file_text;
    lbkit::log::info("groups from ", g.source, ": ", g.groups.size(), " groups, ", servers, " servers");
    model_.set_groups(std::move(g));
    changed(true);
}

// A table read or set now, as opposed to one restored from the state file,
// which keeps its time.
Groups Stated::read_now(Groups g)
{
    g.set_ms = lbkit::unix_ms();
    return g;
}

void Stated::reload_groups_file()
{
    if (options_.groups_file.empty())
        throw lbkit::BadInput("no groups file: lbstated was started without --groups");
    std::string text = lbkit::table::read_file(options_.groups_file);
    apply_groups(read_now(parse_groups(text, options_.groups_file)), text);
}

void Stated::replace_groups(const std::string& text, const std::string& who)
{
    Groups g = parse_groups(text, "groups");
    g.source = "api (" + who + ")";
    g.from_api = true;
    apply_groups(read_now(std::move(g)), file_text_);
}

StateBody Stated::state_body()
{
    // Ejections reported by proxies, and the ages of figures a report
    // repeated, show in the body without a new version.
    if (!cached_.json || cached_.version != model_.version() || cached_ejections_ != model_.ejection_serial() ||
        cached_reports_ != model_.report_serial()) {
        auto view = model_.view(now_ms());
        auto loads = std::make_shared<std::vector<double>>();
        for (const auto& g : view.groups)
            for (const auto& sv : g.servers)
                loads->push_back(sv.ratio > 0 ? sv.load / sv.ratio : sv.load);
        cached_.version = model_.version();
        cached_ejections_ = model_.ejection_serial();
        cached_reports_ = model_.report_serial();
        cached_.json = std::make_shared<const std::string>(lbkit::api::dump(lbkit::api::to_json(view)));
        cached_.loads = std::move(loads);
    }
    return cached_;
}

ReportOutcome Stated::apply_report(const lbkit::api::Report& report)
{
    auto outcome = model_.apply_report(report, now_ms());
    if (outcome.transition)
        lbkit::log::info("report from ", report.notifier, ": state changed (version ", model_.version(), ")");
    // A report that repeats what the state shows wakes no one: no push, no
    // long poll answered, the same version.
    if (outcome.changed)
        changed(outcome.transition);
    return outcome;
}

// " (groups a, b)" for the log: a server may serve several groups, and a pin
// or a drain applies in all of them.
std::string Stated::in_groups(const std::string& server) const
{
    auto names = model_.groups().groups_of(server);
    return names.size() < 2 ? "" : " (groups " + lbkit::output::join(names) + ")";
}

void Stated::pin(const std::string& server, const lbkit::api::Pin& pin, const std::string& who)
{
    store_.save_pin(server, pin);
    if (!model_.pin(server, pin))
        return;
    lbkit::log::info("pin ", server, " ", lbkit::api::dump(lbkit::api::to_json(pin)), " by ", who, in_groups(server));
    changed(true);
}

void Stated::unpin(const std::string& server, const std::string& who)
{
    store_.delete_pin(server);
    if (!model_.unpin(server))
        return;
    lbkit::log::info("unpin ", server, " by ", who);
    changed(true);
}

void Stated::set_drain(const std::string& server, bool on, const std::string& who)
{
    store_.set_drain(server, on);
    if (!model_.set_draining(server, on))
        return;
    lbkit::log::info(on ? "drain " : "undrain ", server, " by ", who, in_groups(server));
    changed(true);
}

void Stated::eject(const std::string& server, const std::string& proxy, lbkit::Millis for_)
{
    model_.eject(server, proxy, now_ms() + for_.count());
    lbkit::log::info("server ", server, " ejected by proxy ", proxy, " for ", for_.count(), " ms");
}

bool Stated::end_ejection(const std::string& server, const std::string& proxy)
{
    if (!model_.end_ejection(server, proxy))
        return false;
    lbkit::log::info("server ", server, " back in proxy ", proxy);
    return true;
}

void Stated::changed(bool transition)
{
    subscribers_->state_changed(transition);
    if (on_changed_) on_changed_();
}

namespace {

// The per-server series, dropped with the server when new groups leave it out.
constexpr const char* server_series[] = {"lbstated_server_load", "lbstated_server_up", "lbstated_server_ejected_by"};

}  // namespace

void Stated::update_server_metrics()
{
    std::set<std::pair<std::string, std::string>> now;
    for (const auto& g : model_.groups().groups)
        for (const auto& c : model_.candidates(g)) {
            std::string server(c.name);
            lbkit::Labels l{{"group", g.name}, {"server", server}};
            metrics_.gauge("lbstated_server_load", "Load of a server as last reported or pinned", l).set(c.load);
            metrics_.gauge("lbstated_server_up", "1 when the server is up", l).set(c.state == State::up ? 1 : 0);
            metrics_.gauge("lbstated_server_ejected_by", "Proxies that eject the server now (passive ejection)", l)
                .set(model_.ejected_by(server, now_ms()));
            now.emplace(g.name, std::move(server));
        }
    for (const auto& [group, server] : metric_servers_)
        if (!now.count({group, server}))
            for (const char* name : server_series)
                metrics_.erase(name, {{"group", group}, {"server", server}});
    metric_servers_ = std::move(now);
}

}  // namespace lbstated
