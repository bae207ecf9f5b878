// HTTP/1.x message parsing for the relay engine: a thin wrapper over llhttp
// (Debian's node-llhttp sources, built in strict mode: lib/http/llhttp.c),
// never a hand parser, plus the checks it leaves to us, so that every
// framing the proxy forwards is read the same way by the next hop (no
// request smuggling): one Content-Length at most, never with
// Transfer-Encoding, Transfer-Encoding exactly "chunked", no obs-fold, no
// CR without LF and no control character in the head, header names that are
// tokens, a request target of visible ASCII, HTTP/1.x only, one Host.
// lbproxy(8) lists the rules and their answers.
//
// A head section is parsed in one piece once it is complete in the buffer
// (find_head_end), so the views in Head point into that contiguous memory
// and nothing is copied. The same parser then continues into a chunked body
// (feed_body), which it validates strictly and re-emits canonically: the
// next hop never sees the client's chunk extensions, trailers or spelling
// of a chunk size, only what this parser understood.
#pragma once
#include <event2/buffer.h>
#include <llhttp.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "http/ascii.hpp"

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
// The fields the proxy frames and routes by: never dropped because a
// Connection header names them, or the next hop would frame the message
// differently from the proxy.
inline bool is_framing(Field f)
{
    return f == Field::content_length || f == Field::transfer_encoding || f == Field::host;
}

struct Header {
    std::string_view name, value;
    Field field = Field::other;      // set by the parser
};

// A method llhttp does not know (RFC 9110 allows any token) is -1, with its
// name in method_name.
inline constexpr int other_method = -1;

struct Head {
    // Request line (requests) or status line (responses).
    int method = other_method;       // enum llhttp_method, or other_method
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

// Does the comma-separated list value contain token (case-insensitive)?
bool list_has(std::string_view value, std::string_view token);

// What feed_body writes of a chunked body.
enum class ChunkOutput {
    payload,    // the data alone, the framing removed (for an HTTP/1.0 client)
    canonical,  // "SIZE CRLF data CRLF" ... "0 CRLF CRLF": no extensions, no trailers
};

class Parser {
public:
    explicit Parser(llhttp_type_t type);
    Parser(const Parser&) = delete;
    Parser& operator=(const Parser&) = delete;

    // Parses one complete head section data[0..len). For a response,
    // no_body says the request was HEAD (the answer has no body whatever its
    // headers say). Returns nullptr, or why the head is refused: a sentence
    // for the answer whose status refusal_status() gives.
    const char* parse_head(const char* data, std::size_t len, Head& out, bool no_body = false);

    // Feeds body bytes of a chunked message that parse_head started. Returns
    // how many bytes belong to this message (it stops at its end; done() is
    // then true). What the chunks carry is kept for write_output(), as mode
    // says. error() says why it stopped early.
    std::size_t feed_body(const char* data, std::size_t len, ChunkOutput mode);
    // Both: what the chunks carry goes to out.
    std::size_t feed_body(const char* data, std::size_t len, evbuffer* out, ChunkOutput mode)
    {
        std::size_t used = feed_body(data, len, mode);
        write_output(out);
        return used;
    }
    // After a canonical feed_body: what it would write is exactly the bytes
    // it used (the sender framed its chunks canonically), so the caller may
    // move those bytes instead, without a copy.
    bool output_is_input() const;
    // Writes what the last feed_body kept to out. It points into that call's
    // data: call it before that data changes.
    void write_output(evbuffer* out);
    bool done() const { return done_; }
    const char* error() const { return error_; }

    // The status for a refused request head: 400, 501 (a transfer coding
    // other than chunked) or 505 (not HTTP/1.x). A refused response head is
    // a 502 whatever this says.
    int refusal_status() const { return refusal_status_; }

private:
    static int on_url(llhttp_t* p, const char* at, std::size_t len);
    static int on_status(llhttp_t* p, const char* at, std::size_t len);
    static int on_header_field(llhttp_t* p, const char* at, std::size_t len);
    static int on_header_value(llhttp_t* p, const char* at, std::size_t len);
    static int on_headers_complete(llhttp_t* p);
    static int on_chunk_header(llhttp_t* p);
    static int on_body(llhttp_t* p, const char* at, std::size_t len);
    static int on_chunk_complete(llhttp_t* p);
    static int on_message_complete(llhttp_t* p);
    const char* refuse(const char* why, int status = 400);
    void keep_data(const char* at, std::size_t len);
    void keep_text(bool line, uint64_t size);
    void emit(std::string_view bytes);
    void flush();
    void reset(Head& out, std::size_t len, bool no_body);
    bool tabs_refused(const char* data, std::size_t len) const;
    const char* execute_head(const char* data, std::size_t len);
    const char* run_head(const char* data, std::size_t len);
    const char* check_bytes(const char* data, std::size_t len);
    const char* check_headers();
    const char* check_transfer_encoding(std::string_view value, int lines);
    static const llhttp_settings_t& settings();

    llhttp_t parser_;
    llhttp_type_t type_;
    Head* head_ = nullptr;
    ChunkOutput mode_ = ChunkOutput::canonical;
    // What the last feed_body read, as pieces of output: the data (in its
    // input) and, in canonical mode, chunk lines (size) and CRLFs.
    struct Piece {
        enum class Kind : unsigned char { data, line, crlf } kind;
        const char* at;
        std::size_t len;
        uint64_t size;
    };
    std::vector<Piece> pieces_;
    const char* feed_from_ = nullptr;  // that call's data
    const char* feed_end_ = nullptr;
    const char* next_ = nullptr;       // where the input still equals the output
    bool same_ = true;                 // the pieces so far are the input from feed_from_
    std::size_t used_ = 0;
    evbuffer* out_ = nullptr;          // during write_output
    uint64_t chunk_size_ = 0;  // of the chunk being read
    bool in_head_ = false;   // inside parse_head
    bool in_body_ = false;   // the head is done: trailers are not headers
    bool last_was_value_ = false;
    bool no_body_ = false;
    bool done_ = false;
    int refusal_status_ = 400;
    const char* error_ = nullptr;
    std::string ows_copy_;   // a head whose OWS tabs were made spaces
    // Output of feed_body written into out_'s reserved space, committed by
    // flush() (emit).
    static constexpr std::size_t pending_limit = 16 * 1024;
    struct Reserved : evbuffer_iovec {
        explicit operator bool() const { return iov_base != nullptr; }
    } reserved_{};
    std::size_t reserved_used_ = 0;
};

}  // namespace lbkit::http
