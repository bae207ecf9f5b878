// The client tables' checks (lib/client_tables): each kind's columns, errors as NAME:LINE.
#define BOOST_TEST_MODULE client_tables
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include "client_tables.hpp"
#include "error.hpp"

using namespace lbkit;

namespace {

// The BadInput sentence, or "" when the table is accepted.
std::string refusal(const std::string& name, const std::string& text)
{
    try {
        client_tables::validate(name, text);
        return "";
    } catch (const lbkit::BadInput& e) {
        return e.what();
    }
}

bool starts(const std::string& s, const std::string& prefix)
{
    return s.rfind(prefix, 0) == 0;
}

}  // namespace

BOOST_AUTO_TEST_CASE(proxymap_rows)
{
    BOOST_TEST(client_tables::validate("proxymap",
                                       "# comment\n"
                                       "intra.example   DIRECT\n"
                                       "*.a.co.jp       proxy1:3128,proxy2:8080\n"
                                       "*               proxy3\n") == 3u);
    BOOST_TEST(starts(refusal("proxymap", "* DIRECT\nx\n"), "proxymap:2: "));
    BOOST_TEST(starts(refusal("proxymap", "a b c\n"), "proxymap:1: "));
    BOOST_TEST(starts(refusal("proxymap", "bad/host DIRECT\n"), "proxymap:1: bad pattern"));
    BOOST_TEST(starts(refusal("proxymap", "a DIRECT,p:1\n"), "proxymap:1: DIRECT cannot be mixed"));
    BOOST_TEST(starts(refusal("proxymap", "a p:1,,q:2\n"), "proxymap:1: empty proxy"));
    BOOST_TEST(starts(refusal("proxymap", "a p:99999\n"), "proxymap:1: proxy 'p:99999'"));
    BOOST_TEST(starts(refusal("proxymap", "a DIRECT\n\na p:1\n"), "proxymap:3: pattern 'a' repeats line 1"));
}

BOOST_AUTO_TEST_CASE(errors_name_the_file_when_given)
{
    try {
        client_tables::validate("proxymap", "* DIRECT\nbad/host DIRECT\n", "/etc/lbkit/proxymap");
        BOOST_FAIL("a bad line was accepted");
    } catch (const lbkit::BadInput& e) {
        BOOST_TEST(starts(e.what(), "/etc/lbkit/proxymap:2: bad pattern"));
    }
}

BOOST_AUTO_TEST_CASE(charsets_rows)
{
    BOOST_TEST(client_tables::validate("charsets", "old.example EUC-JP\nsj.example SHIFT_JIS\njis.example ISO-2022-JP\n") == 3u);
    BOOST_TEST(starts(refusal("charsets", "a.example NO-SUCH-CHARSET\n"), "charsets:1: unknown charset"));
    BOOST_TEST(starts(refusal("charsets", "a.example\n"), "charsets:1: "));
    BOOST_TEST(starts(refusal("charsets", "a EUC-JP\na UTF-8\n"), "charsets:2: host 'a' repeats"));
}

BOOST_AUTO_TEST_CASE(sessions_rows)
{
    BOOST_TEST(client_tables::validate("sessions",
                                       "shop.example /login /logout\n"
                                       "shop.example /cart/start /cart/done 10.0.0.5:7402\n") == 2u);
    BOOST_TEST(starts(refusal("sessions", "shop.example login /logout\n"), "sessions:1: path 'login'"));
    BOOST_TEST(starts(refusal("sessions", "shop.example /a /a\n"), "sessions:1: start-path and end-path"));
    BOOST_TEST(starts(refusal("sessions", "shop.example /a /b m:0x\n"), "sessions:1: master"));
    BOOST_TEST(starts(refusal("sessions", "shop.example /a\n"), "sessions:1: "));
    BOOST_TEST(starts(refusal("sessions", "s /a /b\ns /a /c\n"), "sessions:2: "));
}

BOOST_AUTO_TEST_CASE(unknown_and_empty)
{
    BOOST_TEST(!client_tables::known("groups"));
    BOOST_CHECK_THROW(client_tables::validate("groups", ""), lbkit::BadInput);
    BOOST_TEST(client_tables::validate("proxymap", "# nothing yet\n") == 0u);
}
