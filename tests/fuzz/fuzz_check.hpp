// An invariant of a fuzz target: when it does not hold, the input is a
// finding, so the target aborts (libFuzzer saves the input; the replay of
// the seeds in make check fails) after saying which check, where, and why.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <string>

[[noreturn]] inline void fuzz_violated(const char* file, int line, const char* what, const std::string& detail)
{
    std::fprintf(stderr, "%s:%d: invariant violated: %s\n%s\n", file, line, what, detail.c_str());
    std::fflush(stderr);
    std::abort();
}

#define FUZZ_CHECK(cond, detail)                                          \
    do {                                                                  \
        if (!(cond)) fuzz_violated(__FILE__, __LINE__, #cond, (detail)); \
    } while (0)
