// The reason phrase of a status code (RFC 9110 15), for the status lines the
// relay writes itself: its own answers, and a server's answer that came
// without a phrase.
#pragma once

namespace lbkit::http {

// "Not Found" for 404; "Unknown" for a code RFC 9110 does not name.
const char* reason_phrase(int status);

}  // namespace lbkit::http
