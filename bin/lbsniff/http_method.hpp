// Does a client's TCP payload begin an HTTP request? Only the request line's
// first token is looked at ("GET " ...), so counting needs no HTTP parser.
#pragma once
#include <cstddef>
#include <cstdint>

namespace lbsniff {

enum class MethodMatch {
    no,       // not a request start
    yes,      // "METHOD " at the start
    partial,  // all of it is a strict prefix of some "METHOD ": wait for more
};

// The longest "METHOD " text (PROPPATCH plus its space).
inline constexpr std::size_t method_max = 10;

MethodMatch match_method(const uint8_t* data, std::size_t len);

}  // namespace lbsniff
