#include "http/request_target.hpp"

#include <http_parser.h>

#include "http/ascii.hpp"

namespace lbkit::http {

namespace {

std::string_view field(std::string_view s, const http_parser_url& u, int f)
{
    if (!(u.field_set & (1 << f)))
        return {};
    return s.substr(u.field_data[f].off, u.field_data[f].len);
}

// "host" or "host:port" (brackets kept for an IPv6 literal), the span of the
// URL from the host to the end of the port.
std::string_view authority_of(std::string_view s, const http_parser_url& u)
{
    std::size_t from = u.field_data[UF_HOST].off;
    if (from > 0 && s[from - 1] == '[')
        --from;
    std::size_t to = u.field_data[UF_HOST].off + u.field_data[UF_HOST].len;
    if (to < s.size() && s[to] == ']')
        ++to;
    if (u.field_set & (1 << UF_PORT))
        to = u.field_data[UF_PORT].off + u.field_data[UF_PORT].len;
    return s.substr(from, to - from);
}

}  // namespace

const char* parse_absolute(std::string_view s, Target& out)
{
    out = Target{};
    if (s.empty() || s[0] == '/')
        return "lbproxy is a forward proxy: the request target must be an absolute URL (http://host/path)";
    http_parser_url u;
    http_parser_url_init(&u);
    if (s.size() > 0xffff || http_parser_parse_url(s.data(), s.size(), 0, &u) != 0)
        return "bad URL in the request line";
    auto scheme = field(s, u, UF_SCHEMA);
    if (!iequals(scheme, "http"))
        return iequals(scheme, "https")
                   ? "https:// URLs go through CONNECT; lbproxy relays plain http:// requests"
                   : "unsupported URL scheme: lbproxy relays http:// URLs";
    out.host = field(s, u, UF_HOST);
    if (out.host.empty())
        return "no host in the URL";
    if (u.field_set & (1 << UF_PORT)) {
        if (u.port == 0)
            return "bad port in the URL";
        out.port = u.port;
    }
    out.authority = authority_of(s, u);
    if (u.field_set & (1 << UF_PATH)) {
        std::size_t from = u.field_data[UF_PATH].off;
        std::size_t to = from + u.field_data[UF_PATH].len;
        if (u.field_set & (1 << UF_QUERY))
            to = u.field_data[UF_QUERY].off + u.field_data[UF_QUERY].len;
        out.path_query = s.substr(from, to - from);
    } else if (u.field_set & (1 << UF_QUERY)) {
        // "http://a?x": the '?' before the query belongs to it.
        std::size_t from = u.field_data[UF_QUERY].off - 1;
        out.path_query = s.substr(from, u.field_data[UF_QUERY].len + 1);
    }
    return nullptr;
}

const char* parse_authority(std::string_view s, Target& out)
{
    out = Target{};
    http_parser_url u;
    http_parser_url_init(&u);
    if (s.size() > 0xffff || http_parser_parse_url(s.data(), s.size(), 1, &u) != 0)
        return "CONNECT needs host:port";
    out.host = field(s, u, UF_HOST);
    if (out.host.empty() || u.port == 0)
        return "CONNECT needs host:port";
    out.port = u.port;
    out.authority = s;
    return nullptr;
}

}  // namespace lbkit::http
