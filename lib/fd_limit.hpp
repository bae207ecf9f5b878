// The soft limit of open files (RLIMIT_NOFILE), often 1024, is below what a
// process that holds a socket per peer needs; the hard limit usually allows
// more without privileges.
#pragma once
#include <cstddef>

namespace lbkit {

// Raises the soft limit to `want` descriptors, or to the hard limit when
// want is 0 or above it; never lowers it. Returns the soft limit in force.
std::size_t raise_open_files(std::size_t want = 0);

}  // namespace lbkit
