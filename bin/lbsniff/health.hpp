// Up/down inference for one server from a stream of evidence, with
// hysteresis: N bad signs in a row take it down, M good signs in a row bring
// it up, so one refused connection does not flap the state.
#pragma once
#include <cstdint>

#include "api.hpp"

namespace lbsniff {

// The states lbsniff infers are the ones it reports (api.hpp).
using State = lbkit::api::State;
using lbkit::api::to_string;

enum class Evidence : uint8_t {
    syn_ack,      // the server accepted a connection
    server_data,  // the server sent TCP payload
    probe_ok,
    syn_rst,      // a SYN was answered by RST: nothing listens
    syn_timeout,  // a SYN went unanswered for --syn-timeout
    probe_failed,
};
const char* to_string(Evidence e);
inline bool is_good(Evidence e) { return e <= Evidence::probe_ok; }

class Health {
public:
    Health(int down_after, int up_after) : down_after_(down_after), up_after_(up_after) {}
    // Returns true when this evidence changed the state.
    bool add(Evidence e);
    State state() const { return state_; }
    void set_thresholds(int down_after, int up_after) { down_after_ = down_after; up_after_ = up_after; }

private:
    int down_after_, up_after_;
    int good_run_ = 0, bad_run_ = 0;
    State state_ = State::unknown;
};

}  // namespace lbsniff
