// The server's records of its connections and of its deferred requests,
// shared by httpd.cpp and httpd_conns.cpp (not part of the interface).
#pragma once
#include "httpd.hpp"

namespace lbkit::httpd {

// One accepted connection. `request`: a request is arriving (deadline
// header_timeout); `handling`: the request is complete and being answered
// (no deadline: a long poll has its own); `idle`: between requests
// (deadline idle_timeout).
struct Server::Conn {
    enum class Phase { request, handling, idle };
    Server* server = nullptr;
    bufferevent* bev = nullptr;        // owned by evhttp's connection
    evhttp_connection* evcon = nullptr;
    Phase phase = Phase::request;
    ev::EventPtr deadline;
    Waiter* waiter = nullptr;          // a deferred request on it
};

// One deferred request. Its deadline and the watch on the client socket
// call back with the Waiter as argument, and its connection's record
// points to it, so all three are undone before the Waiter goes.
struct Server::Waiter {
    Server* server = nullptr;
    evhttp_request* req = nullptr;
    evhttp_connection* conn = nullptr;
    Conn* record = nullptr;
    std::shared_ptr<Deferred> deferred;
    ev::EventPtr deadline;
    ev::EventPtr hangup;
};

}  // namespace lbkit::httpd
