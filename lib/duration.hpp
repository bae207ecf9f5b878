// Durations on the command line and in APIs: "2" (seconds), "2s", "500ms",
// "1m", "1h". Returned in milliseconds.
#pragma once
#include <sys/time.h>

#include <chrono>
#include <string>

namespace lbkit {

using Millis = std::chrono::milliseconds;

// Throws BadInput("bad duration '2x': ...") on anything else.
Millis parse_duration(const std::string& text);
std::string format_duration(Millis d);

// base, moved at random by up to +-fraction of it: periodic timers of many
// processes started together (a thousand proxies after a power cut) must not
// fire in step and hit their server at the same instant, every period.
Millis jitter(Millis base, double fraction = 0.1);

// For libevent's timers; a negative duration is zero.
timeval to_timeval(Millis d);

// Delays between the retries to a peer that fails: first, then doubled up to
// max, until a success resets it. Callers jitter the delay they wait.
class Backoff {
public:
    Backoff(Millis first, Millis max) : first_(first), max_(max) {}
    // After a failure: the delay before the next try.
    Millis next();
    void reset() { current_ = Millis{0}; }

private:
    Millis first_, max_, current_{0};
};

}  // namespace lbkit
