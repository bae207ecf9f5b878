#include "http/http_parse.hpp"

#include <event2/buffer.h>

#include <algorithm>
#include <array>
#include <cstring>

namespace lbkit::http {

namespace {

// RFC 9110 tchar: what a method and a header name may be made of.
constexpr auto tchar_table = [] {
    std::array<bool, 256> t{};
    for (int c = '0'; c <= '9'; ++c) t[c] = true;
    for (int c = 'a'; c <= 'z'; ++c) t[c] = t[c - 32] = true;
    for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
    return t;
}();

bool is_token(std::string_view name)
{
    for (char c : name)
        if (!tchar_table[static_cast<unsigned char>(c)])
            return false;
    return !name.empty();
}

// RFC 3986 allows only visible ASCII in a URI; anything else in a target is
// a byte the next hop may read differently (raw UTF-8, a space).
bool is_visible_ascii(std::string_view s)
{
    for (char c : s) {
        auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u >= 0x7f)
            return false;
    }
    return true;
}

// The HTAB of the OWS around each header value made a space, in place: the
// lines after the first, from the colon on and before the line end.
void untab_ows(std::string& head)
{
    std::size_t line = head.find('\n');
    while (line != std::string::npos && line + 1 < head.size()) {
        std::size_t start = line + 1;
        std::size_t end = head.find('\n', start);
        std::size_t stop = end == std::string::npos ? head.size() : end;
        std::size_t colon = head.find(':', start);
        if (colon != std::string::npos && colon < stop) {
            for (std::size_t i = colon + 1; i < stop && (head[i] == ' ' || head[i] == '\t'); ++i)
                head[i] = ' ';
            std::size_t last = stop;
            if (last > colon + 1 && head[last - 1] == '\r')
                --last;
            for (std::size_t i = last; i > colon + 1 && (head[i - 1] == ' ' || head[i - 1] == '\t'); --i)
                head[i - 1] = ' ';
        }
        line = end;
    }
}

std::string_view trim(std::string_view v)
{
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
    return v;
}

// The methods llhttp parses under HTTP/1.x, by name.
int known_method(std::string_view name)
{
#define LBKIT_METHOD(num, id, text) if (name == #text) return int(num);
    HTTP_METHOD_MAP(LBKIT_METHOD)
#undef LBKIT_METHOD
    return other_method;
}

// n in lowercase hexadecimal without leading zeros, then CRLF: a chunk line.
std::string_view chunk_line(uint64_t n, char (&buf)[24])
{
    char* p = buf + 16;
    do {
        *--p = "0123456789abcdef"[n & 0xf];
        n >>= 4;
    } while (n);
    buf[16] = '\r';
    buf[17] = '\n';
    return {p, std::size_t(buf + 18 - p)};
}

}  // namespace

Field classify(std::string_view name)
{
    // One candidate per length (two at 7 and 10, told apart by the first
    // letter): a name is compared at most once.
    auto is = [&](std::string_view known, Field f) { return iequals(name, known) ? f : Field::other; };
    switch (name.size()) {
    case 2: return is("te", Field::te);
    case 4: return is("host", Field::host);
    case 6: return is("expect", Field::expect);
    case 7: return (name[0] | 0x20) == 't' ? is("trailer", Field::trailer) : is("upgrade", Field::upgrade);
    case 10: return (name[0] | 0x20) == 'c' ? is("connection", Field::connection) : is("keep-alive", Field::keep_alive);
    case 14: return is("content-length", Field::content_length);
    case 16: return is("proxy-connection", Field::proxy_connection);
    case 17: return is("transfer-encoding", Field::transfer_encoding);
    case 18: return is("proxy-authenticate", Field::proxy_authenticate);
    case 19: return is("proxy-authorization", Field::proxy_authorization);
    default: return Field::other;
    }
}

bool list_has(std::string_view value, std::string_view token)
{
    while (!value.empty()) {
        auto comma = value.find(',');
        if (iequals(trim(value.substr(0, comma)), token))
            return true;
        if (comma == std::string_view::npos)
            break;
        value.remove_prefix(comma + 1);
    }
    return false;
}

std::string_view Head::find(std::string_view name) const
{
    for (const auto& h : headers)
        if (iequals(h.name, name))
            return h.value;
    return {};
}

void Head::clear()
{
    method = other_method;
    method_name = target = reason = {};
    status = 0;
    major = minor = 1;
    headers.clear();
    connection = {};
    framing = Framing::none;
    content_length = 0;
    keep_alive = true;
    expect_continue = false;
    complete = false;
    size = 0;
}

std::size_t find_head_end(const char* data, std::size_t len, std::size_t& scanned)
{
    // Resume a little before where the last scan stopped: the terminator may
    // straddle two reads.
    std::size_t from = scanned > 2 ? scanned - 2 : 0;
    for (const char* p; from < len && (p = static_cast<const char*>(std::memchr(data + from, '\n', len - from)));) {
        std::size_t i = std::size_t(p - data);
        if (i + 1 < len && data[i + 1] == '\n')
            return i + 2;
        if (i + 2 < len && data[i + 1] == '\r' && data[i + 2] == '\n')
            return i + 3;
        from = i + 1;
    }
    scanned = len;
    return 0;
}

Parser::Parser(llhttp_type_t type) : type_(type)
{
    llhttp_init(&parser_, type, &settings());
    parser_.data = this;
}

const char* Parser::refuse(const char* why, int status)
{
    refusal_status_ = status;
    return error_ = why;
}

void Parser::reset(Head& out, std::size_t len, bool no_body)
{
    out.clear();
    out.size = len;
    llhttp_init(&parser_, type_, &settings());
    parser_.data = this;
    head_ = &out;
    in_body_ = false;
    last_was_value_ = false;
    no_body_ = no_body;
    done_ = false;
    refusal_status_ = 400;
    error_ = nullptr;
}

// llhttp takes only SP after a Content-Length or Transfer-Encoding value,
// where RFC 9110 5.6.3 allows OWS, SP or HTAB: such a head is refused by
// llhttp for a tab that changes nothing (the proxy trims the values it
// forwards).
bool Parser::tabs_refused(const char* data, std::size_t len) const
{
    auto err = llhttp_get_errno(&parser_);
    return (err == HPE_INVALID_CONTENT_LENGTH || err == HPE_INVALID_TRANSFER_ENCODING)
           && std::memchr(data, '\t', len) != nullptr;
}

const char* Parser::parse_head(const char* data, std::size_t len, Head& out, bool no_body)
{
    reset(out, len, no_body);
    if (const char* err = check_bytes(data, len))
        return err;
    const char* err = execute_head(data, len);
    if (err && tabs_refused(data, len)) {
        // Parsed again from a copy with spaces for those tabs: the views
        // then point into the copy, which lives until the next head.
        ows_copy_.assign(data, len);
        untab_ows(ows_copy_);
        reset(out, len, no_body);
        err = execute_head(ows_copy_.data(), len);
    }
    if (err)
        return err;
    if (type_ == HTTP_REQUEST && !is_visible_ascii(out.target))
        return refuse("the request target holds a byte that is not visible ASCII (a URI is ASCII, RFC 3986)");
    return nullptr;
}

// The byte rules of RFC 9112 2.2 and 5.2 over the whole head, in one pass:
// a CR that a next hop might take for a line end (or replace by a space)
// where llhttp does not, a line ended by LF alone (which RFC 9112 lets a
// recipient take for a line end, and others do not), a control character,
// obs-fold.
const char* Parser::check_bytes(const char* data, std::size_t len)
{
    for (std::size_t i = 0; i < len; ++i) {
        auto c = static_cast<unsigned char>(data[i]);
        if (c >= 0x20 && c != 0x7f)
            continue;
        if (c == '\r') {
            if (i + 1 >= len || data[i + 1] != '\n')
                return refuse("a CR not followed by LF in the head (RFC 9112 2.2)");
        } else if (c == '\n') {
            if (i == 0 || data[i - 1] != '\r')
                return refuse("a line of the head ends with LF alone, not CRLF (RFC 9112 2.2)");
            if (i + 1 < len && (data[i + 1] == ' ' || data[i + 1] == '\t'))
                return refuse("obsolete line folding in a header (obs-fold) is not accepted");
        } else if (c != '\t') {
            // The C0 controls but HTAB, and DEL (RFC 9110 5.5).
            return refuse("a control character in the head");
        }
    }
    return nullptr;
}

// Runs llhttp over the head, telling its callbacks that a head is parsed.
const char* Parser::execute_head(const char* data, std::size_t len)
{
    in_head_ = true;
    const char* why = run_head(data, len);
    in_head_ = false;
    return why;
}

// A request method that llhttp does not know (RFC 9110 allows any token:
// QUERY, an application's own) is checked here and llhttp is given POST in
// its place: the framing of a request does not depend on its method (RFC
// 9112 6.3), and the rest of the head is parsed from the buffer itself, so
// its views stay valid.
const char* Parser::run_head(const char* data, std::size_t len)
{
    llhttp_errno_t err;
    if (type_ == HTTP_REQUEST) {
        auto* sp = static_cast<const char*>(std::memchr(data, ' ', len));
        std::string_view name(data, sp ? std::size_t(sp - data) : len);
        if (!sp || !is_token(name))
            return refuse("the request line does not start with a method (a token) and a space");
        head_->method_name = name;
        head_->method = known_method(name);
        if (head_->method == other_method) {
            err = llhttp_execute(&parser_, "POST", 4);
            if (err == HPE_OK)
                err = llhttp_execute(&parser_, sp, std::size_t(data + len - sp));
        } else {
            err = llhttp_execute(&parser_, data, len);
        }
    } else {
        err = llhttp_execute(&parser_, data, len);
    }
    if (error_)
        return error_;
    switch (err) {
    case HPE_OK:
    case HPE_PAUSED:
    case HPE_PAUSED_UPGRADE:
        break;
    case HPE_UNEXPECTED_CONTENT_LENGTH:
        return refuse("ambiguous framing: several Content-Length headers, or Content-Length with Transfer-Encoding");
    case HPE_INVALID_TRANSFER_ENCODING:
        // llhttp stops at a second "chunked" as at another coding.
        if (std::count_if(head_->headers.begin(), head_->headers.end(),
                          [](const Header& hd) { return classify(hd.name) == Field::transfer_encoding; }) > 1)
            return refuse("several Transfer-Encoding headers");
        return refuse("a transfer coding other than chunked alone is not supported", 501);
    case HPE_INVALID_CONTENT_LENGTH:
        return refuse("bad Content-Length value");
    case HPE_INVALID_HEADER_TOKEN:
        return refuse("bad character in a header");
    case HPE_INVALID_VERSION:
        return refuse("only HTTP/1.0 and HTTP/1.1 are spoken here", 505);
    default:
        return refuse(llhttp_get_error_reason(&parser_));
    }
    // Paused at the end of a body-less message: that end must be the end of
    // the head, or the head is followed by bytes it did not announce.
    if (!in_body_ || (err != HPE_OK && llhttp_get_error_pos(&parser_) != data + len))
        return refuse("incomplete or malformed head section");
    return nullptr;
}

std::size_t Parser::feed_body(const char* data, std::size_t len, ChunkOutput mode)
{
    pieces_.clear();
    used_ = 0;
    if (done_ || error_)
        return 0;
    mode_ = mode;
    feed_from_ = next_ = data;
    feed_end_ = data + len;
    same_ = true;
    llhttp_errno_t err = llhttp_execute(&parser_, data, len);
    if (err == HPE_OK)
        return used_ = len;
    std::size_t used = used_ = std::size_t(llhttp_get_error_pos(&parser_) - data);
    if (err != HPE_PAUSED)
        error_ = err == HPE_INVALID_CHUNK_SIZE ? "bad chunk size line in a chunked body"
                 : err == HPE_STRICT            ? "bad chunk framing in a chunked body (a chunk line or the CRLF after a chunk)"
                                                : llhttp_get_error_reason(&parser_);
    return used;
}

int Parser::on_url(llhttp_t* p, const char* at, std::size_t len)
{
    auto* self = static_cast<Parser*>(p->data);
    auto& t = self->head_->target;
    // Contiguous input: a second piece extends the first.
    t = t.empty() ? std::string_view(at, len) : std::string_view(t.data(), std::size_t(at + len - t.data()));
    return 0;
}

int Parser::on_status(llhttp_t* p, const char* at, std::size_t len)
{
    auto* self = static_cast<Parser*>(p->data);
    auto& r = self->head_->reason;
    r = r.empty() ? std::string_view(at, len) : std::string_view(r.data(), std::size_t(at + len - r.data()));
    return 0;
}

int Parser::on_header_field(llhttp_t* p, const char* at, std::size_t len)
{
    auto* self = static_cast<Parser*>(p->data);
    if (self->in_body_)
        return 0;  // chunked trailers: checked by llhttp, then dropped
    auto& hs = self->head_->headers;
    if (self->last_was_value_ || hs.empty())
        hs.push_back({std::string_view(at, len), {}});
    else
        hs.back().name = std::string_view(hs.back().name.data(), std::size_t(at + len - hs.back().name.data()));
    self->last_was_value_ = false;
    return 0;
}

int Parser::on_header_value(llhttp_t* p, const char* at, std::size_t len)
{
    auto* self = static_cast<Parser*>(p->data);
    if (self->in_body_)
        return 0;
    auto& v = self->head_->headers.back().value;
    v = self->last_was_value_ ? std::string_view(v.data(), std::size_t(at + len - v.data())) : std::string_view(at, len);
    self->last_was_value_ = true;
    return 0;
}

int Parser::on_headers_complete(llhttp_t* p)
{
    auto* self = static_cast<Parser*>(p->data);
    Head& h = *self->head_;
    h.major = p->http_major;
    h.minor = p->http_minor;
    if (self->type_ == HTTP_RESPONSE) {
        h.status = int(p->status_code);
        if (h.status < 100 || h.status > 599) {
            self->error_ = "status code outside 100-599";
            return -1;
        }
    }
    for (auto& hd : h.headers)
        hd.value = trim(hd.value);
    if (self->check_headers())
        return -1;
    self->in_body_ = true;

    // Framing, from what llhttp decided (it refused the ambiguous cases).
    bool informational = h.status >= 100 && h.status < 200;
    bool bodiless = self->no_body_ || informational || h.status == 204 || h.status == 304;
    if (self->type_ == HTTP_RESPONSE && bodiless)
        h.framing = Framing::none;
    else if (p->flags & F_CHUNKED)
        h.framing = Framing::chunked;
    else if ((p->flags & F_CONTENT_LENGTH) && p->content_length > 0)
        h.framing = Framing::length, h.content_length = p->content_length;
    else if (self->type_ == HTTP_RESPONSE && !(p->flags & F_CONTENT_LENGTH))
        h.framing = Framing::until_close;
    // A HEAD answer, 1xx, 204 and 304 may announce a body they do not have:
    // 1 tells the parser to skip it.
    return (self->type_ == HTTP_RESPONSE && bodiless) ? 1 : 0;
}

const char* Parser::check_headers()
{
    Head& h = *head_;
    if (h.major != 1 || h.minor > 1)
        return refuse("only HTTP/1.0 and HTTP/1.1 are spoken here", 505);
    int hosts = 0, lengths = 0, codings = 0;
    std::string_view coding;
    bool close = false, keep_alive = false;
    for (auto& hd : h.headers) {
        if (!is_token(hd.name))
            return refuse(hd.name.empty() ? "empty header name" : "bad character in a header name");
        switch (hd.field = classify(hd.name)) {
        case Field::content_length: ++lengths; break;
        case Field::transfer_encoding: ++codings, coding = hd.value; break;
        case Field::host: ++hosts; break;
        case Field::connection:
        case Field::proxy_connection:
            if (hd.field == Field::connection && h.connection.empty())
                h.connection = hd.value;
            close = close || list_has(hd.value, "close");
            keep_alive = keep_alive || list_has(hd.value, "keep-alive");
            break;
        case Field::expect: h.expect_continue = iequals(hd.value, "100-continue"); break;
        default: break;
        }
    }
    // llhttp refuses these too; checked here as well so the rule does not
    // depend on the library's version.
    if (lengths > 1 || (lengths && codings))
        return refuse("ambiguous framing: several Content-Length headers, or Content-Length with Transfer-Encoding");
    if (hosts > 1)
        return refuse("several Host headers");
    if (codings)
        if (const char* err = check_transfer_encoding(coding, codings))
            return err;
    // HTTP/1.0 has no Transfer-Encoding: a 1.0 message with one may have
    // been framed otherwise by a hop before, so its connection ends with it
    // (RFC 9112 6.1).
    h.keep_alive = h.is_10() ? keep_alive && !close && !codings : !close;
    return nullptr;
}

// Only "chunked", alone and once: every hop must agree on where the body
// ends, and a coding list ("gzip, chunked", "identity, chunked") or a
// repeated header is where hops have disagreed (RFC 9112 6.1, 6.3).
const char* Parser::check_transfer_encoding(std::string_view value, int lines)
{
    if (lines > 1)
        return refuse("several Transfer-Encoding headers");
    if (!iequals(value, "chunked"))
        return refuse("a transfer coding other than chunked alone is not supported", 501);
    return nullptr;
}

bool Parser::output_is_input() const
{
    return mode_ == ChunkOutput::canonical && same_ && next_ == feed_from_ + used_;
}

void Parser::write_output(evbuffer* out)
{
    out_ = out;
    char buf[24];
    for (const Piece& p : pieces_) {
        switch (p.kind) {
        case Piece::Kind::data: emit({p.at, p.len}); break;
        case Piece::Kind::line: emit(chunk_line(p.size, buf)); break;
        case Piece::Kind::crlf: emit("\r\n"); break;
        }
    }
    flush();
    out_ = nullptr;
    pieces_.clear();
}

// The input stays equal to the output while each piece starts where the
// one before ended and a line or CRLF has the same bytes there: the sender
// wrote no extension, no trailer, no other spelling of a size.
void Parser::keep_data(const char* at, std::size_t len)
{
    pieces_.push_back({Piece::Kind::data, at, len, 0});
    same_ = same_ && at == next_;
    next_ = at + len;
}

void Parser::keep_text(bool line, uint64_t size)
{
    pieces_.push_back({line ? Piece::Kind::line : Piece::Kind::crlf, nullptr, 0, size});
    if (!same_)
        return;
    char buf[24];
    std::string_view text = line ? chunk_line(size, buf) : std::string_view("\r\n");
    same_ = std::size_t(feed_end_ - next_) >= text.size() && std::memcmp(next_, text.data(), text.size()) == 0;
    next_ += text.size();
}

// Small pieces (chunk lines, CRLFs, small chunks) are written straight into
// space reserved at the end of out_, committed once per feed_body or per
// pending_limit bytes: three evbuffer_adds per chunk cost more than the
// copy itself when chunks are small. Nothing else is added to out_ while
// space is reserved (a large piece commits first).
void Parser::emit(std::string_view bytes)
{
    bool large = bytes.size() >= pending_limit / 4;
    if (large || (reserved_ && reserved_used_ + bytes.size() > reserved_.iov_len))
        flush();
    if (large) {
        evbuffer_add(out_, bytes.data(), bytes.size());
        return;
    }
    if (!reserved_ && evbuffer_reserve_space(out_, ev_ssize_t(pending_limit), &reserved_, 1) != 1) {
        reserved_ = {};
        evbuffer_add(out_, bytes.data(), bytes.size());  // out of memory: one add, as it came
        return;
    }
    std::memcpy(static_cast<char*>(reserved_.iov_base) + reserved_used_, bytes.data(), bytes.size());
    reserved_used_ += bytes.size();
}

void Parser::flush()
{
    if (!reserved_)
        return;
    reserved_.iov_len = reserved_used_;
    evbuffer_commit_space(out_, &reserved_, 1);
    reserved_ = {};
    reserved_used_ = 0;
}

int Parser::on_chunk_header(llhttp_t* p)
{
    auto* self = static_cast<Parser*>(p->data);
    self->chunk_size_ = p->content_length;
    if (self->mode_ == ChunkOutput::canonical)
        self->keep_text(true, self->chunk_size_);
    return 0;
}

int Parser::on_body(llhttp_t* p, const char* at, std::size_t len)
{
    auto* self = static_cast<Parser*>(p->data);
    self->keep_data(at, len);
    return 0;
}

int Parser::on_chunk_complete(llhttp_t* p)
{
    auto* self = static_cast<Parser*>(p->data);
    // The last chunk's line ends with the message (on_message_complete).
    if (self->mode_ == ChunkOutput::canonical && self->chunk_size_ > 0)
        self->keep_text(false, 0);
    return 0;
}

int Parser::on_message_complete(llhttp_t* p)
{
    auto* self = static_cast<Parser*>(p->data);
    self->done_ = true;
    if (self->in_head_)
        self->head_->complete = true;
    else if (self->mode_ == ChunkOutput::canonical)
        self->keep_text(false, 0);  // after the last chunk: no trailers
    // Stop at the end of this message: what follows is the next one.
    return HPE_PAUSED;
}

const llhttp_settings_t& Parser::settings()
{
    static const llhttp_settings_t s = [] {
        llhttp_settings_t st;
        llhttp_settings_init(&st);
        st.on_url = &Parser::on_url;
        st.on_status = &Parser::on_status;
        st.on_header_field = &Parser::on_header_field;
        st.on_header_value = &Parser::on_header_value;
        st.on_headers_complete = &Parser::on_headers_complete;
        st.on_chunk_header = &Parser::on_chunk_header;
        st.on_body = &Parser::on_body;
        st.on_chunk_complete = &Parser::on_chunk_complete;
        st.on_message_complete = &Parser::on_message_complete;
        return st;
    }();
    return s;
}

}  // namespace lbkit::http
