#include "http/proxy_connect.hpp"

#include <event2/buffer.h>

#include <algorithm>

#include "http/http_parse.hpp"

namespace lbkit::http {

std::string proxy_connect_request(const HostPort& server)
{
    std::string authority = server.str();
    return "CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n\r\n";
}

ProxyConnectAnswer read_proxy_connect_answer(evbuffer* in, std::size_t max_header)
{
    std::size_t len = evbuffer_get_length(in);
    std::size_t lim = std::min(len, max_header);
    auto* p = reinterpret_cast<const char*>(evbuffer_pullup(in, static_cast<ssize_t>(lim)));
    std::size_t scanned = 0;
    std::size_t end = lim ? find_head_end(p, lim, scanned) : 0;
    if (end == 0) {
        if (len >= max_header)
            return {ProxyConnectAnswer::bad, "an answer head larger than " + std::to_string(max_header) + " bytes"};
        return {};
    }
    Parser parser(HTTP_RESPONSE);
    Head head;
    // No body follows an answer to CONNECT, whatever its headers say.
    if (const char* err = parser.parse_head(p, end, head, true)) return {ProxyConnectAnswer::bad, err};
    if (head.status >= 200 && head.status < 300) {
        evbuffer_drain(in, end);
        return {ProxyConnectAnswer::established, ""};
    }
    std::string line = "HTTP/" + std::to_string(head.major) + "." + std::to_string(head.minor) + " " +
                       std::to_string(head.status);
    if (!head.reason.empty()) line.append(" ").append(head.reason);
    return {ProxyConnectAnswer::refused, line};
}

}  // namespace lbkit::http
