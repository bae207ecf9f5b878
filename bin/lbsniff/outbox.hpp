// What is waiting to go to one lbstated: the latest report per server, never
// more. A report that could not be sent is put back only where nothing newer
// arrived meanwhile, so an unreachable lbstated costs one entry per server.
#pragma once
#include <string>
#include <vector>

#include "api.hpp"

namespace lbsniff {

class Outbox {
public:
    void put(const lbkit::api::ServerReport& r);
    // Everything waiting, in the order servers were first put; empties it.
    std::vector<lbkit::api::ServerReport> take();
    // Puts back reports that failed, unless a newer one is waiting.
    void restore(const std::vector<lbkit::api::ServerReport>& failed);
    bool empty() const { return waiting_.empty(); }
    std::size_t size() const { return waiting_.size(); }

private:
    lbkit::api::ServerReport* find(const std::string& addr);
    std::vector<lbkit::api::ServerReport> waiting_;  // a few hundred at most: linear is fine
};

}  // namespace lbsniff
