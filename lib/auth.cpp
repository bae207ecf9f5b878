#include "auth.hpp"

#include <unistd.h>

#include <cstring>

#include "error.hpp"
#include "table.hpp"

namespace lbkit::auth {

std::string load_token(const std::string& path)
{
    std::string file = path;
    if (file.empty()) {
        if (access(default_token_file, F_OK) != 0)
            return "";
        file = default_token_file;
    }
    std::string text;
    try {
        text = table::read_file(file);
    } catch (const Error& e) {
        throw Error(EX_NOINPUT, "token file: " + std::string(e.what()));
    }
    auto end = text.find_last_not_of(" \t\r\n");
    auto begin = text.find_first_not_of(" \t\r\n");
    if (end == std::string::npos)
        throw Error(EX_CONFIG, "token file " + file + ": empty");
    std::string token = text.substr(begin, end - begin + 1);
    if (token.find_first_of(" \t\r\n") != std::string::npos)
        throw Error(EX_CONFIG, "token file " + file + ": the token must be one word");
    return token;
}

bool token_equal(const std::string& expected, const std::string& given)
{
    // Walk the expected token whatever the input, so timing reveals only its length.
    unsigned diff = expected.size() != given.size();
    for (std::size_t i = 0; i < expected.size(); ++i) {
        unsigned char g = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
        diff |= static_cast<unsigned char>(expected[i]) ^ g;
    }
    // Keep the compiler from turning the loop into an early exit.
    asm volatile("" : "+r"(diff));
    return diff == 0;
}

bool bearer_matches(const std::string& expected, const char* header)
{
    if (!header)
        return false;
    static constexpr const char prefix[] = "Bearer ";
    if (strncasecmp(header, prefix, sizeof prefix - 1) != 0)
        return false;
    const char* t = header + sizeof prefix - 1;
    while (*t == ' ')
        ++t;
    return token_equal(expected, t);
}

}  // namespace lbkit::auth
