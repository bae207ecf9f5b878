// The proxy map (bin/lbproxy/proxy_map.*, proxy_map_source.*): which rule a
// host falls under, and which table is in force, file or push.
#define BOOST_TEST_MODULE lbproxy_proxy_map
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <sys/time.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "error.hpp"
#include "proxy_map.hpp"
#include "proxy_map_source.hpp"

using namespace lbproxy;
namespace fs = std::filesystem;

namespace {

ProxyMap map_of(const std::string& text)
{
    ProxyMap m;
    m.version = 1;
    m.rules = lbkit::client_tables::parse_proxymap(text, "proxymap");
    return m;
}

// The pattern of the rule host falls under, or "DIRECT (no rule)".
std::string rule_for(const ProxyMap& m, const std::string& host)
{
    const ProxyRule* r = m.match(host);
    return r ? r->pattern : "DIRECT (no rule)";
}

struct TempDir {
    fs::path path;
    TempDir()
    {
        char tmpl[] = "/tmp/lbproxy-proxymap-test.XXXXXX";
        path = mkdtemp(tmpl);
    }
    ~TempDir() { fs::remove_all(path); }
    std::string file(const std::string& name) const { return (path / name).string(); }
};

// Writes text to file with the modification time mtime (seconds).
void write(const std::string& file, const std::string& text, time_t mtime)
{
    std::ofstream(file) << text;
    timeval tv[2] = {{mtime, 0}, {mtime, 0}};
    BOOST_REQUIRE(utimes(file.c_str(), tv) == 0);
}

proxy_store::StoredTable push(int64_t version, const std::string& text, const std::string& peer = "10.0.0.9:4000")
{
    return {"proxymap", version, text, 1, 0, "push", peer};
}

}  // namespace

BOOST_AUTO_TEST_CASE(exact_host_domain_and_star)
{
    ProxyMap m = map_of("intra.example.com DIRECT\n*.example.com p1:3128\n*.test p2\n");
    BOOST_TEST(rule_for(m, "intra.example.com") == "intra.example.com");
    BOOST_TEST(rule_for(m, "www.example.com") == "*.example.com");
    BOOST_TEST(rule_for(m, "a.b.example.com") == "*.example.com");
    // *.domain is below the domain, as shExpMatch("example.com", "*.example.com") is false.
    BOOST_TEST(rule_for(m, "example.com") == "DIRECT (no rule)");
    BOOST_TEST(rule_for(m, "badexample.com") == "DIRECT (no rule)");
    BOOST_TEST(rule_for(m, "x.test") == "*.test");
    BOOST_TEST(rule_for(m, "other.org") == "DIRECT (no rule)");
    ProxyMap all = map_of("* p1\n");
    BOOST_TEST(rule_for(all, "anything.at.all") == "*");
    BOOST_TEST(rule_for(all, "localhost") == "*");
}

BOOST_AUTO_TEST_CASE(first_match_wins)
{
    ProxyMap m = map_of("* DIRECT\n*.example.com p1\n");
    BOOST_TEST(rule_for(m, "www.example.com") == "*");
    ProxyMap n = map_of("*.example.com p1\nwww.example.com p2\n* p3\n");
    BOOST_TEST(rule_for(n, "www.example.com") == "*.example.com");
    BOOST_TEST(rule_for(n, "example.org") == "*");
}

BOOST_AUTO_TEST_CASE(hosts_and_patterns_compare_without_case)
{
    ProxyMap m = map_of("*.Example.COM p1\nIntra.Test DIRECT\n");
    BOOST_TEST(rule_for(m, "WWW.example.com") == "*.example.com");
    BOOST_TEST(rule_for(m, "www.EXAMPLE.com") == "*.example.com");
    BOOST_TEST(rule_for(m, "intra.TEST") == "intra.test");
}

BOOST_AUTO_TEST_CASE(proxies_as_written)
{
    ProxyMap m = map_of("a p1:8080,proxies.example,10.0.0.1\nb DIRECT\n");
    const auto& ps = m.rules[0].proxies;
    BOOST_REQUIRE(ps.size() == 3u);
    BOOST_TEST(ps[0].address.str() == "p1:8080");
    BOOST_TEST(ps[0].port_given);
    BOOST_TEST(ps[1].text == "proxies.example");
    BOOST_TEST(!ps[1].port_given);  // may be a representative name
    BOOST_TEST(ps[1].address.str() == "proxies.example:3128");
    BOOST_TEST(ps[1].name == "proxies.example:3128");  // the name a state or history gives it
    BOOST_TEST(ps[2].address.str() == "10.0.0.1:3128");
    BOOST_TEST(m.rules[1].direct);
    BOOST_TEST(m.rules[1].proxies.empty());
    BOOST_TEST(m.rules[1].line == 2);
}

BOOST_AUTO_TEST_CASE(file_errors_name_the_file_and_line)
{
    TempDir dir;
    std::string f = dir.file("proxymap");
    write(f, "* DIRECT\nbad/host p1\n", 1000);
    try {
        ProxyMapSource::check_file(f);
        BOOST_FAIL("a bad file was taken");
    } catch (const lbkit::BadInput& e) {
        BOOST_TEST(std::string(e.what()).rfind(f + ":2: bad pattern", 0) == 0);
    }
    BOOST_CHECK_THROW(ProxyMapSource::check_file(dir.file("missing")), lbkit::Error);
}

BOOST_AUTO_TEST_CASE(newest_version_wins_file_or_push)
{
    TempDir dir;
    std::string f = dir.file("proxymap");
    write(f, "* p1:3128\n", 1000);
    auto db = proxy_store::open(dir.file("lbproxy.db"));
    {
        ProxyMapSource src(db, f);
        src.start();
        BOOST_TEST(src.current().version == 1000);
        BOOST_TEST(src.current().origin == "file");
        BOOST_TEST(src.current().source == f);
        // Stored as the table in force: the tables API's 409 compares with it.
        BOOST_TEST(proxy_store::load_table(db, "proxymap")->version == 1000);
        // A newer push wins; the same file read again changes nothing.
        proxy_store::save_table(db, push(1500, "* p2:3128\n"));
        src.pushed(push(1500, "* p2:3128\n"));
        BOOST_TEST(src.current().origin == "push");
        BOOST_TEST(src.current().source == "10.0.0.9:4000");
        src.reload();
        BOOST_TEST(src.current().version == 1500);
        BOOST_TEST(src.current().rules[0].proxies[0].text == "p2:3128");
        // An edit that is still older than the push: the push stays.
        write(f, "* p3:3128\n", 1200);
        src.reload();
        BOOST_TEST(src.current().origin == "push");
        // A bad file is refused and the table in force stays.
        write(f, "* p4:99999\n", 2000);
        src.reload();
        BOOST_TEST(src.current().version == 1500);
        // A newer good edit takes over.
        write(f, "* p5:3128\n", 2100);
        src.reload();
        BOOST_TEST(src.current().version == 2100);
        BOOST_TEST(src.current().origin == "file");
        BOOST_TEST(src.current().rules[0].proxies[0].text == "p5:3128");
    }
    // After a restart: the table in force again, unless the file is newer.
    {
        proxy_store::save_table(db, push(3000, "* p6:3128\n"));
        ProxyMapSource src(db, f);
        src.start();
        BOOST_TEST(src.current().version == 3000);
        BOOST_TEST(src.current().origin == "push");
        write(f, "* p7:3128\n", 4000);
        ProxyMapSource again(db, f);
        again.start();
        BOOST_TEST(again.current().version == 4000);
        BOOST_TEST(again.current().origin == "file");
    }
    // Without --proxymap the stored table is in force; without either, none.
    {
        ProxyMapSource src(db, "");
        src.start();
        BOOST_TEST(src.current().version == 4000);
        auto empty = proxy_store::open(dir.file("other.db"));
        ProxyMapSource none(empty, "");
        none.start();
        BOOST_TEST(none.current().version == 0);
        BOOST_TEST(none.current().origin == "none");
        BOOST_TEST(none.current().match("www.example.com") == nullptr);
    }
}

BOOST_AUTO_TEST_CASE(a_bad_file_at_start_is_fatal)
{
    TempDir dir;
    std::string f = dir.file("proxymap");
    write(f, "* p1\n* p2\n", 1000);
    auto db = proxy_store::open(dir.file("lbproxy.db"));
    ProxyMapSource src(db, f);
    BOOST_CHECK_THROW(src.start(), lbkit::BadInput);
}
