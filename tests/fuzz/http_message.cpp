// libFuzzer target (make fuzz), replayed over tests/fuzz/http-corpus by
// make check (replay_main.cpp): the relay engine's message path on hostile
// bytes, driven as lbproxy's client connection and Relay drive it. Heads
// are found with find_head_end and parsed with Parser::parse_head, bodies
// go through BodyPump, pipelined messages follow, and the heads sent on are
// built (build_request_line, build_request_rest, build_proxy_request_line,
// build_response_head) and read again by a fresh Parser, as the next hop
// reads them.
//
// The input is a control byte, then the bytes a client sends on one
// connection (requests) or a server on one (responses):
//
//   bit 0      0: requests, 1: responses
//   bit 1      requests: the Host line names the server chosen
//              (append_host_line), not the URL's authority;
//              responses: they answer HEAD
//   bit 2      responses: a body filter changes the body (new_length)
//   bit 3      the client closes after this exchange (no keep-alive)
//   bits 4-7   the seed of the split pattern
//
// so that a seed file starts with a digit: '0' requests, '1' responses,
// '3' responses to HEAD, '5' responses through a filter, '8' requests from
// a client that closes, '9' responses to a client that closes.
//
// Each stream is run six times: whole, a byte at a time and in pieces the
// seed chooses (the room the pump has in its destination split the same
// way), each with chunked bodies re-framed canonically and decoded. The
// invariants, each an abort() when violated:
//  - no crash, leak or undefined behaviour (the sanitizers);
//  - every split gives the same heads, bodies, errors and consumption;
//  - a canonical chunked body is "HEX CRLF data CRLF"... "0 CRLF CRLF",
//    lowercase hex without leading zeros: no extension, no trailer;
//  - that body, behind the head sent on, read by a fresh Parser gives the
//    payload the decoding run gave;
//  - a length body is exactly the Content-Length bytes that followed the
//    head, a close-delimited one everything to the end;
//  - the request head sent on (origin form and an upstream proxy's absolute
//    form) parses again to the same method, target, framing and
//    Content-Length, one Host, no hop-by-hop header, every end-to-end
//    header in order; the response head sent on to the same status and a
//    framing the client can follow (Connection: close for a body the end
//    of the connection delimits).
#include <event2/buffer.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.hpp"
#include "http/body_pump.hpp"
#include "http/head_rewrite.hpp"
#include "http/http_parse.hpp"
#include "http/reason_phrase.hpp"
#include "http/request_target.hpp"

namespace {

namespace http = lbkit::http;
using http::Framing;

constexpr std::size_t max_header = 2048;  // small, so that the limit is reached
constexpr std::string_view tool = "lbproxy";

// Printable form of bytes for a report: C escapes for the rest.
std::string quote(std::string_view s)
{
    std::string out;
    for (char c : s) {
        auto u = static_cast<unsigned char>(c);
        if (c == '\r') out += "\\r";
        else if (c == '\n') out += "\\n";
        else if (c == '\\') out += "\\\\";
        else if (u < 0x20 || u >= 0x7f) {
            char b[8];
            std::snprintf(b, sizeof b, "\\x%02x", u);
            out += b;
        } else out += c;
    }
    return out;
}

const char* framing_name(Framing f)
{
    switch (f) {
    case Framing::none: return "none";
    case Framing::length: return "length";
    case Framing::chunked: return "chunked";
    case Framing::until_close: return "until_close";
    }
    return "?";
}

struct Config {
    bool responses = false;
    bool server_host = false;  // requests: append_host_line
    bool head = false;         // responses: answers to HEAD
    bool filter = false;       // responses: new_length
    bool close = false;        // the client does not keep the connection
    unsigned seed = 0;
};

// Where the pieces of the input and the pump's room end: whole, byte by
// byte, or as the seed says (xorshift).
class Splitter {
public:
    enum Kind { whole, bytes, seeded };
    Splitter(Kind kind, unsigned seed, std::size_t size) : kind_(kind), x_(seed * 2654435761u ^ uint32_t(size) ^ 0x9e3779b9u)
    {
        if (x_ == 0) x_ = 1;
    }
    std::size_t piece(std::size_t left)
    {
        switch (kind_) {
        case whole: return left;
        case bytes: return 1;
        case seeded: break;
        }
        uint32_t r = next();
        std::size_t n = (r & 3) == 0 ? 1 + (r >> 8) % 700 : 1 + (r >> 8) % 9;
        return std::min(n, left);
    }
    // Room left in the pump's destination (relay_buffer_limit at most).
    std::size_t room()
    {
        switch (kind_) {
        case whole: return http::relay_buffer_limit;
        case bytes: return 1;
        case seeded: break;
        }
        uint32_t r = next();
        return (r & 3) == 0 ? http::relay_buffer_limit : 1 + (r >> 8) % 40;
    }
    // A piece added by reference (a chain of its own over the input) or
    // copied (bytes: copied, so that a head is not pulled up anew from a
    // chain per byte).
    bool by_reference() { return kind_ == seeded && (next() & 1); }

private:
    uint32_t next()
    {
        x_ ^= x_ << 13;
        x_ ^= x_ >> 17;
        x_ ^= x_ << 5;
        return x_;
    }
    Kind kind_;
    uint32_t x_;
};

struct Buffer {
    evbuffer* b = evbuffer_new();
    Buffer() = default;
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;
    ~Buffer() { evbuffer_free(b); }
    std::size_t size() const { return evbuffer_get_length(b); }
};

// One message of the stream: what the parser made of its head, what was
// sent on, what the pump wrote of its body.
struct Message {
    std::string summary;      // the head as parsed (independent of the body mode)
    std::string sent_head;    // the head built to send on
    Framing framing = Framing::none;
    uint64_t content_length = 0;
    std::size_t body_offset = 0;  // in the stream, where the body starts
    std::size_t moved = 0;        // body bytes taken from the stream
    std::string body;             // what the pump wrote
    bool body_done = false;
    std::string error;            // why the body was cut short
};

struct Outcome {
    std::vector<Message> messages;
    std::string end;  // why the stream stopped

    // Everything that must not depend on the split.
    std::string describe(bool with_bodies) const
    {
        std::string d;
        for (const auto& m : messages) {
            d += "message: " + m.summary + "\n";
            d += "  framing " + std::string(framing_name(m.framing)) + " length " + std::to_string(m.content_length)
                 + " offset " + std::to_string(m.body_offset) + " moved " + std::to_string(m.moved)
                 + (m.body_done ? " done" : " not done") + (m.error.empty() ? "" : " error: " + m.error) + "\n";
            if (with_bodies) {
                d += "  sent head: " + quote(m.sent_head) + "\n";
                d += "  body: " + quote(m.body) + "\n";
            }
        }
        return d + "end: " + end + "\n";
    }
};

// A chunked body as canonical_chunked writes it, checked byte for byte;
// its payload into payload. A body cut short (complete false) may end
// anywhere, but what is there must be canonical.
void check_canonical(std::string_view b, bool complete, std::string& payload)
{
    const std::string what = "chunked body sent on: " + quote(b);
    std::size_t i = 0;
    for (;;) {
        if (i == b.size() && !complete)
            return;
        std::size_t start = i;
        while (i < b.size() && ((b[i] >= '0' && b[i] <= '9') || (b[i] >= 'a' && b[i] <= 'f')))
            ++i;
        if (i == b.size() && !complete)
            return;
        FUZZ_CHECK(i > start, "no chunk size at " + std::to_string(start) + " in " + what);
        FUZZ_CHECK(i - start <= 16, "chunk size too long in " + what);
        FUZZ_CHECK(b[start] != '0' || i - start == 1, "leading zero in a chunk size in " + what);
        uint64_t size = 0;
        for (std::size_t k = start; k < i; ++k)
            size = size * 16 + uint64_t(b[k] <= '9' ? b[k] - '0' : b[k] - 'a' + 10);
        // The line ends right after the size: no extension.
        std::string_view rest = b.substr(i);
        if (rest.size() < 2 && !complete) {
            FUZZ_CHECK(std::string_view("\r\n").substr(0, rest.size()) == rest, "bad chunk line end in " + what);
            return;
        }
        FUZZ_CHECK(rest.substr(0, 2) == "\r\n", "chunk size not followed by CRLF (an extension?) in " + what);
        i += 2;
        if (size == 0) {
            // The last chunk: the blank line at once, no trailer, nothing after.
            rest = b.substr(i);
            if (!complete) {
                FUZZ_CHECK(rest.size() <= 2 && std::string_view("\r\n").substr(0, rest.size()) == rest,
                           "trailer or bytes after the last chunk in " + what);
                return;
            }
            FUZZ_CHECK(rest == "\r\n", "trailer or bytes after the last chunk in " + what);
            return;
        }
        std::size_t avail = b.size() - i;
        if (avail < size) {
            FUZZ_CHECK(!complete, "chunk shorter than its size in " + what);
            payload.append(b.substr(i));
            return;
        }
        payload.append(b.substr(i, std::size_t(size)));
        i += std::size_t(size);
        rest = b.substr(i);
        if (rest.size() < 2 && !complete) {
            FUZZ_CHECK(std::string_view("\r\n").substr(0, rest.size()) == rest, "chunk data not followed by CRLF in " + what);
            return;
        }
        FUZZ_CHECK(rest.substr(0, 2) == "\r\n", "chunk data not followed by CRLF in " + what);
        i += 2;
    }
}

std::string summarize(const http::Head& h)
{
    std::string s = quote(h.method_name) + " " + std::to_string(h.method) + " " + quote(h.target) + " "
                    + std::to_string(h.status) + " " + quote(h.reason) + " HTTP/" + std::to_string(h.major) + "."
                    + std::to_string(h.minor) + " " + framing_name(h.framing) + " cl=" + std::to_string(h.content_length)
                    + (h.keep_alive ? " keep-alive" : " close") + (h.expect_continue ? " 100-continue" : "")
                    + (h.complete ? " complete" : "") + " size=" + std::to_string(h.size) + " [";
    for (const auto& hd : h.headers)
        s += quote(hd.name) + "=" + quote(hd.value) + "/" + std::to_string(int(hd.field)) + ";";
    return s + "]";
}

// Would the relay drop this header (head_rewrite.cpp's rule, restated)?
bool end_to_end(const http::Head& h, const http::Header& hd)
{
    if (http::is_hop_by_hop(hd.field))
        return false;
    return http::is_framing(hd.field) || h.connection.empty() || !http::list_has(h.connection, hd.name);
}

// The head sent on, read by a fresh parser p into r (views into sent): it
// must be one whole head, and taken.
void reparse(const std::string& sent, bool no_body, http::Parser& p, http::Head& r, const std::string& original)
{
    std::size_t scanned = 0;
    std::size_t end = http::find_head_end(sent.data(), sent.size(), scanned);
    FUZZ_CHECK(end == sent.size(), "the head sent on does not end where built: " + quote(sent));
    const char* err = p.parse_head(sent.data(), sent.size(), r, no_body);
    FUZZ_CHECK(err == nullptr, std::string("the head sent on is refused: ") + (err ? err : "") + "\n  sent: "
                                   + quote(sent) + "\n  from: " + original);
}

// The header lines of r other than those named, in order, as "name: value".
std::vector<std::string> lines_of(const http::Head& r)
{
    std::vector<std::string> v;
    for (const auto& hd : r.headers)
        v.push_back(std::string(hd.name) + ": " + std::string(hd.value));
    return v;
}

std::string join(const std::vector<std::string>& v)
{
    std::string s;
    for (const auto& l : v) s += "    " + quote(l) + "\n";
    return s;
}

// The request as the relay sends it on: request line in origin form, the
// Host line, the headers; and in absolute form for an upstream proxy.
std::string check_request_sent(const http::Head& h, const http::Target& t, const Config& cfg)
{
    const std::string from = quote(std::string_view(h.method_name.data(), h.size));
    // The URL parts are pieces of the target.
    FUZZ_CHECK(!t.host.empty() && t.host.data() >= h.target.data()
                   && t.host.data() + t.host.size() <= h.target.data() + h.target.size(),
               "host outside the target: " + from);
    FUZZ_CHECK(t.port != 0, "port 0 accepted: " + from);
    FUZZ_CHECK(t.path_query.empty() || t.path_query[0] == '/' || t.path_query[0] == '?',
               "path neither empty nor starting with / or ?: " + quote(t.path_query) + " from " + from);

    std::string line, rest, host_line;
    http::build_request_line(h, t, line);
    http::build_request_rest(h, tool, rest);
    if (cfg.server_host)
        http::append_host_line(host_line, t.host, t.port);
    else
        host_line.append("Host: ").append(t.authority).append("\r\n");
    std::string sent = line + host_line + rest;

    http::Parser p(HTTP_REQUEST);
    http::Head r;
    reparse(sent, false, p, r, from);
    FUZZ_CHECK(r.method_name == h.method_name && r.method == h.method, "method changed: " + quote(sent) + " from " + from);
    std::string want;
    if (t.path_query.empty())
        want = h.method == HTTP_OPTIONS ? "*" : "/";
    else if (t.path_query[0] == '?')
        want = "/" + std::string(t.path_query);
    else
        want = std::string(t.path_query);
    FUZZ_CHECK(r.target == want, "target " + quote(r.target) + " sent, " + quote(want) + " meant, from " + from);
    FUZZ_CHECK(r.framing == h.framing, std::string("framing ") + framing_name(r.framing) + " sent for "
                                           + framing_name(h.framing) + ": " + quote(sent) + " from " + from);
    FUZZ_CHECK(r.framing != Framing::length || r.content_length == h.content_length,
               "Content-Length changed: " + quote(sent) + " from " + from);
    FUZZ_CHECK(r.complete == h.complete, "body-less request no longer body-less (or the reverse): " + quote(sent));
    FUZZ_CHECK(r.major == 1 && r.minor == 1, "not HTTP/1.1: " + quote(sent));

    // One Host, what was meant; no hop-by-hop header; the end-to-end
    // headers in order, then Via, then the framing the relay writes.
    std::vector<std::string> expect;
    expect.push_back(host_line.substr(0, host_line.size() - 2));
    for (const auto& hd : h.headers)
        if (end_to_end(h, hd) && hd.field != http::Field::host && hd.field != http::Field::transfer_encoding)
            expect.push_back(std::string(hd.name) + ": " + std::string(hd.value));
    expect.push_back("Via: 1.1 " + std::string(tool));
    if (h.framing == Framing::chunked)
        expect.push_back("Transfer-Encoding: chunked");
    auto got = lines_of(r);
    FUZZ_CHECK(got == expect, "headers sent on:\n" + join(got) + "  expected:\n" + join(expect) + "  from " + from);
    for (const auto& hd : r.headers)
        FUZZ_CHECK(!http::is_hop_by_hop(hd.field), "hop-by-hop header sent on: " + quote(sent));

    // The same through an upstream proxy: absolute form, the server named.
    std::string pline;
    http::build_proxy_request_line(line, t.host, t.port, pline);
    std::string psent = pline + host_line + rest;
    http::Parser pp(HTTP_REQUEST);
    http::Head pr;
    reparse(psent, false, pp, pr, from);
    FUZZ_CHECK(pr.method_name == h.method_name && pr.framing == h.framing && pr.content_length == r.content_length,
               "proxy form reads otherwise: " + quote(psent) + " from " + from);
    http::Target pt;
    const char* err = http::parse_absolute(pr.target, pt);
    FUZZ_CHECK(err == nullptr, "proxy form target refused (" + std::string(err ? err : "") + "): " + quote(psent)
                                   + " from " + from);
    FUZZ_CHECK(pt.host == t.host && pt.port == t.port,
               "proxy form names another server: " + quote(psent) + " from " + from);
    FUZZ_CHECK(pt.path_query == (want == "*" ? std::string() : want),
               "proxy form path " + quote(pt.path_query) + " for " + quote(want) + " from " + from);
    return sent;
}

// The response head as the relay sends it to its client (Relay::response_plan,
// restated). decoded: the client is HTTP/1.0 (a chunked body is decoded).
std::string check_response_sent(const http::Head& h, const Config& cfg, bool decoded)
{
    const std::string from = summarize(h);
    int st = h.status;
    bool informational = st >= 100 && st < 200;
    bool body_follows = !h.complete && h.framing != Framing::none;
    http::ResponsePlan plan;
    if (!informational) {
        bool is10 = decoded;
        plan.new_length = cfg.filter && body_follows;
        plan.chunked = !is10 && (plan.new_length || h.framing == Framing::chunked);
        plan.dechunk = is10 && h.framing == Framing::chunked;
        plan.close_client = cfg.close || h.framing == Framing::until_close || plan.dechunk
                            || (plan.new_length && is10);
        plan.keep_alive_10 = is10 && !plan.close_client;
    }
    std::string sent;
    http::build_response_head(h, plan, tool, sent);

    http::Parser p(HTTP_RESPONSE);
    http::Head r;
    reparse(sent, cfg.head, p, r, from);
    FUZZ_CHECK(r.status == st, "status changed: " + quote(sent) + " from " + from);
    FUZZ_CHECK(r.reason == (h.reason.empty() ? std::string_view(http::reason_phrase(st)) : h.reason),
               "reason phrase changed: " + quote(sent) + " from " + from);
    Framing want;
    if (informational || !body_follows)
        want = Framing::none;
    else if (plan.chunked)
        want = Framing::chunked;
    else if (h.framing == Framing::length && !plan.new_length)
        want = Framing::length;
    else
        want = Framing::until_close;
    FUZZ_CHECK(r.framing == want, std::string("framing ") + framing_name(r.framing) + " sent, " + framing_name(want)
                                      + " meant: " + quote(sent) + " from " + from);
    FUZZ_CHECK(r.framing != Framing::length || r.content_length == h.content_length,
               "Content-Length changed: " + quote(sent) + " from " + from);
    FUZZ_CHECK(r.framing != Framing::until_close || !r.keep_alive,
               "a body the end of the connection delimits, without Connection: close: " + quote(sent));
    FUZZ_CHECK(!plan.close_client || !r.keep_alive, "Connection: close missing: " + quote(sent));

    std::vector<std::string> expect;
    for (const auto& hd : h.headers)
        if (end_to_end(h, hd) && hd.field != http::Field::transfer_encoding
            && !(plan.new_length && hd.field == http::Field::content_length))
            expect.push_back(std::string(hd.name) + ": " + std::string(hd.value));
    expect.push_back("Via: 1.1 " + std::string(tool));
    if (plan.chunked)
        expect.push_back("Transfer-Encoding: chunked");
    if (plan.close_client)
        expect.push_back("Connection: close");
    else if (plan.keep_alive_10)
        expect.push_back("Connection: keep-alive");
    auto got = lines_of(r);
    FUZZ_CHECK(got == expect, "headers sent on:\n" + join(got) + "  expected:\n" + join(expect) + "  from " + from);
    return sent;
}

// One run over the stream: the client connection's head reading and the
// relay's body pumping, as lbproxy does them, the stream arriving in the
// pieces the splitter says.
class Run {
public:
    Run(const Config& cfg, bool decode, std::string_view input, Splitter split)
        : cfg_(cfg), decode_(decode), input_(input), split_(split),
          parser_(cfg.responses ? HTTP_RESPONSE : HTTP_REQUEST)
    {
    }

    Outcome go()
    {
        std::size_t at = 0;
        while (at < input_.size() && state_ != State::stopped) {
            std::size_t n = split_.piece(input_.size() - at);
            if (split_.by_reference())
                evbuffer_add_reference(in_.b, input_.data() + at, n, nullptr, nullptr);
            else
                evbuffer_add(in_.b, input_.data() + at, n);
            at += n;
            delivered_ = at;
            step(false);
        }
        if (state_ != State::stopped)
            step(true);
        return std::move(out_);
    }

private:
    enum class State { head, body, stopped };

    std::size_t consumed() const { return delivered_ - in_.size(); }
    void stop(std::string why)
    {
        out_.end = std::move(why);
        state_ = State::stopped;
    }

    void step(bool eof)
    {
        while (state_ != State::stopped) {
            if (state_ == State::head && !read_head(eof))
                return;
            if (state_ == State::body && !pump_body(eof))
                return;
        }
    }

    // Returns false when more input is needed (or the stream stopped).
    bool read_head(bool eof)
    {
        evbuffer* in = in_.b;
        if (!cfg_.responses) {
            // Blank lines before a request line are allowed (RFC 9112 2.2).
            while (in_.size() != 0) {
                char c = *reinterpret_cast<const char*>(evbuffer_pullup(in, 1));
                if (c != '\r' && c != '\n')
                    break;
                evbuffer_drain(in, 1);
            }
        }
        std::size_t len = in_.size();
        if (len == 0) {
            if (eof)
                stop("end of stream");
            return false;
        }
        std::size_t lim = std::min(len, max_header);
        auto* p = reinterpret_cast<const char*>(evbuffer_pullup(in, ssize_t(lim)));
        std::size_t end = http::find_head_end(p, lim, scanned_);
        if (end == 0) {
            if (len >= max_header)
                stop("head larger than the limit");
            else if (eof)
                stop("end of stream in a head");
            return false;
        }
        FUZZ_CHECK(end <= lim && (p[end - 1] == '\n'), "find_head_end past its input");
        scanned_ = 0;
        // find_head_end: the first blank line, whatever the pieces were.
        {
            std::size_t s2 = 0;
            FUZZ_CHECK(http::find_head_end(p, lim, s2) == end, "find_head_end depends on the reads");
        }
        const std::size_t head_at = consumed();
        if (const char* err = parser_.parse_head(p, end, head_, cfg_.head)) {
            stop("refused " + std::to_string(parser_.refusal_status()) + ": " + err);
            return false;
        }
        FUZZ_CHECK(head_.size == end, "head size");
        Message m;
        m.summary = summarize(head_);
        m.framing = head_.framing;
        m.content_length = head_.content_length;
        FUZZ_CHECK(head_.framing != Framing::length || head_.content_length > 0, "length framing of 0 bytes");
        FUZZ_CHECK(!(cfg_.responses && cfg_.head) || head_.framing == Framing::none, "a body after HEAD");
        if (cfg_.responses) {
            FUZZ_CHECK(head_.status >= 100 && head_.status <= 599, "status " + std::to_string(head_.status));
            FUZZ_CHECK(head_.framing != Framing::until_close || !head_.complete, "complete until-close response");
            if (head_.status == 101) {
                out_.messages.push_back(std::move(m));
                stop("101 without an upgrade asked for");
                return false;
            }
            m.sent_head = check_response_sent(head_, cfg_, decode_);
        } else {
            FUZZ_CHECK(head_.framing != Framing::until_close, "a request framed by the end of the connection");
            http::Target t;
            if (head_.method == HTTP_CONNECT) {
                const char* err = http::parse_authority(head_.target, t);
                if (!err) {
                    FUZZ_CHECK(!t.host.empty() && t.port != 0 && t.authority == head_.target, "CONNECT target");
                    m.summary += " tunnel to " + quote(t.host) + ":" + std::to_string(t.port);
                }
                out_.messages.push_back(std::move(m));
                stop(err ? std::string("refused 400: ") + err : "tunnel");
                return false;
            }
            if (const char* err = http::parse_absolute(head_.target, t)) {
                out_.messages.push_back(std::move(m));
                stop(std::string("refused 400: ") + err);
                return false;
            }
            m.summary += " to " + quote(t.host) + " " + std::to_string(t.port) + " " + quote(t.authority) + " "
                         + quote(t.path_query);
            m.sent_head = check_request_sent(head_, t, cfg_);
        }
        evbuffer_drain(in, end);  // the head's views end here
        FUZZ_CHECK(consumed() == head_at + end, "consumption");
        m.body_offset = consumed();
        out_.messages.push_back(std::move(m));
        if (head_.complete || head_.framing == Framing::none) {
            finish_message();
            return true;
        }
        remaining_ = head_.content_length;
        state_ = State::body;
        return true;
    }

    // The relay's BodyPump, its destination with the room the splitter says
    // (the rest of relay_buffer_limit taken by bytes not yet written out).
    bool pump_body(bool eof)
    {
        Message& m = out_.messages.back();
        http::BodyPump pump{m.framing, remaining_, parser_};
        static const std::vector<char> filler(http::relay_buffer_limit);
        for (;;) {
            std::size_t avail = in_.size();
            if (avail == 0)
                break;
            Buffer to;
            std::size_t room = split_.room();
            std::size_t fill = http::relay_buffer_limit - room;
            // Its last byte a chain of its own: libevent sizes the chain it
            // adds for the pump's output after the last one (256K would cost
            // an mmap per call).
            if (fill > 1)
                evbuffer_add_reference(to.b, filler.data(), fill - 1, nullptr, nullptr);
            if (fill)
                evbuffer_add_reference(to.b, filler.data(), 1, nullptr, nullptr);
            std::size_t before = consumed();
            auto r = pump.move(in_.b, to.b, decode_);
            FUZZ_CHECK(r.moved == consumed() - before, "moved is not what left the source");
            FUZZ_CHECK(r.written == to.size() - fill, "written is not what reached the destination");
            FUZZ_CHECK(m.framing == Framing::chunked || r.moved == r.written, "unframed body changed size");
            FUZZ_CHECK(m.framing == Framing::chunked || r.moved <= room, "the pump overfilled its destination");
            evbuffer_drain(to.b, fill);
            std::string w(to.size(), '\0');
            evbuffer_copyout(to.b, w.data(), w.size());
            m.body += w;
            m.moved += r.moved;
            if (r.error) {
                FUZZ_CHECK(m.framing == Framing::chunked, "a body error outside chunked framing");
                m.error = r.error;
                check_body(m, false);
                stop("bad body");
                return false;
            }
            if (r.done) {
                m.body_done = true;
                FUZZ_CHECK(m.framing != Framing::until_close, "until-close body done before the end");
                check_body(m, true);
                finish_message();
                state_ = State::head;
                return true;
            }
            FUZZ_CHECK(r.moved > 0 || (in_.size() == 0), "the pump made no progress");
        }
        if (!eof)
            return false;
        if (m.framing == Framing::until_close) {
            m.body_done = true;
            check_body(m, true);
            finish_message();
            stop("end of stream");
        } else {
            check_body(m, false);
            stop("end of stream in a body");
        }
        return false;
    }

    void finish_message()
    {
        // A pipelined message comes next.
        state_ = State::head;
    }

    // The body as written, against the stream and the framing.
    void check_body(Message& m, bool complete)
    {
        std::string_view src = input_.substr(m.body_offset, m.moved);
        switch (m.framing) {
        case Framing::length:
            FUZZ_CHECK(m.moved <= m.content_length, "length body overrun");
            FUZZ_CHECK(!complete || m.moved == m.content_length, "length body ended early");
            FUZZ_CHECK(m.body == src, "length body changed");
            break;
        case Framing::until_close:
            FUZZ_CHECK(m.body == src, "until-close body changed");
            FUZZ_CHECK(!complete || m.body_offset + m.moved == input_.size(), "until-close body ended early");
            break;
        case Framing::chunked:
            if (!decode_) {
                std::string payload;
                check_canonical(m.body, complete, payload);
                if (complete)
                    check_sent_chunked(m, payload);
            }
            break;
        case Framing::none:
            FUZZ_CHECK(false, "a body without framing");
        }
    }

    // The head sent on and the canonical body, as the next hop reads them:
    // the same payload, the body ending where it ends.
    void check_sent_chunked(const Message& m, const std::string& payload)
    {
        llhttp_type_t type = cfg_.responses ? HTTP_RESPONSE : HTTP_REQUEST;
        http::Parser p(type);
        http::Head r;
        reparse(m.sent_head, cfg_.head, p, r, m.summary);
        FUZZ_CHECK(r.framing == Framing::chunked, "chunked body behind a head that does not say so: " + quote(m.sent_head));
        for (bool decode : {true, false}) {
            http::Parser q(type);
            http::Head rq;
            reparse(m.sent_head, cfg_.head, q, rq, m.summary);
            Buffer out;
            std::size_t used = q.feed_body(m.body.data(), m.body.size(), out.b,
                                           decode ? http::ChunkOutput::payload : http::ChunkOutput::canonical);
            FUZZ_CHECK(q.error() == nullptr, std::string("canonical body refused: ") + (q.error() ? q.error() : "")
                                                 + ": " + quote(m.body));
            FUZZ_CHECK(used == m.body.size() && q.done(), "canonical body does not end where it ends: " + quote(m.body));
            std::string got(out.size(), '\0');
            evbuffer_copyout(out.b, got.data(), got.size());
            if (decode)
                FUZZ_CHECK(got == payload, "canonical body read again gives " + quote(got) + ", not " + quote(payload));
            else
                FUZZ_CHECK(got == m.body, "canonical framing is not a fixed point: " + quote(got));
        }
    }

    Config cfg_;
    bool decode_;
    std::string_view input_;
    Splitter split_;
    http::Parser parser_;
    http::Head head_;
    Buffer in_;
    std::size_t delivered_ = 0;
    std::size_t scanned_ = 0;
    uint64_t remaining_ = 0;
    State state_ = State::head;
    Outcome out_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size)
{
    if (size < 1)
        return 0;
    Config cfg;
    uint8_t c = data[0];
    cfg.responses = c & 1;
    cfg.server_host = !cfg.responses && (c & 2);
    cfg.head = cfg.responses && (c & 2);
    cfg.filter = cfg.responses && (c & 4);
    cfg.close = c & 8;
    cfg.seed = c >> 4;
    std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);

    Outcome runs[2][3];
    for (int decode = 0; decode < 2; ++decode)
        for (int k = 0; k < 3; ++k)
            runs[decode][k] = Run(cfg, decode, input, Splitter(Splitter::Kind(k), cfg.seed, size)).go();

    // FUZZ_VERBOSE=1 (replay): what the whole, canonical run made of it.
    static const bool verbose = std::getenv("FUZZ_VERBOSE") != nullptr;
    if (verbose)
        std::fprintf(stderr, "%s", runs[0][0].describe(true).c_str());

    // The split changes nothing.
    for (int decode = 0; decode < 2; ++decode) {
        std::string ref = runs[decode][0].describe(true);
        for (int k = 1; k < 3; ++k) {
            std::string got = runs[decode][k].describe(true);
            FUZZ_CHECK(got == ref, std::string(decode ? "decoded" : "canonical") + " run split "
                                       + (k == 1 ? "byte by byte" : "by the seed") + ":\n" + got
                                       + "whole:\n" + ref);
        }
    }
    // Re-framing or decoding changes nothing but the chunked bodies (and,
    // for responses, the head an HTTP/1.0 client gets).
    const Outcome& canon = runs[0][0];
    const Outcome& plain = runs[1][0];
    FUZZ_CHECK(canon.describe(false) == plain.describe(false),
               "canonical:\n" + canon.describe(false) + "decoded:\n" + plain.describe(false));
    for (std::size_t i = 0; i < canon.messages.size(); ++i) {
        const Message& a = canon.messages[i];
        const Message& b = plain.messages[i];
        if (a.framing == Framing::chunked) {
            std::string payload;
            check_canonical(a.body, a.body_done, payload);
            FUZZ_CHECK(payload == b.body, "decoded body " + quote(b.body) + ", canonical body " + quote(a.body));
        } else {
            FUZZ_CHECK(a.body == b.body, "body depends on the chunk mode");
        }
        if (!cfg.responses)
            FUZZ_CHECK(a.sent_head == b.sent_head, "request head depends on the chunk mode");
    }
    return 0;
}
