// A server of a state document in one line, for the unit tests that feed a
// StateBook (lbproxy_state_book_test, lbproxy_upstream_proxies_test).
#pragma once
#include <string>

#include "api.hpp"

inline lbkit::api::ServerView server(const std::string& name, lbkit::api::State st, double load = 0,
                                     double ratio = 1, bool pinned = false)
{
    lbkit::api::ServerView s;
    s.name = name;
    s.state = st;
    s.load = load;
    s.ratio = ratio;
    s.pinned = pinned;
    return s;
}
