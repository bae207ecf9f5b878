// lbstated's state file: what it was told (groups set through the API, pins,
// drains, subscribers) and the version ceiling, so a restart or a kill -9
// loses none of it. Reports are soft state and are not stored.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "api.hpp"
#include "store.hpp"

namespace lbstated {

struct StoredGroups {
    std::string text;       // the table in force
    std::string source;     // file name or "api (CLIENT)"
    std::string file_text;  // the --groups file as last read, to notice edits
    bool from_api = false;
    int64_t set_ms = 0;     // Unix ms when the table was read or set; 0: before this was kept
};

struct StoredSubscriber {
    int64_t id = 0;
    lbkit::api::Subscriber spec;
};

class StatedStore {
public:
    explicit StatedStore(const std::string& path);

    uint64_t version_ceiling();
    void set_version_ceiling(uint64_t v);

    std::optional<StoredGroups> groups();
    void save_groups(const StoredGroups& g);

    std::vector<std::pair<std::string, lbkit::api::Pin>> pins();
    void save_pin(const std::string& server, const lbkit::api::Pin& p);
    void delete_pin(const std::string& server);

    std::vector<std::string> drains();
    void set_drain(const std::string& server, bool on);

    std::vector<StoredSubscriber> subscribers();
    // Insert, or update the mode of the subscriber with that URL; returns its id.
    int64_t save_subscriber(const lbkit::api::Subscriber& s);
    bool delete_subscriber(int64_t id);

private:
    lbkit::store::Db db_;
};

}  // namespace lbstated
