// Wire types of the control protocol (the API sections of lbstated(8) and
// lbproxy(8)) and their JSON codecs, used by the daemons that serve them and
// by the tools that call them. Decoders validate types and ranges and throw
// BadInput naming the offending field ("servers[2].load: must be a number
// >= 0").
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace lbkit::api {

using Json = nlohmann::json;

// The JSON text of j (indent as nlohmann's dump). A string taken from a URL,
// a header or a table file may hold bytes that are not UTF-8 ("%ff" in a
// server name): those come out as U+FFFD, where a plain dump() would throw
// while the error answer naming them is being written.
std::string dump(const Json& j, int indent = -1);

enum class State : uint8_t { up, down, unknown };
const char* to_string(State s);
State state_from_string(const std::string& s, const std::string& field);  // throws BadInput

// POST /v1/reports (lbsniff -> lbstated)
struct ServerReport {
    std::string addr;  // "ip:port" as measured, or a server name
    double load = 0;
    State state = State::up;
};
struct Report {
    std::string notifier;
    int64_t interval_ms = 1000;
    std::vector<ServerReport> servers;
};
Json to_json(const Report& r);
Report report_from_json(const Json& j);

// GET /v1/state, POST /v1/state (lbstated -> lbproxy)
struct ServerView {
    std::string name;
    double load = 0;
    double ratio = 1;
    State state = State::unknown;
    bool pinned = false;
    bool draining = false;
    int64_t age_ms = -1;  // since the last report; -1: never reported
    int ejected_by = 0;   // proxies that eject it now (passive ejection); no effect on state
};
struct GroupView {
    std::string name;
    std::vector<ServerView> servers;
};
struct StateView {
    uint64_t version = 0;
    std::vector<GroupView> groups;
    const GroupView* group(const std::string& name) const;
};
Json to_json(const ServerView& s);
Json to_json(const StateView& s);
StateView state_from_json(const Json& j);

// POST /v1/subscribers
enum class PushMode { change, periodic };
struct Subscriber {
    std::string url;
    PushMode mode = PushMode::change;
    int64_t interval_ms = 1000;
};
Json to_json(const Subscriber& s);
Subscriber subscriber_from_json(const Json& j);
const char* to_string(PushMode m);

// PUT /v1/servers/NAME/pin
struct Pin {
    std::optional<State> state;
    std::optional<double> load;
    std::optional<double> ratio;
};
Json to_json(const Pin& p);
Pin pin_from_json(const Json& j);

// Field readers shared by the decoders above and by the daemons' own bodies.
const Json& require(const Json& obj, const char* field, const std::string& where);
std::string get_string(const Json& obj, const char* field, const std::string& where, std::size_t max_len = 1024);
double get_number(const Json& obj, const char* field, const std::string& where, double min, double max);
void expect_object(const Json& j, const std::string& where);

}  // namespace lbkit::api
