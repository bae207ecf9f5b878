// The shared bearer token (lbkit(7), Conventions).
#pragma once
#include <string>

namespace lbkit::auth {

// Under --sysconfdir: /etc/lbkit/token for a system installation.
inline constexpr const char* default_token_file = LBKIT_SYSCONFDIR "/lbkit/token";

// Reads the token from path; with path empty, from default_token_file when it
// exists (else no token, returned empty). An explicitly named file that cannot
// be read, or is empty, throws Error(EX_NOINPUT / EX_CONFIG).
std::string load_token(const std::string& path);

// Compares in time that depends only on the lengths, never on the contents.
bool token_equal(const std::string& expected, const std::string& given);

// "Authorization: Bearer <token>" value check.
bool bearer_matches(const std::string& expected, const char* authorization_header);

}  // namespace lbkit::auth
