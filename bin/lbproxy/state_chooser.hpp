// Chooser as the request path uses it: the StateBook for local
// policies, a coalesced pull before each choice in pull mode, and lbstated's
// GET /v1/select for --policy central (local p2c when it cannot answer).
//
// done runs on the loop, exactly once unless the choice is cancelled. When
// the answer is local (push modes with least/p2c/weighted, or a pull paused
// after failures) it runs before choose() returns; otherwise later, from the
// HTTP answer, which a cancelled choice drops.
#pragma once
#include <random>

#include "ejections.hpp"
#include "loop.hpp"
#include "metrics.hpp"
#include "select.hpp"
#include "chooser.hpp"
#include "state_book.hpp"
#include "state_source.hpp"

namespace lbproxy {

class StateChooser : public Chooser {
public:
    StateChooser(lbkit::Metrics& metrics, StateBook& book, StateSources& sources,
                       lbkit::select::Policy policy, lbkit::Millis suspect_for, std::string client_id,
                       Ejections& ejections);

    bool is_group(const std::string& host) const override;
    std::string missing_state() const override;
    void choose(const std::string& group, const ServerIds& exclude, ChoiceHandle& handle,
                ChoiceHandle::Done done) override;
    void mark_suspect(ServerId server) override;
    void request_started(ServerId server) override;
    void request_finished(ServerId server) override;
    void server_ok(ServerId server) override;
    void server_failed(ServerId server) override;

    lbkit::select::Policy policy() const { return policy_; }

private:
    using Waiting = std::shared_ptr<ChoiceHandle::Done>;  // empty function: cancelled
    void decide(const std::string& group, const ServerIds& exclude, Waiting done);
    void central(const std::string& group, const ServerIds& exclude, Waiting done);
    Choice local(const std::string& group, const ServerIds& exclude);
    void finish(Choice c, const Waiting& done);

    lbkit::Metrics& metrics_;
    StateBook& book_;
    StateSources& sources_;
    lbkit::select::Policy policy_;
    lbkit::Millis suspect_for_;
    std::string client_id_;
    Ejections& ejections_;
    std::mt19937_64 rng_;
    // Hot path: one counter per group and server, found without rendering
    // labels or building a key.
    ByName<ByName<lbkit::Series*>> selections_;  // group -> server -> counter
};

}  // namespace lbproxy
