// Durations on the command line and in APIs: "2" (seconds), "2s", "500ms",
// "1m", "1h". Returned in milliseconds.
#pragma once
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

}  // namespace lbkit
