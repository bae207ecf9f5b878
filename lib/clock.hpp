// The clocks of lbkit, in integer milliseconds: monotonic for deadlines,
// intervals and ages inside one process (a clock step must not expire a
// report or fire a retry), Unix time for what is shown, stored or sent to
// another process.
#pragma once
#include <chrono>
#include <cstdint>

namespace lbkit {

inline int64_t monotonic_ms()
{
    using namespace std::chrono;
    return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

inline int64_t unix_ms()
{
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

inline int64_t unix_us()
{
    using namespace std::chrono;
    return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace lbkit
