// libFuzzer target (make fuzz), replayed over tests/fuzz/proxy-connect-corpus
// by make check (replay_main.cpp): a chained CONNECT (proxy_connect.hpp) on
// hostile bytes. The control byte's bit 3 chooses what the rest is:
//
//   clear  an upstream proxy's answer, read with read_proxy_connect_answer
//          as the tunnel reads it, the bytes arriving whole, a byte at a
//          time and in pieces the seed (bits 4-7) chooses; the head limit
//          is 1024 >> (bits 0-2), from 1024 ('0') down to 8 ('7').
//   set    a server as a table names it ("host:port", '8' first): when
//          parse_host_port takes it, the CONNECT request for it parsed
//          again names the same host and port.
//
// Invariants (abort() when violated): the reading does not depend on the
// pieces; an established tunnel drains exactly the answer head, which a
// fresh Parser reads as a 2xx, and leaves what follows; a refusal or a bad
// answer drains nothing, a refusal names a non-2xx HTTP/1.x status line;
// "incomplete" only while the head may still come.
#include <arpa/inet.h>
#include <event2/buffer.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "addr.hpp"
#include "error.hpp"
#include "fuzz_check.hpp"
#include "http/http_parse.hpp"
#include "http/proxy_connect.hpp"
#include "http/request_target.hpp"

namespace {

namespace http = lbkit::http;

struct Result {
    http::ProxyConnectAnswer::Kind kind = http::ProxyConnectAnswer::incomplete;
    std::string what;
    std::size_t consumed = 0;  // bytes the reading drained
    std::string left;          // what stayed in the buffer, and the bytes not yet delivered

    std::string str() const
    {
        return std::to_string(int(kind)) + " '" + what + "' consumed " + std::to_string(consumed) + " left "
               + std::to_string(left.size());
    }
};

Result read_answer(std::string_view input, std::size_t max_header, int kind, unsigned seed)
{
    uint32_t x = seed * 2654435761u ^ uint32_t(input.size()) ^ 0x9e3779b9u;
    if (x == 0) x = 1;
    auto next = [&x] {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        return x;
    };
    evbuffer* in = evbuffer_new();
    Result res;
    std::size_t at = 0;
    do {
        std::size_t n = input.size() - at;
        if (kind == 1)
            n = std::min<std::size_t>(n, 1);
        else if (kind == 2)
            n = std::min<std::size_t>(n, 1 + next() % 13);
        if (kind == 2 && (next() & 1))
            evbuffer_add_reference(in, input.data() + at, n, nullptr, nullptr);
        else
            evbuffer_add(in, input.data() + at, n);
        at += n;
        std::size_t before = evbuffer_get_length(in);
        auto a = http::read_proxy_connect_answer(in, max_header);
        std::size_t after = evbuffer_get_length(in);
        if (a.kind == http::ProxyConnectAnswer::incomplete) {
            FUZZ_CHECK(after == before, "an incomplete answer was drained");
            continue;
        }
        res.kind = a.kind;
        res.what = a.what;
        res.consumed = before - after;
        break;
    } while (at < input.size());
    std::string left(evbuffer_get_length(in), '\0');
    evbuffer_copyout(in, left.data(), left.size());
    res.left = left + std::string(input.substr(at));
    evbuffer_free(in);
    return res;
}

void check_answer(std::string_view input, std::size_t max_header, unsigned seed)
{
    Result r[3];
    for (int k = 0; k < 3; ++k)
        r[k] = read_answer(input, max_header, k, seed);
    for (int k = 1; k < 3; ++k)
        FUZZ_CHECK(r[k].str() == r[0].str() && r[k].left == r[0].left,
                   "split " + std::to_string(k) + ": " + r[k].str() + ", whole: " + r[0].str());

    // What a fresh look at the whole input says.
    std::size_t lim = std::min(input.size(), max_header);
    std::size_t scanned = 0;
    std::size_t end = lim ? http::find_head_end(input.data(), lim, scanned) : 0;
    const Result& res = r[0];
    FUZZ_CHECK(res.consumed + res.left.size() == input.size(), "bytes lost: " + res.str());
    switch (res.kind) {
    case http::ProxyConnectAnswer::incomplete:
        FUZZ_CHECK(end == 0 && input.size() < max_header, "a complete answer left unread: " + res.str());
        break;
    case http::ProxyConnectAnswer::established: {
        FUZZ_CHECK(end != 0 && res.consumed == end, "the tunnel does not start after the head: " + res.str());
        http::Parser p(HTTP_RESPONSE);
        http::Head h;
        FUZZ_CHECK(p.parse_head(input.data(), end, h, true) == nullptr, "a refused head opened the tunnel");
        FUZZ_CHECK(h.status >= 200 && h.status < 300, "tunnel opened on " + std::to_string(h.status));
        break;
    }
    case http::ProxyConnectAnswer::refused: {
        FUZZ_CHECK(res.consumed == 0 && end != 0, "a refusal drained the answer: " + res.str());
        http::Parser p(HTTP_RESPONSE);
        http::Head h;
        FUZZ_CHECK(p.parse_head(input.data(), end, h, true) == nullptr, "a refused head read as a refusal");
        FUZZ_CHECK(h.status < 200 || h.status >= 300, "a 2xx read as a refusal: " + res.str());
        std::string line = "HTTP/" + std::to_string(h.major) + "." + std::to_string(h.minor) + " "
                           + std::to_string(h.status);
        FUZZ_CHECK(res.what.compare(0, line.size(), line) == 0, "refusal names another status line: " + res.str());
        break;
    }
    case http::ProxyConnectAnswer::bad:
        FUZZ_CHECK(res.consumed == 0, "a bad answer was drained: " + res.str());
        FUZZ_CHECK(!res.what.empty(), "a bad answer without a reason");
        break;
    }
}

// The CONNECT lbproxy sends an upstream proxy for a server of its tables.
void check_request(std::string_view text)
{
    if (text.size() > 300)
        return;
    lbkit::HostPort hp;
    try {
        hp = lbkit::parse_host_port(std::string(text), 443);
    } catch (const lbkit::BadInput&) {
        return;
    }
    // A name, or an IPv6 literal; a name with ':' that is no address is
    // left to the tables' own checks.
    if (hp.host.find(':') != std::string::npos) {
        unsigned char a[16];
        if (inet_pton(AF_INET6, hp.host.c_str(), a) != 1)
            return;
    }
    std::string req = http::proxy_connect_request(hp);
    http::Parser p(HTTP_REQUEST);
    http::Head h;
    const char* err = p.parse_head(req.data(), req.size(), h);
    FUZZ_CHECK(err == nullptr, std::string("CONNECT request refused: ") + (err ? err : "") + ": " + req);
    FUZZ_CHECK(h.method == HTTP_CONNECT && h.target == hp.str() && h.find("host") == hp.str(), "CONNECT request: " + req);
    http::Target t;
    err = http::parse_authority(h.target, t);
    FUZZ_CHECK(err == nullptr, std::string("CONNECT target refused: ") + (err ? err : "") + ": " + req);
    FUZZ_CHECK(t.host == hp.host && t.port == hp.port, "CONNECT names another server: " + req);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size)
{
    if (size < 1)
        return 0;
    uint8_t c = data[0];
    std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
    if (c & 8)
        check_request(input);
    else
        check_answer(input, std::size_t(1024) >> (c & 7), c >> 4);
    return 0;
}
