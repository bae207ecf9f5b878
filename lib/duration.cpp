#include "duration.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <random>

#include "error.hpp"

namespace lbkit {

Millis parse_duration(const std::string& text)
{
    auto bad = [&](const char* why) {
        return BadInput("bad duration '" + text + "': " + why);
    };
    std::size_t i = 0;
    while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.'))
        ++i;
    if (i == 0)
        throw bad("expected a number with an optional unit (2, 2s, 500ms, 1m, 1h)");
    char* end = nullptr;
    std::string number = text.substr(0, i);
    double v = std::strtod(number.c_str(), &end);
    if (*end != '\0')
        throw bad("not a number");
    std::string unit = text.substr(i);
    double ms;
    if (unit.empty() || unit == "s")
        ms = v * 1000;
    else if (unit == "ms")
        ms = v;
    else if (unit == "m")
        ms = v * 60'000;
    else if (unit == "h")
        ms = v * 3'600'000;
    else
        throw bad("unknown unit (use ms, s, m or h)");
    if (ms > 366.0 * 24 * 3'600'000)
        throw bad("longer than a year");
    return Millis(static_cast<int64_t>(ms + 0.5));
}

std::string format_duration(Millis d)
{
    auto ms = d.count();
    if (ms % 3'600'000 == 0 && ms >= 3'600'000) return std::to_string(ms / 3'600'000) + "h";
    if (ms % 60'000 == 0 && ms >= 60'000) return std::to_string(ms / 60'000) + "m";
    if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
    return std::to_string(ms) + "ms";
}

Millis jitter(Millis base, double fraction)
{
    thread_local std::mt19937_64 rng{std::random_device{}()};
    double spread = static_cast<double>(base.count()) * fraction;
    std::uniform_real_distribution<double> d(-spread, spread);
    return Millis(std::max<int64_t>(1, base.count() + static_cast<int64_t>(d(rng))));
}

timeval to_timeval(Millis d)
{
    const int64_t ms = std::max<int64_t>(0, d.count());
    return {static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
}

Millis Backoff::next()
{
    current_ = current_.count() == 0 ? first_ : std::min(current_ * 2, max_);
    return current_;
}

}  // namespace lbkit
