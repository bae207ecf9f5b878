#include "api.hpp"

#include <cmath>

#include "error.hpp"

namespace lbkit::api {

std::string dump(const Json& j, int indent)
{
    return j.dump(indent, ' ', false, Json::error_handler_t::replace);
}

namespace {

std::string field_path(const std::string& where, const char* field)
{
    return where.empty() ? field : where + "." + field;
}

const Json* optional_field(const Json& obj, const char* field)
{
    auto it = obj.find(field);
    return it == obj.end() || it->is_null() ? nullptr : &*it;
}

double number_value(const Json& v, const std::string& path, double min, double max)
{
    if (!v.is_number())
        throw BadInput(path + ": must be a number");
    double d = v.get<double>();
    if (!std::isfinite(d) || d < min || d > max)
        throw BadInput(path + ": must be between " + Json(min).dump() + " and " + Json(max).dump());
    return d;
}

bool bool_value(const Json& obj, const char* field, const std::string& where)
{
    const Json* v = optional_field(obj, field);
    if (!v)
        return false;
    if (!v->is_boolean())
        throw BadInput(field_path(where, field) + ": must be true or false");
    return v->get<bool>();
}

const Json& array_field(const Json& obj, const char* field, const std::string& where, std::size_t max)
{
    const Json& v = require(obj, field, where);
    if (!v.is_array())
        throw BadInput(field_path(where, field) + ": must be an array");
    if (v.size() > max)
        throw BadInput(field_path(where, field) + ": more than " + std::to_string(max) + " entries");
    return v;
}

constexpr std::size_t max_servers = 100000;
constexpr double max_load = 1e15;

}  // namespace

const char* to_string(State s)
{
    switch (s) {
    case State::up: return "up";
    case State::down: return "down";
    case State::unknown: return "unknown";
    }
    return "unknown";
}

State state_from_string(const std::string& s, const std::string& field)
{
    if (s == "up") return State::up;
    if (s == "down") return State::down;
    if (s == "unknown") return State::unknown;
    throw BadInput(field + ": must be \"up\", \"down\" or \"unknown\", not \"" + s.substr(0, 40) + "\"");
}

void expect_object(const Json& j, const std::string& where)
{
    if (!j.is_object())
        throw BadInput((where.empty() ? std::string("body") : where) + ": must be a JSON object");
}

const Json& require(const Json& obj, const char* field, const std::string& where)
{
    auto it = obj.find(field);
    if (it == obj.end() || it->is_null())
        throw BadInput(field_path(where, field) + ": missing");
    return *it;
}

std::string get_string(const Json& obj, const char* field, const std::string& where, std::size_t max_len)
{
    const Json& v = require(obj, field, where);
    if (!v.is_string())
        throw BadInput(field_path(where, field) + ": must be a string");
    auto s = v.get<std::string>();
    if (s.empty() || s.size() > max_len)
        throw BadInput(field_path(where, field) + ": must be 1 to " + std::to_string(max_len) + " characters");
    return s;
}

double get_number(const Json& obj, const char* field, const std::string& where, double min, double max)
{
    return number_value(require(obj, field, where), field_path(where, field), min, max);
}

Json to_json(const Report& r)
{
    Json servers = Json::array();
    for (const auto& s : r.servers)
        servers.push_back({{"addr", s.addr}, {"load", s.load}, {"state", to_string(s.state)}});
    return {{"notifier", r.notifier}, {"interval_ms", r.interval_ms}, {"servers", std::move(servers)}};
}

Report report_from_json(const Json& j)
{
    expect_object(j, "");
    Report r;
    r.notifier = get_string(j, "notifier", "", 256);
    if (optional_field(j, "interval_ms"))
        r.interval_ms = static_cast<int64_t>(get_number(j, "interval_ms", "", 1, 86'400'000));
    const Json& servers = array_field(j, "servers", "", max_servers);
    r.servers.reserve(servers.size());
    for (std::size_t i = 0; i < servers.size(); ++i) {
        std::string where = "servers[" + std::to_string(i) + "]";
        const Json& s = servers[i];
        expect_object(s, where);
        ServerReport sr;
        sr.addr = get_string(s, "addr", where, 300);
        sr.load = get_number(s, "load", where, 0, max_load);
        sr.state = state_from_string(get_string(s, "state", where, 16), where + ".state");
        r.servers.push_back(std::move(sr));
    }
    return r;
}

const GroupView* StateView::group(const std::string& name) const
{
    for (const auto& g : groups)
        if (g.name == name)
            return &g;
    return nullptr;
}

Json to_json(const ServerView& s)
{
    Json j = {{"name", s.name}, {"load", s.load}, {"ratio", s.ratio}, {"state", to_string(s.state)},
              {"pinned", s.pinned}, {"draining", s.draining}, {"ejected_by", s.ejected_by}};
    if (s.age_ms >= 0)
        j["age_ms"] = s.age_ms;
    return j;
}

Json to_json(const StateView& s)
{
    Json groups = Json::array();
    for (const auto& g : s.groups) {
        Json servers = Json::array();
        for (const auto& sv : g.servers)
            servers.push_back(to_json(sv));
        groups.push_back({{"name", g.name}, {"servers", std::move(servers)}});
    }
    return {{"version", s.version}, {"groups", std::move(groups)}};
}

StateView state_from_json(const Json& j)
{
    expect_object(j, "");
    StateView v;
    v.version = static_cast<uint64_t>(get_number(j, "version", "", 0, 9e15));
    const Json& groups = array_field(j, "groups", "", max_servers);
    for (std::size_t gi = 0; gi < groups.size(); ++gi) {
        std::string gw = "groups[" + std::to_string(gi) + "]";
        expect_object(groups[gi], gw);
        GroupView g;
        g.name = get_string(groups[gi], "name", gw, 253);
        const Json& servers = array_field(groups[gi], "servers", gw, max_servers);
        for (std::size_t si = 0; si < servers.size(); ++si) {
            std::string sw = gw + ".servers[" + std::to_string(si) + "]";
            const Json& s = servers[si];
            expect_object(s, sw);
            ServerView sv;
            sv.name = get_string(s, "name", sw, 300);
            sv.load = get_number(s, "load", sw, 0, max_load);
            sv.ratio = get_number(s, "ratio", sw, 1e-9, 1e9);
            sv.state = state_from_string(get_string(s, "state", sw, 16), sw + ".state");
            sv.pinned = bool_value(s, "pinned", sw);
            sv.draining = bool_value(s, "draining", sw);
            if (optional_field(s, "age_ms"))
                sv.age_ms = static_cast<int64_t>(get_number(s, "age_ms", sw, -1, 9e15));
            if (optional_field(s, "ejected_by"))
                sv.ejected_by = static_cast<int>(get_number(s, "ejected_by", sw, 0, 1e6));
            g.servers.push_back(std::move(sv));
        }
        v.groups.push_back(std::move(g));
    }
    return v;
}

const char* to_string(PushMode m)
{
    return m == PushMode::change ? "change" : "periodic";
}

Json to_json(const Subscriber& s)
{
    return {{"url", s.url}, {"mode", to_string(s.mode)}, {"interval_ms", s.interval_ms}};
}

Subscriber subscriber_from_json(const Json& j)
{
    expect_object(j, "");
    Subscriber s;
    s.url = get_string(j, "url", "", 2048);
    if (s.url.rfind("http://", 0) != 0 && s.url.rfind("https://", 0) != 0)
        throw BadInput("url: must start with http:// or https://");
    if (s.url.find_first_of(" \t\r\n") != std::string::npos)
        throw BadInput("url: must not contain white space");
    if (optional_field(j, "mode")) {
        std::string m = get_string(j, "mode", "", 16);
        if (m == "change") s.mode = PushMode::change;
        else if (m == "periodic") s.mode = PushMode::periodic;
        else throw BadInput("mode: must be \"change\" or \"periodic\"");
    }
    if (optional_field(j, "interval_ms"))
        s.interval_ms = static_cast<int64_t>(get_number(j, "interval_ms", "", 50, 86'400'000));
    return s;
}

Json to_json(const Pin& p)
{
    Json j = Json::object();
    if (p.state) j["state"] = to_string(*p.state);
    if (p.load) j["load"] = *p.load;
    if (p.ratio) j["ratio"] = *p.ratio;
    return j;
}

Pin pin_from_json(const Json& j)
{
    expect_object(j, "");
    for (const auto& [key, _] : j.items())
        if (key != "state" && key != "load" && key != "ratio")
            throw BadInput(key + ": unknown field (a pin has state, load and ratio)");
    Pin p;
    if (optional_field(j, "state")) {
        p.state = state_from_string(get_string(j, "state", "", 16), "state");
        if (*p.state == State::unknown)
            throw BadInput("state: a pin is \"up\" or \"down\"");
    }
    if (optional_field(j, "load"))
        p.load = get_number(j, "load", "", 0, max_load);
    if (optional_field(j, "ratio"))
        p.ratio = get_number(j, "ratio", "", 1e-9, 1e9);
    return p;
}

}  // namespace lbkit::api
