#include "http/error_page.hpp"

#include <event2/buffer.h>

#include <string>

#include "http/reason_phrase.hpp"

namespace lbkit::http {

void write_error(evbuffer* out, std::string_view tool, const ErrorAnswer& a)
{
    const char* reason = reason_phrase(a.status);
    std::string body;
    body.reserve(tool.size() + a.sentence.size() + 64);
    body.append(tool).append(": ").append(std::to_string(a.status)).append(" ").append(reason).append("\n");
    body.append(a.sentence).append("\n");
    evbuffer_add_printf(out,
                        "HTTP/1.1 %d %s\r\n"
                        "Content-Type: text/plain; charset=utf-8\r\n"
                        "Content-Length: %zu\r\n"
                        "Cache-Control: no-store\r\n"
                        "Via: 1.1 %.*s\r\n"
                        "%s"
                        "\r\n",
                        a.status, reason, body.size(), int(tool.size()), tool.data(),
                        a.close ? "Connection: close\r\n" : "");
    if (!a.head_only)
        evbuffer_add(out, body.data(), body.size());
}

}  // namespace lbkit::http
