// What lbproxy knows about groups and servers, and the choice of a real
// server per request. State arrives by --state-mode (push on change,
// periodic push, or pull per request, coalesced), is kept in SQLite so a
// restart serves before lbstated answers, and is combined with local facts:
// in-flight requests, servers found suspect by a failed connect, and
// servers ejected after consecutive failures.
//
// The interface the request path chooses through; state_chooser.cpp
// implements it on the control plane's state book.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "addr.hpp"
#include "http/server_id.hpp"

namespace lbproxy {

// A server as the request path holds it (the relay engine's ServerId): its
// index in the StateBook's table of server names. A name gets its id when a
// state first names it and keeps it for the process's life, so an id held
// across a state change still means the same server (one the new state
// dropped is simply not chosen). Names are for the edges: API, history, logs.
using lbkit::http::ServerId;
using lbkit::http::no_server;
using lbkit::http::ServerIds;

struct Choice {
    std::string group;    // representative name, empty when the host is not one
    ServerId id = no_server;
    std::string server;   // server name as the groups table writes it ("web1:8080")
    lbkit::HostPort target;   // where to connect (the server name's host and port)
    std::string error;    // set when no server can be chosen: the 503 sentence
    bool ok() const { return error.empty(); }
};

// A choice asked for and perhaps not answered yet. cancel() drops the
// answer when it comes (its callback never runs), so whoever asked may go
// at once instead of waiting for it.
class ChoiceHandle {
public:
    using Done = std::function<void(Choice)>;
    ChoiceHandle() = default;
    explicit ChoiceHandle(std::shared_ptr<Done> waiting) : waiting_(std::move(waiting)) {}

    void cancel()
    {
        if (waiting_)
            *waiting_ = nullptr;
        waiting_.reset();
    }

private:
    std::shared_ptr<Done> waiting_;  // shared with the answer on its way; empty once answered
};

class Chooser {
public:
    virtual ~Chooser() = default;

    // True when host (no port) is a representative name in the current state.
    virtual bool is_group(const std::string& host) const = 0;
    // Empty once a state has arrived (or was kept from an earlier run);
    // before, "no state from URL yet": every host is then relayed as is.
    virtual std::string missing_state() const = 0;

    // Picks a real server of group, never one in exclude (servers already
    // tried for this request). May complete later (pull mode, central policy);
    // done is called exactly once, on the loop, unless the handle is
    // cancelled first.
    // handle is set before done can run (done may run inside choose).
    virtual void choose(const std::string& group, const ServerIds& exclude, ChoiceHandle& handle,
                        ChoiceHandle::Done done) = 0;

    // A connect to server failed: avoid it locally for a short while.
    virtual void mark_suspect(ServerId server) = 0;
    // Requests sent to server and not yet answered (p2c's local estimate).
    virtual void request_started(ServerId server) = 0;
    virtual void request_finished(ServerId server) = 0;
    // How a request to a server of a group ended, for passive ejection:
    // ok is an answer with a status below 500; failed is a failed connect,
    // a 5xx answer, or no answer (closed, timed out or garbled before one).
    virtual void server_ok(ServerId server) = 0;
    virtual void server_failed(ServerId server) = 0;
};

}  // namespace lbproxy
