// Sends one table to many lbproxy instances at once (lbpush(8)): at most
// `parallel` transfers in flight on libcurl's multi interface, failures
// that may pass (no answer, 408, 429, 5xx but 501) retried with backoff,
// refusals (other 4xx, 501) not. A dry run asks each proxy which version
// it holds instead of sending the table.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "clients.hpp"
#include "duration.hpp"

namespace lbpush {

struct Plan {
    std::string table;    // proxymap, charsets or sessions
    std::string text;     // the table, already checked
    int64_t version = 0;
    bool force = false;   // take an older version too ("force":true)
    bool dry_run = false;
    std::string token;
    int parallel = 32;
    int retries = 3;      // tries after the first
    lbkit::Millis timeout{10000};  // of one try
    lbkit::Millis backoff_first{500}, backoff_max{5000};
    bool verbose = false;  // -v: every try's answer on stderr
};

// How a client ended. A dry run also has `push`: the client would take the
// table.
enum class Status { ok, push, refused, failed };
const char* status_name(Status s);

struct Outcome {
    std::string client;
    std::string url;
    Status status = Status::failed;
    std::optional<int64_t> version;  // the version the client holds at the end, when known
    int64_t ms = 0;                  // from the first try to the end, retries included
    int attempts = 0;
    std::string reason;
};

// One outcome per client, in the order of `clients`. A stop signal ends the
// run early: the clients not finished are `failed` with "interrupted".
std::vector<Outcome> run(const Plan& plan, const std::vector<Client>& clients);

}  // namespace lbpush
