// Plain-text tables (lbkit.conf(5)): whitespace-separated columns, '#'
// comments, one row per line. A bad line refuses the whole table with
// "FILE:LINE: what is wrong"; the caller keeps the table it had.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace lbkit::table {

inline constexpr std::size_t max_bytes = 4 << 20;
inline constexpr std::size_t max_line = 4096;

struct Row {
    int line = 0;
    std::vector<std::string> fields;
};

struct Table {
    std::string source;  // file name, or "groups" for a table sent over an API
    std::vector<Row> rows;
};

// The fields of one line, a '#' comment cut off; empty for a blank or
// comment line. Throws BadInput ("line longer than 4096 characters", "NUL
// byte") without a location, which the caller adds.
std::vector<std::string_view> split_line(std::string_view line);

// Throws BadInput("SOURCE:LINE: ...") for an over-long line, a NUL byte, or
// text over max_bytes.
Table parse(const std::string& text, const std::string& source);
// Throws Error(EX_NOINPUT) when the file cannot be read, BadInput as parse.
Table load(const std::string& path);
std::string read_file(const std::string& path);

// "SOURCE:LINE: reason" as BadInput.
[[noreturn]] void fail(const Table& t, const Row& r, const std::string& reason);
// Field count check: "expected 3 columns (representative server ratio), got 2".
void expect_columns(const Table& t, const Row& r, std::size_t min, std::size_t max, const char* columns);

}  // namespace lbkit::table
