#include "privileges.hpp"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "error.hpp"
#include "log.hpp"

namespace lbsniff {

using lbkit::Error;

void drop_privileges(const std::string& user)
{
    std::vector<char> buf(16384);
    passwd pw{}, *found = nullptr;
    int rc = getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &found);
    if (rc != 0 || !found)
        throw Error(EX_NOUSER, "-Z " + user + ": no such user" + (rc ? ": " + lbkit::errno_text(rc) : ""));
    std::string what = "-Z " + user + ": cannot drop privileges: ";
    if (getuid() == pw.pw_uid && geteuid() == pw.pw_uid)
        return;  // already that user
    if (geteuid() != 0)
        throw Error(EX_NOPERM, what + "only root can become another user");
    if (initgroups(pw.pw_name, pw.pw_gid) != 0)
        throw Error(EX_NOPERM, what + "initgroups: " + lbkit::errno_text(errno));
    if (setgid(pw.pw_gid) != 0)
        throw Error(EX_NOPERM, what + "setgid: " + lbkit::errno_text(errno));
    if (setuid(pw.pw_uid) != 0)
        throw Error(EX_NOPERM, what + "setuid: " + lbkit::errno_text(errno));
    // Verify, as privilege drops that half-work are worse than none.
    if (getuid() != pw.pw_uid || geteuid() != pw.pw_uid || getgid() != pw.pw_gid ||
        getegid() != pw.pw_gid || (pw.pw_uid != 0 && setuid(0) == 0))
        throw Error(EX_NOPERM, what + "root privileges are still there after setuid");
    lbkit::log::info("running as ", user, " (uid ", pw.pw_uid, ", gid ", pw.pw_gid, ")");
}

}  // namespace lbsniff
