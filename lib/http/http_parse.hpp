// HTTP/1.x message parsing for the relay engine: a thin wrapper over Debian's
// libhttp-parser (never a hand parser) plus the checks it leaves to us, so
// that every framing the proxy forwards is unambiguous (no request
// smuggling): one Content-Length at most, never with Transfer-Encoding, no
// obs-fold, header names that are tokens, HTTP/1.x only, one Host.
//
// A head section is parsed in one piece once it is complete in the buffer
// (find_head_end), so the views in Head point into that contiguous memory
// and nothing is copied. The same parser then continues into a chunked body
// (feed_body), which it validates and, when asked, decodes.
#pragma once
#include <http_parser.h>

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

struct evbuffer;

namespace lbkit::http {

// How a message body is delimited on the wire.
enum class Framing { none, length, chunked, until_close };

// The header names the proxy acts on, recognised once when the head is
// parsed so that the checks and the rewrite do not compare names again.
enum class Field : unsigned char {
    other, host, content_length, transfer_encoding, expect,
    // hop-by-hop, never forwarded: meaningful for one connection only (RFC
    // 9110 7.6.1), plus the proxy credentials, which are for this proxy alone
    connection, proxy_connection, keep_alive, te, trailer, upgrade,
    proxy_authorization, proxy_authenticate,
};

// Which Field a header name is (case-insensitive).
Field classify(std::string_view name);
inline bool is_hop_by_hop(Field f) { return f >= Field::connection; }

struct Header {
    std::string_view name, value;
    Field field = Field::other;      // set by the parser
};

struct Head {
    // Request line (requests) or status line (responses).
    int method = -1;                 // enum http_method
    std::string_view method_name;
    std::string_view target;
    int status = 0;
    std::string_view reason;
    unsigned major = 1, minor = 1;

    std::vector<Header> headers;     // in order, values without surrounding blanks
    std::string_view connection;     // the first Connection header's value, or empty
    Framing framing = Framing::none;
    uint64_t content_length = 0;     // with Framing::length
    bool keep_alive = true;          // version default, Connection/Proxy-Connection
    bool expect_continue = false;    // Expect: 100-continue
    bool complete = false;           // the message ended with the head (no body)
    std::size_t size = 0;            // bytes of the head section

    bool is_10() const { return major == 1 && minor == 0; }
    // The first header of that name (case-insensitive), or empty.
    std::string_view find(std::string_view name) const;
    void clear();
};

// Offset just past the blank line that ends the head section in data, or 0
// when it is not there yet. scanned keeps how far earlier calls looked, so a
// head that arrives byte by byte is scanned once.
std::size_t find_head_end(const char* data, std::size_t len, std::size_t& scanned);

// Case-insensitive ASCII equality, as header names compare.
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
// Does the comma-separated list value contain token (case-insensitive)?
bool list_has(std::string_view value, std::string_view token);

// Raises libhttp-parser's own head limit (80 KiB) when --max-header is larger.
void set_max_header(std::size_t bytes);

class Parser {
public:
    explicit Parser(http_parser_type type);
    Parser(const Parser&) = delete;
    Parser& operator=(const Parser&) = delete;

    // Parses one complete head section data[0..len). For a response,
    // no_body says the request was HEAD (the answer has no body whatever its
    // headers say). Returns nullptr, or why the head is refused: a sentence
    // for the 400 (or 502) answer.
    const char* parse_head(const char* data, std::size_t len, Head& out, bool no_body = false);

    // Feeds body bytes of a chunked message that parse_head started. Returns
    // how many bytes belong to this message (it stops at its end; done() is
    // then true). With decoded set, the payload without the chunk framing is
    // appended there. error() says why it stopped early.
    std::size_t feed_body(const char* data, std::size_t len, evbuffer* decoded = nullptr);
    bool done() const { return done_; }
    const char* error() const { return error_; }

    // A 505 rather than a 400: the version is not HTTP/1.x.
    bool bad_version() const { return bad_version_; }

private:
    static int on_url(http_parser* p, const char* at, std::size_t len);
    static int on_status(http_parser* p, const char* at, std::size_t len);
    static int on_header_field(http_parser* p, const char* at, std::size_t len);
    static int on_header_value(http_parser* p, const char* at, std::size_t len);
    static int on_headers_complete(http_parser* p);
    static int on_body(http_parser* p, const char* at, std::size_t len);
    static int on_message_complete(http_parser* p);
    const char* check_headers();
    static const http_parser_settings& settings();

    http_parser parser_;
    http_parser_type type_;
    Head* head_ = nullptr;
    evbuffer* decoded_ = nullptr;
    bool in_head_ = false;   // inside parse_head
    bool in_body_ = false;   // the head is done: trailers are not headers
    bool last_was_value_ = false;
    bool no_body_ = false;
    bool done_ = false;
    bool bad_version_ = false;
    const char* error_ = nullptr;
};

}  // namespace lbkit::http
