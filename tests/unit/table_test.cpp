#define BOOST_TEST_MODULE table
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include "error.hpp"
#include "table.hpp"

using namespace lbkit;

static std::string error_of(const std::string& text)
{
    try {
        table::parse(text, "t");
    } catch (const BadInput& e) {
        return e.what();
    }
    return "";
}

BOOST_AUTO_TEST_CASE(columns_comments_blank_lines)
{
    auto t = table::parse("# header\n\na  b\t c # trailing\n  \n\td e\r\n", "groups");
    BOOST_TEST(t.source == "groups");
    BOOST_REQUIRE_EQUAL(t.rows.size(), 2u);
    BOOST_TEST(t.rows[0].line == 3);
    BOOST_TEST((t.rows[0].fields == std::vector<std::string>{"a", "b", "c"}));
    BOOST_TEST(t.rows[1].line == 5);
    BOOST_TEST((t.rows[1].fields == std::vector<std::string>{"d", "e"}));
}

BOOST_AUTO_TEST_CASE(last_line_without_newline)
{
    auto t = table::parse("x y", "t");
    BOOST_REQUIRE_EQUAL(t.rows.size(), 1u);
    BOOST_TEST(t.rows[0].fields[1] == "y");
}

BOOST_AUTO_TEST_CASE(bad_input_names_file_and_line)
{
    BOOST_TEST(error_of("ok\n" + std::string(5000, 'x') + "\n") == "t:2: line longer than 4096 characters");
    BOOST_TEST(error_of(std::string("a\nb\0c\n", 6)) == "t:2: NUL byte");
    BOOST_TEST(error_of(std::string(table::max_bytes + 1, 'a')).find("larger than") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(expect_columns_message)
{
    auto t = table::parse("\na b\n", "groups");
    try {
        table::expect_columns(t, t.rows[0], 3, 3, "representative server ratio");
        BOOST_FAIL("no error");
    } catch (const BadInput& e) {
        BOOST_TEST(std::string(e.what()) == "groups:2: expected 3 columns (representative server ratio), got 2");
    }
}

BOOST_AUTO_TEST_CASE(missing_file_is_no_input)
{
    try {
        table::load("/nonexistent/groups");
        BOOST_FAIL("no error");
    } catch (const Error& e) {
        BOOST_TEST(e.exit_code() == EX_NOINPUT);
        BOOST_TEST(std::string(e.what()).find("/nonexistent/groups: No such file") == 0);
    }
}

BOOST_AUTO_TEST_CASE(split_line_cuts_comments_and_refuses_without_a_location)
{
    auto f = table::split_line(" web1:80\t12.5  up # note\r");
    BOOST_TEST(f.size() == 3u);
    BOOST_TEST(std::string(f[2]) == "up");
    BOOST_TEST(table::split_line("# only a comment").empty());
    try {
        table::split_line(std::string("a\0b", 3));
        BOOST_FAIL("a NUL byte was accepted");
    } catch (const lbkit::BadInput& e) {
        BOOST_TEST(std::string(e.what()) == "NUL byte");
    }
}
