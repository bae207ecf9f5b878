// The request methods of RFC 9110, PATCH (RFC 5789) and the WebDAV methods
// web servers commonly see (RFC 4918).
#include "http_method.hpp"

#include <cstring>
#include <string_view>

namespace lbsniff {
namespace {

constexpr std::string_view methods[] = {
    "GET ", "HEAD ", "POST ", "PUT ", "DELETE ", "CONNECT ", "OPTIONS ", "TRACE ",
    "PATCH ", "PROPFIND ", "PROPPATCH ", "MKCOL ", "COPY ", "MOVE ", "LOCK ", "UNLOCK ",
};

}  // namespace

MethodMatch match_method(const uint8_t* data, std::size_t len)
{
    // A request line starts with an upper-case letter; most payloads
    // (responses, TLS, bodies) are out on the first byte.
    if (len == 0 || data[0] < 'C' || data[0] > 'U')
        return MethodMatch::no;
    bool prefix = false;
    for (std::string_view m : methods) {
        if (m[0] != char(data[0]))
            continue;
        std::size_t n = len < m.size() ? len : m.size();
        if (std::memcmp(data, m.data(), n) != 0)
            continue;
        if (len >= m.size())
            return MethodMatch::yes;
        prefix = true;
    }
    return prefix ? MethodMatch::partial : MethodMatch::no;
}

}  // namespace lbsniff
