// --watch-from: the watch list taken from lbstated's groups table, so the
// groups table and a watch file are not kept in step by hand. The servers
// of every group whose address is in one of the --watch-net networks (all
// of them without one) join --watch and --watch-file (lbsniff(8)); the
// table is read at start and again after each change of lbstated's state.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "addr.hpp"
#include "httpc.hpp"
#include "loop.hpp"
#include "watch.hpp"

namespace lbsniff {

// The servers of a GET /v1/groups answer, each once, in table order.
// Throws BadInput for an answer of another shape.
std::vector<std::string> group_servers(const nlohmann::json& doc);

// GET URL/v1/groups, blocking (start, -n). Throws Error(EX_UNAVAILABLE)
// naming the URL when lbstated cannot be reached or answers an error.
std::vector<std::string> fetch_group_servers(const std::string& base_url);

// The watch entries for those servers whose address is in one of `nets`
// (every server when nets is empty), leaving out names already in
// `present` (--watch, --watch-file). A name that does not resolve throws
// Error(EX_NOHOST), as in a watch file.
std::vector<WatchEntry> watch_entries_from_groups(const std::vector<std::string>& servers,
                                                  const std::vector<lbkit::Cidr>& nets,
                                                  const std::vector<WatchEntry>& present, const std::string& url);

// Long-polls GET URL/v1/state?since=N&wait=D; after each new version, reads
// the groups table and calls on_change when its servers differ from the
// last ones seen. Failures are logged once and retried with a pause.
class GroupsFollower {
public:
    GroupsFollower(lbkit::Loop& loop, lbkit::httpc::Client& http, std::string base_url,
                   std::vector<std::string> servers, std::function<void(const std::vector<std::string>&)> on_change);
    void start();

private:
    void poll();
    void polled(const lbkit::httpc::Result& r);
    void read_groups();
    void failed(const std::string& what, const lbkit::httpc::Result& r);

    lbkit::httpc::Client& http_;
    std::string base_;
    std::vector<std::string> servers_;
    std::function<void(const std::vector<std::string>&)> on_change_;
    lbkit::Timer pause_;
    uint64_t version_ = 0;
    bool have_version_ = false;
    bool failing_ = false;
};

}  // namespace lbsniff
