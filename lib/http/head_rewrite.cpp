#include "http/head_rewrite.hpp"

#include <charconv>

#include "http/reason_phrase.hpp"

namespace lbkit::http {

namespace {

// Drops the headers that must not cross the proxy: hop-by-hop ones and
// those the Connection header names, but never the framing headers or Host
// (RFC 9110 7.6.1 forbids naming them): the proxy framed the message by
// them, and a next hop that did not see them would frame it otherwise
// (a body read as the next request). HAProxy keeps them too.
bool dropped(const Head& h, const Header& hd)
{
    return is_hop_by_hop(hd.field)
           || (!is_framing(hd.field) && !h.connection.empty() && list_has(h.connection, hd.name));
}

void append_uint(std::string& out, unsigned v)
{
    char buf[12];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

// Transfer-Encoding is never copied: a chunked body is framed anew, and the
// callers write the header the new framing needs.
void append_headers(const Head& h, std::string_view tool, std::string& out, bool skip_host,
                    bool skip_length = false)
{
    for (const auto& hd : h.headers) {
        if (dropped(h, hd))
            continue;
        if (skip_host && hd.field == Field::host)
            continue;
        if (hd.field == Field::transfer_encoding)
            continue;
        if (skip_length && hd.field == Field::content_length)
            continue;
        out.append(hd.name).append(": ").append(hd.value).append("\r\n");
    }
    out.append("Via: 1.1 ").append(tool).append("\r\n");
}

}  // namespace

namespace {

// "host[:port]" as a URL or a Host header writes it: the port is left out
// when it is 80, an IPv6 literal is bracketed.
void append_authority(std::string& out, std::string_view host, uint16_t port)
{
    bool v6 = host.find(':') != std::string_view::npos;
    if (v6)
        out.push_back('[');
    out.append(host);
    if (v6)
        out.push_back(']');
    if (port != 80) {
        out.push_back(':');
        append_uint(out, port);
    }
}

}  // namespace

void build_request_line(const Head& req, const Target& t, std::string& line)
{
    line.assign(req.method_name);
    line.push_back(' ');
    if (t.path_query.empty())
        line.append(req.method == HTTP_OPTIONS ? "*" : "/");
    else if (t.path_query.front() == '?')
        line.append("/").append(t.path_query);
    else
        line.append(t.path_query);
    line.append(" HTTP/1.1\r\n");
}

void build_proxy_request_line(std::string_view origin_line, std::string_view host, uint16_t port, std::string& line)
{
    std::size_t space = origin_line.find(' ');
    line.assign(origin_line.substr(0, space + 1));
    line.append("http://");
    append_authority(line, host, port);
    std::string_view rest = origin_line.substr(space + 1);
    if (rest.substr(0, 2) == "* ")
        rest.remove_prefix(1);  // OPTIONS to the whole server: the authority alone
    line.append(rest);
}

void build_request_rest(const Head& req, std::string_view tool, std::string& rest)
{
    rest.clear();
    append_headers(req, tool, rest, true);
    if (req.framing == Framing::chunked)
        rest.append("Transfer-Encoding: chunked\r\n");
    rest.append("\r\n");
}

void append_host_line(std::string& out, std::string_view host, uint16_t port)
{
    out.append("Host: ");
    append_authority(out, host, port);
    out.append("\r\n");
}

void build_response_head(const Head& resp, const ResponsePlan& plan, std::string_view tool, std::string& out)
{
    out.assign("HTTP/1.1 ");
    append_uint(out, unsigned(resp.status));
    out.push_back(' ');
    if (!resp.reason.empty())
        out.append(resp.reason);
    else
        out.append(reason_phrase(resp.status));
    out.append("\r\n");
    append_headers(resp, tool, out, false, plan.new_length);
    if (plan.chunked)
        out.append("Transfer-Encoding: chunked\r\n");
    if (plan.close_client)
        out.append("Connection: close\r\n");
    else if (plan.keep_alive_10)
        out.append("Connection: keep-alive\r\n");
    out.append("\r\n");
}

}  // namespace lbkit::http
