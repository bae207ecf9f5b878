// Exit codes come from sysexits(3); Error carries one up to main(), where it
// becomes "tool: what failed: why" on stderr and the process exit status.
#pragma once
#include <sysexits.h>

#include <stdexcept>
#include <string>

namespace lbkit {

// Some of the work was done, some failed (sysexits has no name for it).
inline constexpr int EX_PARTIAL = 1;

class Error : public std::runtime_error {
public:
    Error(int exit_code, const std::string& what)
        : std::runtime_error(what), code_(exit_code) {}
    int exit_code() const noexcept { return code_; }

private:
    int code_;
};

// Input from a peer or a file that fails validation: an API answers 400 with
// the message, a loader refuses the whole input and keeps what it had.
class BadInput : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// strerror(err) without the thread-safety trap of strerror().
std::string errno_text(int err);

}  // namespace lbkit
