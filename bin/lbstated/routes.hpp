// lbstated's control API: one row per endpoint (lbstated(8), Control API).
#pragma once
#include <vector>

#include "httpd.hpp"
#include "stated.hpp"

namespace lbstated {

std::vector<lbkit::httpd::Route> routes(Stated& d);

}  // namespace lbstated
