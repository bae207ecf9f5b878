#define BOOST_TEST_MODULE api
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include "api.hpp"
#include "error.hpp"

using namespace lbkit;
using Json = nlohmann::json;

static std::string report_error(const std::string& text)
{
    try {
        api::report_from_json(Json::parse(text));
    } catch (const BadInput& e) {
        return e.what();
    }
    return "";
}

BOOST_AUTO_TEST_CASE(report_round_trip)
{
    auto r = api::report_from_json(Json::parse(
        R"({"notifier":"lan-a","interval_ms":1000,"servers":[{"addr":"10.0.0.1:80","load":123.5,"state":"up"}]})"));
    BOOST_TEST(r.notifier == "lan-a");
    BOOST_TEST(r.interval_ms == 1000);
    BOOST_REQUIRE_EQUAL(r.servers.size(), 1u);
    BOOST_TEST(r.servers[0].addr == "10.0.0.1:80");
    BOOST_TEST(r.servers[0].load == 123.5);
    BOOST_TEST((r.servers[0].state == api::State::up));
    auto again = api::report_from_json(api::to_json(r));
    BOOST_TEST(again.servers[0].load == 123.5);
}

BOOST_AUTO_TEST_CASE(report_errors_name_the_field)
{
    BOOST_TEST(report_error("[]") == "body: must be a JSON object");
    BOOST_TEST(report_error(R"({"servers":[]})") == "notifier: missing");
    BOOST_TEST(report_error(R"({"notifier":1,"servers":[]})") == "notifier: must be a string");
    BOOST_TEST(report_error(R"({"notifier":"a"})") == "servers: missing");
    BOOST_TEST(report_error(R"({"notifier":"a","servers":{}})") == "servers: must be an array");
    BOOST_TEST(report_error(R"({"notifier":"a","servers":[{"addr":"x","load":"1","state":"up"}]})") ==
               "servers[0].load: must be a number");
    BOOST_TEST(report_error(R"({"notifier":"a","servers":[{"addr":"x","load":-1,"state":"up"}]})").find(
                   "servers[0].load: must be between 0") == 0);
    BOOST_TEST(report_error(R"({"notifier":"a","servers":[{"addr":"x","load":1,"state":"sideways"}]})") ==
               "servers[0].state: must be \"up\", \"down\" or \"unknown\", not \"sideways\"");
    BOOST_TEST(report_error(R"({"notifier":"a","interval_ms":0,"servers":[]})").find("interval_ms") == 0);
}

BOOST_AUTO_TEST_CASE(state_round_trip)
{
    api::StateView v;
    v.version = 42;
    v.groups.push_back({"host1.a.co.jp", {{"host1:80", 20, 2, api::State::up, true, false, 1500, 3}}});
    auto j = api::to_json(v);
    BOOST_TEST(j["version"] == 42);
    auto back = api::state_from_json(j);
    BOOST_TEST(back.version == 42u);
    BOOST_REQUIRE(back.group("host1.a.co.jp"));
    const auto& s = back.group("host1.a.co.jp")->servers.at(0);
    BOOST_TEST(s.name == "host1:80");
    BOOST_TEST(s.ratio == 2);
    BOOST_TEST(s.pinned);
    BOOST_TEST(s.age_ms == 1500);
    BOOST_TEST(s.ejected_by == 3);
    BOOST_TEST(!back.group("other"));
}

BOOST_AUTO_TEST_CASE(state_rejects_zero_ratio)
{
    auto j = Json::parse(R"({"version":1,"groups":[{"name":"g","servers":[{"name":"s","load":0,"ratio":0,"state":"up"}]}]})");
    BOOST_CHECK_THROW(api::state_from_json(j), BadInput);
}

BOOST_AUTO_TEST_CASE(subscriber_and_pin)
{
    auto s = api::subscriber_from_json(Json::parse(R"({"url":"http://127.0.0.1:7401/v1/state","mode":"periodic","interval_ms":500})"));
    BOOST_TEST((s.mode == api::PushMode::periodic));
    BOOST_TEST(s.interval_ms == 500);
    BOOST_CHECK_THROW(api::subscriber_from_json(Json::parse(R"({"url":"ftp://x"})")), BadInput);
    BOOST_CHECK_THROW(api::subscriber_from_json(Json::parse(R"({"url":"http://x","mode":"sometimes"})")), BadInput);

    auto p = api::pin_from_json(Json::parse(R"({"state":"down","load":0,"ratio":3})"));
    BOOST_TEST((p.state == api::State::down));
    BOOST_TEST(*p.load == 0);
    BOOST_TEST(*p.ratio == 3);
    BOOST_CHECK_THROW(api::pin_from_json(Json::parse(R"({"state":"unknown"})")), BadInput);
    BOOST_CHECK_THROW(api::pin_from_json(Json::parse(R"({"colour":"red"})")), BadInput);
    BOOST_CHECK_THROW(api::pin_from_json(Json::parse(R"({"ratio":0})")), BadInput);
}

BOOST_AUTO_TEST_CASE(dump_replaces_bytes_that_are_not_utf8)
{
    // "%ff" in a URL becomes this name, and then the error answer naming it.
    Json j{{"error", std::string("no such server 'web\xff:80'")}};
    BOOST_CHECK_THROW((void)j.dump(), Json::type_error);
    BOOST_TEST(api::dump(j) == "{\"error\":\"no such server 'web\xef\xbf\xbd:80'\"}");
    BOOST_TEST(api::dump(Json{{"a", 1}}, 2) == "{\n  \"a\": 1\n}");
}
