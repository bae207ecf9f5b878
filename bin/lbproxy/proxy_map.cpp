#include "proxy_map.hpp"

#include <algorithm>

namespace lbproxy {

bool pattern_matches(std::string_view pattern, std::string_view host)
{
    if (pattern == "*") return true;
    if (pattern.size() > 2 && pattern[0] == '*' && pattern[1] == '.') {
        std::string_view suffix = pattern.substr(1);  // ".example.com"
        return host.size() > suffix.size() && host.substr(host.size() - suffix.size()) == suffix;
    }
    return host == pattern;
}

const ProxyRule* ProxyMap::match(std::string_view host) const
{
    if (rules.empty()) return nullptr;
    bool folded = std::none_of(host.begin(), host.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
    std::string lowered;
    if (!folded) {
        lowered.assign(host);
        for (char& c : lowered)
            if (c >= 'A' && c <= 'Z') c = char(c + ('a' - 'A'));
        host = lowered;
    }
    for (const ProxyRule& r : rules)
        if (pattern_matches(r.pattern, host)) return &r;
    return nullptr;
}

}  // namespace lbproxy
