// The limits a relay and a tunnel keep, as the tool that links them set
// them from its options (lbproxy: --max-header, --server-timeout,
// --idle-timeout, --header-timeout, --host-header; lbproxy(8)).
#pragma once
#include <sys/time.h>

#include <cstddef>

#include "duration.hpp"

namespace lbkit::http {

struct RelayLimits {
    std::size_t max_header = 64 * 1024;  // a larger head is refused (431) or the answer is bad
    Millis server_timeout{60000};        // the pool enforces it; named in the 504 sentence
    Millis idle_timeout{60000};          // a quiet tunnel, a client that does not read
    // The same two as timers: the loop's common timeouts (common_timeout,
    // upstream.hpp), so the many timers of one length cost one heap entry.
    timeval idle_tv{60, 0}, header_tv{10, 0};
    // A chosen server gets its own name as Host, not the representative
    // name the client asked for.
    bool host_of_server = false;
};

}  // namespace lbkit::http
