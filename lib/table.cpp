#include "table.hpp"

#include <cerrno>
#include <fstream>
#include <sstream>

#include "error.hpp"

namespace lbkit::table {

std::string read_file(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw Error(EX_NOINPUT, path + ": " + errno_text(errno));
    std::string text;
    char buf[65536];
    while (in.read(buf, sizeof buf) || in.gcount() > 0) {
        text.append(buf, static_cast<std::size_t>(in.gcount()));
        if (text.size() > max_bytes)
            throw BadInput(path + ": larger than " + std::to_string(max_bytes) + " bytes");
    }
    return text;
}

std::vector<std::string_view> split_line(std::string_view raw)
{
    if (raw.size() > max_line)
        throw BadInput("line longer than " + std::to_string(max_line) + " characters");
    if (raw.find('\0') != std::string_view::npos)
        throw BadInput("NUL byte");
    if (auto hash = raw.find('#'); hash != std::string_view::npos)
        raw = raw.substr(0, hash);
    std::vector<std::string_view> fields;
    std::size_t i = 0;
    while (i < raw.size()) {
        while (i < raw.size() && (raw[i] == ' ' || raw[i] == '\t' || raw[i] == '\r')) ++i;
        std::size_t start = i;
        while (i < raw.size() && raw[i] != ' ' && raw[i] != '\t' && raw[i] != '\r') ++i;
        if (i > start)
            fields.push_back(raw.substr(start, i - start));
    }
    return fields;
}

Table parse(const std::string& text, const std::string& source)
{
    if (text.size() > max_bytes)
        throw BadInput(source + ": larger than " + std::to_string(max_bytes) + " bytes");
    Table t;
    t.source = source;
    std::size_t pos = 0;
    int line = 0;
    while (pos < text.size()) {
        ++line;
        std::size_t nl = text.find('\n', pos);
        std::size_t end = nl == std::string::npos ? text.size() : nl;
        std::string_view raw(text.data() + pos, end - pos);
        pos = end + 1;
        Row row;
        row.line = line;
        try {
            for (std::string_view f : split_line(raw))
                row.fields.emplace_back(f);
        } catch (const BadInput& e) {
            throw BadInput(source + ":" + std::to_string(line) + ": " + e.what());
        }
        if (!row.fields.empty())
            t.rows.push_back(std::move(row));
    }
    return t;
}

Table load(const std::string& path)
{
    return parse(read_file(path), path);
}

void fail(const Table& t, const Row& r, const std::string& reason)
{
    throw BadInput(t.source + ":" + std::to_string(r.line) + ": " + reason);
}

void expect_columns(const Table& t, const Row& r, std::size_t min, std::size_t max, const char* columns)
{
    if (r.fields.size() >= min && r.fields.size() <= max)
        return;
    std::ostringstream msg;
    msg << "expected ";
    if (min == max) msg << min;
    else msg << min << " to " << max;
    msg << " columns (" << columns << "), got " << r.fields.size();
    fail(t, r, msg.str());
}

}  // namespace lbkit::table
