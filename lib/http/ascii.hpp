// Case-insensitive ASCII comparison, as header names, schemes and tokens
// compare (RFC 9110 5.1): shared by the parser and the target parsing.
#pragma once
#include <cstddef>
#include <string_view>

namespace lbkit::http {

inline bool iequals(std::string_view a, std::string_view b)
{
    if (a.size() != b.size())
        return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x != y && ((x | 0x20) != (y | 0x20) || (x | 0x20) < 'a' || (x | 0x20) > 'z'))
            return false;
    }
    return true;
}

}  // namespace lbkit::http
