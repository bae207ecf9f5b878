// A CONNECT chained through an upstream proxy (lbproxy(8), Upstream
// proxies): the request the tunnel sends the proxy for the server chosen,
// and the reading of the proxy's answer head, bounded by the head limit
// (RelayLimits::max_header). The tunnel opens on a 2xx; anything else is a
// refusal the client hears of as a 502 naming the proxy and its status
// line.
#pragma once
#include <cstddef>
#include <string>

#include "addr.hpp"

struct evbuffer;

namespace lbkit::http {

// "CONNECT web1:443 HTTP/1.1\r\nHost: web1:443\r\n\r\n".
std::string proxy_connect_request(const HostPort& server);

struct ProxyConnectAnswer {
    enum Kind { incomplete, established, refused, bad } kind = incomplete;
    std::string what;  // refused: the status line; bad: why the answer is unusable
};

// Reads the answer head at the front of in; on established its bytes are
// drained (what follows is the server's), otherwise in is left as it is.
ProxyConnectAnswer read_proxy_connect_answer(evbuffer* in, std::size_t max_header);

}  // namespace lbkit::http
