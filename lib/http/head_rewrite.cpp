#include "http/head_rewrite.hpp"

#include <charconv>

namespace lbkit::http {

namespace {

// Drops the headers that must not cross the proxy: hop-by-hop ones and
// those the Connection header names.
bool dropped(const Head& h, const Header& hd)
{
    return is_hop_by_hop(hd.field) || (!h.connection.empty() && list_has(h.connection, hd.name));
}

void append_uint(std::string& out, unsigned v)
{
    char buf[12];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

void append_headers(const Head& h, std::string& out, bool skip_host, bool skip_te, bool skip_length = false)
{
    for (const auto& hd : h.headers) {
        if (dropped(h, hd))
            continue;
        if (skip_host && hd.field == Field::host)
            continue;
        if (skip_te && hd.field == Field::transfer_encoding)
            continue;
        if (skip_length && hd.field == Field::content_length)
            continue;
        out.append(hd.name).append(": ").append(hd.value).append("\r\n");
    }
    out.append("Via: ").append(via_value).append("\r\n");
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

void build_request_rest(const Head& req, std::string& rest)
{
    rest.clear();
    append_headers(req, rest, true, false);
    rest.append("\r\n");
}

void append_host_line(std::string& out, std::string_view host, uint16_t port)
{
    out.append("Host: ");
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
    out.append("\r\n");
}

void build_response_head(const Head& resp, const ResponsePlan& plan, std::string& out)
{
    out.assign("HTTP/1.1 ");
    append_uint(out, unsigned(resp.status));
    out.push_back(' ');
    if (!resp.reason.empty())
        out.append(resp.reason);
    else
        out.append(http_status_str(static_cast<http_status>(resp.status)));
    out.append("\r\n");
    append_headers(resp, out, false, plan.dechunk || plan.new_length, plan.new_length);
    if (plan.chunked)
        out.append("Transfer-Encoding: chunked\r\n");
    if (plan.close_client)
        out.append("Connection: close\r\n");
    else if (plan.keep_alive_10)
        out.append("Connection: keep-alive\r\n");
    out.append("\r\n");
}

}  // namespace lbkit::http
