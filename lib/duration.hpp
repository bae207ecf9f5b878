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

}  // namespace lbkit
