// Small pieces of lib/: durations, addresses, tokens, metrics, output, the open files limit.
#define BOOST_TEST_MODULE util
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <sys/resource.h>

#include <sstream>

#include "addr.hpp"
#include "auth.hpp"
#include "duration.hpp"
#include "error.hpp"
#include "fd_limit.hpp"
#include "metrics.hpp"
#include "output.hpp"

using namespace lbkit;

BOOST_AUTO_TEST_CASE(durations)
{
    BOOST_TEST(parse_duration("2").count() == 2000);
    BOOST_TEST(parse_duration("2s").count() == 2000);
    BOOST_TEST(parse_duration("500ms").count() == 500);
    BOOST_TEST(parse_duration("1m").count() == 60000);
    BOOST_TEST(parse_duration("1.5s").count() == 1500);
    BOOST_CHECK_THROW(parse_duration("2x"), BadInput);
    BOOST_CHECK_THROW(parse_duration(""), BadInput);
    BOOST_CHECK_THROW(parse_duration("-1"), BadInput);
    BOOST_TEST(format_duration(Millis(600000)) == "10m");
    BOOST_TEST(format_duration(Millis(1500)) == "1500ms");
}

BOOST_AUTO_TEST_CASE(backoff_doubles_to_its_cap_and_resets)
{
    Backoff b{Millis(250), Millis(1000)};
    BOOST_TEST(b.next().count() == 250);
    BOOST_TEST(b.next().count() == 500);
    BOOST_TEST(b.next().count() == 1000);
    BOOST_TEST(b.next().count() == 1000);
    b.reset();
    BOOST_TEST(b.next().count() == 250);
}

BOOST_AUTO_TEST_CASE(host_ports)
{
    auto a = parse_host_port("web1", 80);
    BOOST_TEST(a.str() == "web1:80");
    BOOST_TEST(parse_host_port("10.0.0.1:8080", 80).port == 8080);
    BOOST_TEST(parse_host_port("[::1]:7400", 0).str() == "[::1]:7400");
    BOOST_TEST(parse_host_port("::1", 80).host == "::1");
    BOOST_CHECK_THROW(parse_host_port("web1:99999", 80), BadInput);
    BOOST_CHECK_THROW(parse_host_port("web1:", 80), BadInput);
    BOOST_CHECK_THROW(parse_host_port("we b", 80), BadInput);
    BOOST_CHECK_THROW(parse_host_port("web1", 0), BadInput);
    BOOST_TEST(is_loopback("127.0.0.2"));
    BOOST_TEST(is_loopback("::1"));
    BOOST_TEST(!is_loopback("10.0.0.1"));
    BOOST_TEST(!is_loopback("0.0.0.0"));
}

BOOST_AUTO_TEST_CASE(cidr)
{
    sockaddr_in in{};
    in.sin_family = AF_INET;
    inet_pton(AF_INET, "127.0.0.2", &in.sin_addr);
    auto* sa = reinterpret_cast<sockaddr*>(&in);
    BOOST_TEST(Cidr::parse("127.0.0.0/8").contains(sa));
    BOOST_TEST(!Cidr::parse("127.0.0.1/32").contains(sa));
    BOOST_TEST(Cidr::parse("127.0.0.2").contains(sa));
    BOOST_TEST(!Cidr::parse("::1").contains(sa));
    sockaddr_in6 in6{};
    in6.sin6_family = AF_INET6;
    inet_pton(AF_INET6, "::ffff:127.0.0.9", &in6.sin6_addr);
    BOOST_TEST(Cidr::parse("127.0.0.0/8").contains(reinterpret_cast<sockaddr*>(&in6)));
    BOOST_CHECK_THROW(Cidr::parse("127.0.0.0/33"), BadInput);
    BOOST_CHECK_THROW(Cidr::parse("example.com/8"), BadInput);
}

BOOST_AUTO_TEST_CASE(tokens)
{
    BOOST_TEST(auth::token_equal("secret", "secret"));
    BOOST_TEST(!auth::token_equal("secret", "secreT"));
    BOOST_TEST(!auth::token_equal("secret", "secret2"));
    BOOST_TEST(!auth::token_equal("secret", ""));
    BOOST_TEST(auth::bearer_matches("s3", "Bearer s3"));
    BOOST_TEST(auth::bearer_matches("s3", "bearer s3"));
    BOOST_TEST(!auth::bearer_matches("s3", "Basic s3"));
    BOOST_TEST(!auth::bearer_matches("s3", nullptr));
    BOOST_CHECK_THROW(auth::load_token("/nonexistent/token"), Error);
}

BOOST_AUTO_TEST_CASE(metrics_text_format)
{
    Metrics m;
    m.counter("x_total", "Things", {{"server", "a\"b"}}).inc(2);
    m.gauge_fn("y", "Computed", [] { return 1.5; });
    std::string text = m.render();
    BOOST_TEST(text.find("# TYPE x_total counter\n") != std::string::npos);
    BOOST_TEST(text.find("x_total{server=\"a\\\"b\"} 2\n") != std::string::npos);
    BOOST_TEST(text.find("y 1.5\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(output_formats)
{
    std::ostringstream tsv, table;
    output::print(tsv, output::Format::tsv, {"A", "B"}, {{"x", "y"}, {"long", "z"}});
    BOOST_TEST(tsv.str() == "x\ty\nlong\tz\n");
    output::print(table, output::Format::table, {"A", "B"}, {{"x", "y"}, {"long", "z"}});
    BOOST_TEST(table.str() == "A     B\nx     y\nlong  z\n");
    BOOST_CHECK_THROW(output::parse_format("xml"), BadInput);
    BOOST_TEST(output::join({"a", "b", "c"}) == "a, b, c");
    BOOST_TEST(output::join({}) == "");
}

BOOST_AUTO_TEST_CASE(daemon_urls_one_rule)
{
    BOOST_TEST(http_base_url("127.0.0.1:7400") == "http://127.0.0.1:7400");
    BOOST_TEST(http_base_url("http://lbstate:7400/") == "http://lbstate:7400");
    BOOST_TEST(http_base_url("https://[::1]:7400/x/") == "https://[::1]:7400/x");
    BOOST_CHECK_THROW(http_base_url("ftp://x"), BadInput);
    BOOST_CHECK_THROW(http_base_url("http://"), BadInput);
    BOOST_CHECK_THROW(http_base_url(":7400"), BadInput);
}

BOOST_AUTO_TEST_CASE(open_files_limit)
{
    rlimit before{};
    BOOST_REQUIRE(getrlimit(RLIMIT_NOFILE, &before) == 0);
    // Never lowered: asking for fewer than in force keeps what is in force.
    BOOST_TEST(raise_open_files(16) == static_cast<std::size_t>(before.rlim_cur));
    // Raised up to the hard limit, not above it.
    std::size_t hard = before.rlim_max == RLIM_INFINITY ? 0 : static_cast<std::size_t>(before.rlim_max);
    std::size_t got = raise_open_files();
    if (hard != 0) BOOST_TEST(got == hard);
    BOOST_TEST(got >= static_cast<std::size_t>(before.rlim_cur));
    rlimit after{};
    getrlimit(RLIMIT_NOFILE, &after);
    BOOST_TEST(static_cast<std::size_t>(after.rlim_cur) == got);
}
