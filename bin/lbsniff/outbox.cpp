#include "outbox.hpp"

namespace lbsniff {

lbkit::api::ServerReport* Outbox::find(const std::string& addr)
{
    for (auto& r : waiting_)
        if (r.addr == addr)
            return &r;
    return nullptr;
}

void Outbox::put(const lbkit::api::ServerReport& r)
{
    if (auto* w = find(r.addr))
        *w = r;
    else
        waiting_.push_back(r);
}

std::vector<lbkit::api::ServerReport> Outbox::take()
{
    std::vector<lbkit::api::ServerReport> out;
    out.swap(waiting_);
    return out;
}

void Outbox::restore(const std::vector<lbkit::api::ServerReport>& failed)
{
    std::vector<lbkit::api::ServerReport> merged;
    for (const auto& r : failed)
        if (!find(r.addr))
            merged.push_back(r);
    for (auto& r : waiting_)
        merged.push_back(std::move(r));
    waiting_ = std::move(merged);
}

}  // namespace lbsniff
