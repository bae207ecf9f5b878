#include "state_chooser.hpp"

#include <algorithm>

#include "error.hpp"
#include "log.hpp"
#include "output.hpp"

namespace lbproxy {

namespace sel = lbkit::select;

StateChooser::StateChooser(lbkit::Metrics& metrics, StateBook& book, StateSources& sources,
                                       sel::Policy policy, lbkit::Millis suspect_for, std::string client_id,
                                       Ejections& ejections)
    : metrics_(metrics), book_(book), sources_(sources), policy_(policy), suspect_for_(suspect_for),
      client_id_(std::move(client_id)), ejections_(ejections), rng_(std::random_device{}())
{
}

std::string StateChooser::missing_state() const
{
    if (book_.version() != 0 || book_.confirmed_ms() != 0) return "";
    return "no state from " + lbkit::output::join(sources_.urls()) + " yet";
}

bool StateChooser::is_group(const std::string& host) const
{
    if (book_.is_group(host)) return true;
    // Pull mode learns new groups from the pulls; without a group there is
    // no choose() to pull, so ask in the background (rate-limited).
    if (sources_.pull_mode()) sources_.refresh();
    return false;
}

void StateChooser::choose(const std::string& group, const ServerIds& exclude,
                                ChoiceHandle& handle, ChoiceHandle::Done done)
{
    auto waiting = std::make_shared<ChoiceHandle::Done>(std::move(done));
    // Set before anything can answer: the answer may end the asker's life.
    handle = ChoiceHandle(waiting);
    if (!sources_.pull_mode()) return decide(group, exclude, std::move(waiting));
    sources_.pull([this, group, exclude, waiting = std::move(waiting)]() mutable {
        if (*waiting) decide(group, exclude, std::move(waiting));
    });
}

void StateChooser::decide(const std::string& group, const ServerIds& exclude, Waiting done)
{
    if (policy_ == sel::Policy::central && book_.is_group(group)) return central(group, exclude, std::move(done));
    finish(local(group, exclude), done);
}

Choice StateChooser::local(const std::string& group, const ServerIds& exclude)
{
    return book_.choose(policy_, group, exclude, unix_ms(), rng_);
}

void StateChooser::central(const std::string& group, const ServerIds& exclude, Waiting done)
{
    sources_.select(group, client_id_, [this, group, exclude, done = std::move(done)](CentralAnswer a) {
        if (!*done) return;  // cancelled meanwhile
        if (!a.asked) {
            metrics_.counter("lbproxy_central_fallbacks_total",
                             "Central selections answered locally because no state server answered").inc();
            return finish(local(group, exclude), done);
        }
        Choice c;
        c.group = group;
        if (!a.error.empty()) {
            c.error = a.error;
            return finish(std::move(c), done);
        }
        // The manager does not know what this request already tried or what
        // failed locally a moment ago (suspect, ejected): choose locally then.
        int64_t now = unix_ms();
        ServerId id = book_.find_server(a.server);
        bool tried = std::find(exclude.begin(), exclude.end(), id) != exclude.end();
        if (id == no_server || tried || book_.suspect(id, now) || book_.ejected(id, now))
            return finish(local(group, exclude), done);
        try {
            c.target = lbkit::server_address(a.server);
        } catch (const lbkit::BadInput& e) {
            lbkit::log::warn("central selection for ", group, ": bad server name: ", e.what());
            return finish(local(group, exclude), done);
        }
        c.id = id;
        c.server = a.server;
        finish(std::move(c), done);
    });
}

void StateChooser::finish(Choice c, const Waiting& done)
{
    if (!*done) return;  // cancelled: no one is counted as sent there
    if (c.ok()) {
        auto g = selections_.find(c.group);
        if (g == selections_.end()) g = selections_.emplace(c.group, ByName<lbkit::Series*>{}).first;
        auto s = g->second.find(c.server);
        if (s == g->second.end()) {
            lbkit::Series& series = metrics_.counter("lbproxy_selections_total", "Requests sent to each real server",
                                                     {{"group", c.group}, {"server", c.server}});
            s = g->second.emplace(c.server, &series).first;
        }
        s->second->inc();
    } else {
        metrics_.counter("lbproxy_no_server_total", "Choices that found no eligible server",
                         {{"group", c.group}}).inc();
    }
    // Cleared before the call: the handle then says nothing is outstanding.
    ChoiceHandle::Done answer = std::move(*done);
    *done = nullptr;
    answer(std::move(c));
}

void StateChooser::mark_suspect(ServerId id)
{
    const std::string& server = book_.server_name(id);
    int64_t now = unix_ms();
    if (!book_.suspect(id, now))
        lbkit::log::info("server ", server, ": connect failed; suspect for ", suspect_for_.count(), " ms");
    book_.mark_suspect(id, now + suspect_for_.count());
    metrics_.counter("lbproxy_suspect_total", "Servers marked suspect after a failed connect",
                     {{"server", server}}).inc();
}

void StateChooser::request_started(ServerId server)
{
    book_.request_started(server);
}

void StateChooser::request_finished(ServerId server)
{
    book_.request_finished(server);
}

void StateChooser::server_ok(ServerId server)
{
    ejections_.ok(server);
}

void StateChooser::server_failed(ServerId server)
{
    ejections_.failed(server);
}

}  // namespace lbproxy
