#include "fd_limit.hpp"

#include <sys/resource.h>

namespace lbkit {

std::size_t raise_open_files(std::size_t want)
{
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
    rlim_t target = want == 0 ? rl.rlim_max : static_cast<rlim_t>(want);
    if (rl.rlim_max != RLIM_INFINITY && target > rl.rlim_max) target = rl.rlim_max;
    if (target > rl.rlim_cur) {
        rlimit raised = rl;
        raised.rlim_cur = target;
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
    }
    return static_cast<std::size_t>(rl.rlim_cur);
}

}  // namespace lbkit
