// What the relay and the tunnel report as an exchange goes, for the tool
// that links them to count (metrics) and to weigh servers by (requests in
// flight, passive health). lbproxy implements it with its metrics and its
// chooser (bin/lbproxy/proxy_events.hpp).
#pragma once
#include "http/server_id.hpp"

namespace lbkit::http {

// How an exchange with a server failed.
enum class UpstreamError { connect, timeout, reset, bad_response };

class RelayEvents {
public:
    virtual ~RelayEvents() = default;

    // The relay answered the client itself with status (a bad request body).
    virtual void refused(int status) = 0;
    virtual void upstream_error(UpstreamError kind) = 0;
    // A CONNECT was taken over (counted whether its tunnel opens or not).
    virtual void tunnel_requested() = 0;

    // Only for a server of a group (a chosen one): a request went to it
    // and is not answered yet, until finished.
    virtual void request_started(ServerId server) = 0;
    virtual void request_finished(ServerId server) = 0;
    // How a request to it ended: ok is an answer with a status below 500
    // (or a tunnel opened); failed is a 5xx answer, or none (closed, timed
    // out or garbled before one).
    virtual void server_ok(ServerId server) = 0;
    virtual void server_failed(ServerId server) = 0;
};

}  // namespace lbkit::http
