#include "health.hpp"

namespace lbsniff {

const char* to_string(Evidence e)
{
    switch (e) {
    case Evidence::syn_ack: return "a SYN was answered by SYN-ACK";
    case Evidence::server_data: return "the server sent data";
    case Evidence::probe_ok: return "the probe succeeded";
    case Evidence::syn_rst: return "a SYN was answered by RST";
    case Evidence::syn_timeout: return "a SYN went unanswered";
    case Evidence::probe_failed: return "the probe failed";
    }
    return "?";
}

bool Health::add(Evidence e)
{
    if (is_good(e)) {
        bad_run_ = 0;
        if (good_run_ < up_after_)
            ++good_run_;
        if (state_ != State::up && good_run_ >= up_after_) {
            state_ = State::up;
            return true;
        }
    } else {
        good_run_ = 0;
        if (bad_run_ < down_after_)
            ++bad_run_;
        if (state_ != State::down && bad_run_ >= down_after_) {
            state_ = State::down;
            return true;
        }
    }
    return false;
}

}  // namespace lbsniff
