// Tabular output of the commands: aligned for a terminal, tab-separated for
// pipes (-o tsv, and whenever stdout is not a terminal), JSON with -o json.
#pragma once
#include <ostream>
#include <string>
#include <vector>

namespace lbkit::output {

enum class Format { automatic, table, tsv, json };
Format parse_format(const std::string& s);  // throws BadInput
// automatic -> table on a terminal, tsv otherwise.
Format resolve(Format f);

using Row = std::vector<std::string>;
// table: header plus aligned columns; tsv: rows only, no header, tabs.
void print(std::ostream& out, Format f, const Row& header, const std::vector<Row>& rows);

std::string fixed(double v, int decimals);
// "a, b, c": lists of names in log lines and messages.
std::string join(const std::vector<std::string>& items, const std::string& sep = ", ");

}  // namespace lbkit::output
