#include "error.hpp"

#include <cstring>

namespace lbkit {

std::string errno_text(int err)
{
    char buf[256];
    // GNU strerror_r returns the message, which may not be buf.
    return strerror_r(err, buf, sizeof buf);
}

}  // namespace lbkit
