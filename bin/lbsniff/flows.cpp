#include "flows.hpp"

namespace lbsniff {

Flow* FlowTable::find(const FlowKey& k)
{
    auto it = flows_.find(k);
    return it == flows_.end() ? nullptr : &it->second;
}

Flow* FlowTable::get(const FlowKey& k, Micros now)
{
    auto it = flows_.find(k);
    if (it != flows_.end())
        return &it->second;
    if (flows_.size() >= max_) {
        ++untracked_;
        return nullptr;
    }
    Flow& f = flows_[k];
    f.last_seen = now;
    return &f;
}

void FlowTable::watch_syn(const FlowKey& k, const Flow& f)
{
    // One entry per pending SYN; the table bounds the flows, so this bounds
    // the queue too (stale entries are dropped as they reach the front).
    if (syns_.size() < 2 * max_)
        syns_.push_back({f.syn_time, k});
}

void FlowTable::sweep(Micros cutoff)
{
    for (auto it = flows_.begin(); it != flows_.end();) {
        if (it->second.last_seen < cutoff)
            it = flows_.erase(it);
        else
            ++it;
    }
}

}  // namespace lbsniff
