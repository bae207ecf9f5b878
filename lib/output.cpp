#include "output.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "error.hpp"

namespace lbkit::output {

Format parse_format(const std::string& s)
{
    if (s == "auto") return Format::automatic;
    if (s == "table") return Format::table;
    if (s == "tsv") return Format::tsv;
    if (s == "json") return Format::json;
    throw BadInput("unknown output format '" + s + "' (table, tsv or json)");
}

Format resolve(Format f)
{
    if (f != Format::automatic)
        return f;
    return isatty(STDOUT_FILENO) ? Format::table : Format::tsv;
}

void print(std::ostream& out, Format f, const Row& header, const std::vector<Row>& rows)
{
    if (resolve(f) == Format::tsv) {
        for (const auto& r : rows) {
            for (std::size_t i = 0; i < r.size(); ++i)
                out << (i ? "\t" : "") << r[i];
            out << "\n";
        }
        return;
    }
    std::vector<std::size_t> width(header.size());
    for (std::size_t i = 0; i < header.size(); ++i)
        width[i] = header[i].size();
    for (const auto& r : rows)
        for (std::size_t i = 0; i < r.size() && i < width.size(); ++i)
            width[i] = std::max(width[i], r[i].size());
    auto line = [&](const Row& r) {
        std::string s;
        for (std::size_t i = 0; i < r.size(); ++i) {
            s += r[i];
            if (i + 1 < r.size())
                s.append(width[i] - std::min(width[i], r[i].size()) + 2, ' ');
        }
        out << s << "\n";
    };
    line(header);
    for (const auto& r : rows)
        line(r);
}

std::string fixed(double v, int decimals)
{
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return buf;
}

std::string join(const std::vector<std::string>& items, const std::string& sep)
{
    std::string out;
    for (const auto& item : items)
        out += (out.empty() ? "" : sep) + item;
    return out;
}

}  // namespace lbkit::output
