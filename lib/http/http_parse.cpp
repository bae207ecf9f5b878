#include "http/http_parse.hpp"

#include <event2/buffer.h>

#include <array>
#include <cstring>

namespace lbkit::http {

namespace {

// RFC 9110 tchar: what a header name may be made of.
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

std::string_view trim(std::string_view v)
{
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
    return v;
}

// obs-fold: a line of the head section that starts with a blank continues the
// previous header. Allowed by the parser, refused by us (RFC 9112 5.2).
bool has_obs_fold(const char* data, std::size_t len)
{
    for (const char* p = static_cast<const char*>(std::memchr(data, '\n', len)); p;) {
        std::size_t off = std::size_t(p - data) + 1;
        if (off >= len)
            break;
        if (data[off] == ' ' || data[off] == '\t')
            return true;
        p = static_cast<const char*>(std::memchr(data + off, '\n', len - off));
    }
    return false;
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
    method = -1;
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

void set_max_header(std::size_t bytes)
{
    // The parser counts the request line too; leave room for it.
    if (bytes + 8192 > HTTP_MAX_HEADER_SIZE)
        http_parser_set_max_header_size(uint32_t(bytes + 8192));
}

Parser::Parser(http_parser_type type) : type_(type)
{
    http_parser_init(&parser_, type);
    parser_.data = this;
}

const char* Parser::parse_head(const char* data, std::size_t len, Head& out, bool no_body)
{
    out.clear();
    http_parser_init(&parser_, type_);
    parser_.data = this;
    head_ = &out;
    decoded_ = nullptr;
    in_body_ = false;
    last_was_value_ = false;
    no_body_ = no_body;
    done_ = false;
    bad_version_ = false;
    error_ = nullptr;
    out.size = len;

    if (has_obs_fold(data, len))
        return error_ = "obsolete line folding in a header (obs-fold) is not accepted";
    in_head_ = true;
    std::size_t n = http_parser_execute(&parser_, &settings(), data, len);
    in_head_ = false;
    auto err = HTTP_PARSER_ERRNO(&parser_);
    if (error_)
        return error_;
    if (err != HPE_OK && err != HPE_PAUSED) {
        switch (err) {
        case HPE_UNEXPECTED_CONTENT_LENGTH:
            return error_ = "ambiguous framing: several Content-Length headers, or Content-Length with Transfer-Encoding";
        case HPE_INVALID_TRANSFER_ENCODING:
            return error_ = "Transfer-Encoding other than chunked is not accepted in a request";
        case HPE_INVALID_CONTENT_LENGTH:
            return error_ = "bad Content-Length value";
        case HPE_INVALID_HEADER_TOKEN:
            return error_ = "bad character in a header";
        case HPE_HEADER_OVERFLOW:
            return error_ = "header section too large";
        default:
            return error_ = http_errno_description(err);
        }
    }
    if (!in_body_ || n != len)
        return error_ = "incomplete or malformed head section";
    return nullptr;
}

std::size_t Parser::feed_body(const char* data, std::size_t len, evbuffer* decoded)
{
    if (done_ || error_)
        return 0;
    decoded_ = decoded;
    std::size_t n = http_parser_execute(&parser_, &settings(), data, len);
    decoded_ = nullptr;
    auto err = HTTP_PARSER_ERRNO(&parser_);
    if (err != HPE_OK && err != HPE_PAUSED) {
        error_ = err == HPE_INVALID_CHUNK_SIZE || err == HPE_INVALID_CONTENT_LENGTH
                     ? "bad chunk size in a chunked body"
                     : http_errno_description(err);
        return n;
    }
    return n;
}

int Parser::on_url(http_parser* p, const char* at, std::size_t len)
{
    auto* self = static_cast<Parser*>(p->data);
    auto& t = self->head_->target;
    // Contiguous input: a second piece extends the first.
    t = t.empty() ? std::string_view(at, len) : std::string_view(t.data(), std::size_t(at + len - t.data()));
    return 0;
}

int Parser::on_status(http_parser* p, const char* at, std::size_t len)
{
    auto* self = static_cast<Parser*>(p->data);
    // The parser checks header values for control characters but not the
    // reason phrase, which goes to the client as it came.
    for (char c : std::string_view(at, len)) {
        auto u = static_cast<unsigned char>(c);
        if ((u < 0x20 && u != '\t') || u == 0x7f) {
            self->error_ = "control character in the status line";
            return -1;
        }
    }
    auto& r = self->head_->reason;
    r = r.empty() ? std::string_view(at, len) : std::string_view(r.data(), std::size_t(at + len - r.data()));
    return 0;
}

int Parser::on_header_field(http_parser* p, const char* at, std::size_t len)
{
    auto* self = static_cast<Parser*>(p->data);
    if (self->in_body_)
        return 0;  // chunked trailers: forwarded raw, not interpreted
    auto& hs = self->head_->headers;
    if (self->last_was_value_ || hs.empty())
        hs.push_back({std::string_view(at, len), {}});
    else
        hs.back().name = std::string_view(hs.back().name.data(), std::size_t(at + len - hs.back().name.data()));
    self->last_was_value_ = false;
    return 0;
}

int Parser::on_header_value(http_parser* p, const char* at, std::size_t len)
{
    auto* self = static_cast<Parser*>(p->data);
    if (self->in_body_)
        return 0;
    auto& v = self->head_->headers.back().value;
    v = self->last_was_value_ ? std::string_view(v.data(), std::size_t(at + len - v.data())) : std::string_view(at, len);
    self->last_was_value_ = true;
    return 0;
}

int Parser::on_headers_complete(http_parser* p)
{
    auto* self = static_cast<Parser*>(p->data);
    Head& h = *self->head_;
    h.major = p->http_major;
    h.minor = p->http_minor;
    if (self->type_ == HTTP_REQUEST) {
        h.method = int(p->method);
        h.method_name = http_method_str(static_cast<http_method>(p->method));
    } else {
        h.status = int(p->status_code);
        // http_parser takes one to three digits ("HTTP/1.1 10 x"), which a
        // client would then refuse: only 100-599 are status codes.
        if (h.status < 100 || h.status > 599) {
            self->error_ = "status code outside 100-599";
            return -1;
        }
    }
    for (auto& hd : h.headers)
        hd.value = trim(hd.value);
    if ((self->error_ = self->check_headers()))
        return -1;
    self->in_body_ = true;

    // Framing, from what the parser decided (it refused the ambiguous cases).
    bool informational = h.status >= 100 && h.status < 200;
    bool bodiless = self->no_body_ || informational || h.status == 204 || h.status == 304;
    if (self->type_ == HTTP_RESPONSE && bodiless)
        h.framing = Framing::none;
    else if (p->flags & F_CHUNKED)
        h.framing = Framing::chunked;
    else if ((p->flags & F_CONTENTLENGTH) && p->content_length > 0)
        h.framing = Framing::length, h.content_length = p->content_length;
    else if (self->type_ == HTTP_RESPONSE && !(p->flags & F_CONTENTLENGTH))
        h.framing = Framing::until_close;
    // A HEAD answer, 1xx, 204 and 304 may announce a body they do not have:
    // 1 tells the parser to skip it.
    return (self->type_ == HTTP_RESPONSE && bodiless) ? 1 : 0;
}

const char* Parser::check_headers()
{
    Head& h = *head_;
    if (h.major != 1 || h.minor > 1) {
        bad_version_ = true;
        return "only HTTP/1.0 and HTTP/1.1 are spoken here";
    }
    int hosts = 0, lengths = 0;
    bool te = false, close = false, keep_alive = false;
    for (auto& hd : h.headers) {
        if (!is_token(hd.name))
            return hd.name.empty() ? "empty header name" : "bad character in a header name";
        switch (hd.field = classify(hd.name)) {
        case Field::content_length: ++lengths; break;
        case Field::transfer_encoding: te = true; break;
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
    // The parser refuses these too; checked here as well so the rule does
    // not depend on the library's version.
    if (lengths > 1 || (lengths && te))
        return "ambiguous framing: several Content-Length headers, or Content-Length with Transfer-Encoding";
    if (hosts > 1)
        return "several Host headers";
    h.keep_alive = h.is_10() ? keep_alive && !close : !close;
    return nullptr;
}

int Parser::on_body(http_parser* p, const char* at, std::size_t len)
{
    auto* self = static_cast<Parser*>(p->data);
    if (self->decoded_)
        evbuffer_add(self->decoded_, at, len);
    return 0;
}

int Parser::on_message_complete(http_parser* p)
{
    auto* self = static_cast<Parser*>(p->data);
    self->done_ = true;
    if (self->in_head_)
        self->head_->complete = true;
    // Stop at the end of this message: what follows is the next one.
    http_parser_pause(p, 1);
    return 0;
}

const http_parser_settings& Parser::settings()
{
    static const http_parser_settings s = [] {
        http_parser_settings st;
        http_parser_settings_init(&st);
        st.on_url = &Parser::on_url;
        st.on_status = &Parser::on_status;
        st.on_header_field = &Parser::on_header_field;
        st.on_header_value = &Parser::on_header_value;
        st.on_headers_complete = &Parser::on_headers_complete;
        st.on_body = &Parser::on_body;
        st.on_message_complete = &Parser::on_message_complete;
        return st;
    }();
    return s;
}

}  // namespace lbkit::http
