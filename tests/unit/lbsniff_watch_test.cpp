// lbsniff watch.cpp, watch_from.cpp, filter.cpp, outbox.cpp, outputs.cpp
// (line format) and options.cpp: the watch list and its errors, the list
// taken from a groups table, the BPF expression, the
// latest-only report queue, and the --stdout line.
#define BOOST_TEST_MODULE lbsniff_watch
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <pcap/pcap.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "error.hpp"
#include "filter.hpp"
#include "options.hpp"
#include "outbox.hpp"
#include "outputs.hpp"
#include "reporter.hpp"
#include "watch_from.hpp"
#include "watch.hpp"

using namespace lbsniff;
namespace fs = std::filesystem;

namespace {

struct TmpFile {
    std::string path;
    explicit TmpFile(const std::string& text)
    {
        char tmpl[] = "/tmp/lbsniff-watch-XXXXXX";
        int fd = mkstemp(tmpl);
        path = tmpl;
        (void)!write(fd, text.data(), text.size());
        close(fd);
    }
    ~TmpFile() { unlink(path.c_str()); }
};

int code_of(const std::function<void()>& fn, std::string* msg = nullptr)
{
    try {
        fn();
    } catch (const lbkit::Error& e) {
        if (msg)
            *msg = e.what();
        return e.exit_code();
    }
    return 0;
}

std::string endpoint_text(const Endpoint& e)
{
    char buf[64];
    format_addr(e, buf, sizeof buf);
    return std::string(buf) + ":" + std::to_string(e.port);
}

}  // namespace

BOOST_AUTO_TEST_CASE(watch_flags_and_file)
{
    TmpFile f("# server   address\n"
              "host1.a.co.jp:80   127.0.0.1:8081\n"
              "127.0.0.2:8082\n"
              "web6  [::1]:8083   # IPv6\n");
    auto list = load_watch_list({"127.0.0.1:8080", "localhost"}, f.path);
    BOOST_TEST_REQUIRE(list.size() == 5u);
    BOOST_TEST(list[0].name == "127.0.0.1:8080");
    BOOST_TEST(list[1].name == "localhost");
    BOOST_TEST(list[1].addr.port == 80);
    BOOST_TEST(list[2].name == "host1.a.co.jp:80");
    BOOST_TEST(list[2].addr.str() == "127.0.0.1:8081");
    BOOST_TEST(list[2].where == f.path + ":2");
    BOOST_TEST(list[3].name == "127.0.0.2:8082");
    BOOST_TEST(list[4].addr.str() == "[::1]:8083");
    list.erase(list.begin() + 1);  // "localhost" resolves differently on each host
    auto specs = resolve_watch_list(list);
    BOOST_TEST_REQUIRE(specs.size() == 4u);
    BOOST_TEST(specs[1].name == "host1.a.co.jp:80");
    BOOST_TEST_REQUIRE(specs[1].endpoints.size() == 1u);
    BOOST_TEST(endpoint_text(specs[1].endpoints[0]) == "127.0.0.1:8081");
    BOOST_TEST(endpoint_text(specs[3].endpoints[0]) == "::1:8083");
}

BOOST_AUTO_TEST_CASE(watch_errors_name_the_line_and_the_exit_code)
{
    std::string msg;
    BOOST_TEST(code_of([&] { load_watch_list({"web:99999"}, ""); }, &msg) == EX_USAGE);
    BOOST_TEST(msg.find("99999") != std::string::npos);
    BOOST_TEST(code_of([&] { load_watch_list({"a:80", "a:80"}, ""); }, &msg) == EX_USAGE);
    TmpFile three("web1:80 127.0.0.1:80 extra\n");
    BOOST_TEST(code_of([&] { load_watch_list({}, three.path); }, &msg) == EX_CONFIG);
    BOOST_TEST(msg.find(three.path + ":1:") == 0);
    TmpFile badport("ok:80 127.0.0.1:80\n\nweb2 127.0.0.1:0x50\n");
    BOOST_TEST(code_of([&] { load_watch_list({}, badport.path); }, &msg) == EX_CONFIG);
    BOOST_TEST(msg.find(badport.path + ":3:") == 0);
    TmpFile dup("web1 127.0.0.1:80\nweb1 127.0.0.1:81\n");
    BOOST_TEST(code_of([&] { load_watch_list({}, dup.path); }, &msg) == EX_CONFIG);
    BOOST_TEST(msg.find(":2:") != std::string::npos);
    BOOST_TEST(code_of([&] { load_watch_list({}, "/nonexistent/watch"); }) == EX_NOINPUT);
    // Unresolvable: .invalid never resolves (RFC 6761).
    auto list = load_watch_list({"no-such-host.invalid:80"}, "");
    BOOST_TEST(code_of([&] { resolve_watch_list(list); }, &msg) == EX_NOHOST);
    BOOST_TEST(msg.find("no-such-host.invalid") != std::string::npos);
    // Two names for one address.
    auto twice = load_watch_list({"127.0.0.1:80", "[::ffff:127.0.0.1]:80"}, "");
    BOOST_TEST(code_of([&] { resolve_watch_list(twice); }) == EX_CONFIG);
}

BOOST_AUTO_TEST_CASE(filter_expressions_compile)
{
    auto specs = resolve_watch_list(load_watch_list({"127.0.0.1:8080", "[::1]:8081"}, ""));
    auto c = filter_candidates(specs, "");
    BOOST_TEST_REQUIRE(c.size() == 3u);
    BOOST_TEST(c[0] == "tcp and ((dst host 127.0.0.1 and dst port 8080) or (src host 127.0.0.1 and src port 8080)"
                       " or (dst host ::1 and dst port 8081) or (src host ::1 and src port 8081))");
    BOOST_TEST(c[1] == "tcp and (port 8080 or port 8081)");
    BOOST_TEST(c[2] == "tcp");
    auto x = filter_candidates(specs, "not host 10.1.1.1");
    BOOST_TEST(x[2] == "(tcp) and (not host 10.1.1.1)");
    pcap_t* dead = pcap_open_dead(DLT_EN10MB, 262144);
    for (const auto& expr : x) {
        bpf_program prog;
        BOOST_TEST(pcap_compile(dead, &prog, expr.c_str(), 1, PCAP_NETMASK_UNKNOWN) == 0, expr);
        pcap_freecode(&prog);
    }
    pcap_close(dead);
}

BOOST_AUTO_TEST_CASE(outbox_keeps_the_latest_per_server)
{
    using lbkit::api::ServerReport;
    using lbkit::api::State;
    Outbox box;
    box.put({"a", 1, State::up});
    box.put({"b", 2, State::up});
    box.put({"a", 3, State::down});
    BOOST_TEST(box.size() == 2u);
    auto sent = box.take();
    BOOST_TEST(box.empty());
    BOOST_TEST_REQUIRE(sent.size() == 2u);
    BOOST_TEST(sent[0].addr == "a");
    BOOST_TEST(sent[0].load == 3);
    // While the send fails, b gets newer data: the failed a comes back,
    // the failed b does not replace the newer one.
    box.put({"b", 9, State::down});
    box.restore(sent);
    auto again = box.take();
    BOOST_TEST_REQUIRE(again.size() == 2u);
    BOOST_TEST(again[0].addr == "a");
    BOOST_TEST(again[1].addr == "b");
    BOOST_TEST(again[1].load == 9);
    // However long lbstated is away, one entry per server.
    for (int i = 0; i < 1000; ++i) {
        box.restore(box.take());
        box.put({"a", double(i), State::up});
    }
    BOOST_TEST(box.size() == 1u);
}

BOOST_AUTO_TEST_CASE(stdout_line_format)
{
    std::string name = "web1:80";
    Sample s{&name, State::up, 12.5, Counters{25, 3000, 4, 3}};
    BOOST_TEST(stdout_line(1'700'000'000'500'000, s) == "1700000000.500\tweb1:80\tup\t12.5\t25\t3000\t4\t3\n");
    BOOST_TEST(format_load(3) == "3");
    BOOST_TEST(format_load(0) == "0");
    BOOST_TEST(format_load(1.0 / 3) == "0.333");
    BOOST_TEST(format_load(1234567.25) == "1234567.25");
}

BOOST_AUTO_TEST_CASE(option_values)
{
    BOOST_TEST(parse_size("4M") == 4L << 20);
    BOOST_TEST(parse_size("512k") == 512L << 10);
    BOOST_TEST(parse_size("1000") == 1000);
    BOOST_CHECK_THROW(parse_size("4X"), lbkit::BadInput);
    BOOST_CHECK_THROW(parse_size("-1"), lbkit::BadInput);
    BOOST_CHECK_THROW(parse_size("9G"), lbkit::BadInput);
    BOOST_TEST(parse_probe("tcp").kind == Probe::tcp);
    BOOST_TEST(parse_probe("none").kind == Probe::none);
    Probe h = parse_probe("http:/health");
    BOOST_TEST(h.kind == Probe::http);
    BOOST_TEST(h.path == "/health");
    BOOST_CHECK_THROW(parse_probe("http:health"), lbkit::BadInput);
    BOOST_CHECK_THROW(parse_probe("udp"), lbkit::BadInput);
    BOOST_TEST(Reporter::endpoint("http://127.0.0.1:7400") == "http://127.0.0.1:7400/v1/reports");
    BOOST_TEST(Reporter::endpoint("http://127.0.0.1:7400/") == "http://127.0.0.1:7400/v1/reports");
    BOOST_TEST(Reporter::endpoint("http://h:7400/custom/reports") == "http://h:7400/custom/reports");
}

BOOST_AUTO_TEST_CASE(group_servers_each_once_in_table_order)
{
    auto doc = nlohmann::json::parse(R"({"groups":[{"name":"a","servers":[{"server":"10.0.0.2:80","ratio":1},
        {"server":"10.0.0.1:80","ratio":2}]},{"name":"b","servers":[{"server":"10.0.0.1:80","ratio":1},
        {"server":"192.168.1.5:8080","ratio":1}]}]})");
    auto servers = lbsniff::group_servers(doc);
    BOOST_TEST(servers == (std::vector<std::string>{"10.0.0.2:80", "10.0.0.1:80", "192.168.1.5:8080"}),
               boost::test_tools::per_element());
    BOOST_CHECK_THROW(lbsniff::group_servers(nlohmann::json::parse(R"({"error":"x"})")), lbkit::BadInput);
    BOOST_CHECK_THROW(lbsniff::group_servers(nlohmann::json::parse(R"({"groups":[{"name":"a"}]})")),
                      lbkit::BadInput);
}

BOOST_AUTO_TEST_CASE(watch_from_groups_keeps_the_servers_of_the_networks_and_leaves_out_those_present)
{
    std::vector<std::string> servers{"10.0.0.2:80", "10.0.0.1:80", "192.168.1.5:8080"};
    std::vector<lbsniff::WatchEntry> present{{"10.0.0.1:80", lbkit::parse_host_port("10.0.0.1:80", 80), "--watch"}};
    auto all = lbsniff::watch_entries_from_groups(servers, {}, {}, "http://s:7400");
    BOOST_TEST(all.size() == 3u);
    BOOST_TEST(all[0].where == "--watch-from http://s:7400");
    auto lan = lbsniff::watch_entries_from_groups(servers, {lbkit::Cidr::parse("10.0.0.0/24")}, present, "u");
    BOOST_REQUIRE(lan.size() == 1u);
    BOOST_TEST(lan[0].name == "10.0.0.2:80");
    auto none = lbsniff::watch_entries_from_groups(servers, {lbkit::Cidr::parse("172.16.0.0/12")}, {}, "u");
    BOOST_TEST(none.empty());
    BOOST_CHECK_THROW(lbsniff::watch_entries_from_groups({"no-such-host.invalid:80"}, {}, {}, "u"), lbkit::Error);
}
