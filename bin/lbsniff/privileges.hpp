// -Z USER: once the capture is open, lbsniff needs no privilege, so it
// becomes USER for good (groups, gid, uid), as tcpdump -Z does.
#pragma once
#include <string>

namespace lbsniff {

// Throws Error(EX_NOUSER) for an unknown user, Error(EX_NOPERM) when the
// change is not allowed or did not stick (root could be regained).
void drop_privileges(const std::string& user);

}  // namespace lbsniff
