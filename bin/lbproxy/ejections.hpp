// Passive ejection as the daemon lives it. The StateBook decides (counts,
// backoff, --max-ejection-percent, slow start after the return); this side
// logs each ejection (warn) and return (info), counts them for /metrics,
// ends ejections on time with a timer, and tells every state server, which
// shows how many proxies eject a server without changing its state:
//   POST   /v1/servers/NAME/ejection  {"proxy":ID,"until_ms":REMAINING}
//   DELETE /v1/servers/NAME/ejection?proxy=ID
// A report that fails is logged once per state server (until one works
// again) and changes nothing here: the ejection is local. lbstated expires
// an ejection at its time even when the return is never reported, and keeps
// ejections in memory only: when a state server restarts, the ejections in
// force are reported to it again.
#pragma once
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "duration.hpp"
#include "httpc.hpp"
#include "loop.hpp"
#include "metrics.hpp"
#include "state_book.hpp"

namespace lbproxy {

class EjectionReports {
public:
    EjectionReports(lbkit::httpc::Client& http, const std::vector<std::string>& state_servers, std::string token,
                    lbkit::Millis timeout);
    ~EjectionReports();
    // How lbstated names this proxy (its admin address); set once the admin
    // port is bound, before any report.
    void set_proxy(std::string id) { proxy_ = std::move(id); }
    const std::string& proxy() const { return proxy_; }
    // To every state server, or only to the one whose key (source_key) is
    // only_to.
    void ejected(const std::string& server, int64_t remaining_ms, const std::string& only_to = "");
    void returned(const std::string& server);
    // Shutdown: the reports still out are dropped, and the ejections in
    // force are ended at every state server (blocking, briefly: the loop
    // has nothing else to do then), so none outlives the proxy there.
    void stop(const std::vector<std::string>& ejected);

private:
    struct Target {
        std::string url;   // normalized base URL
        std::string key;   // source_key(url)
        bool warned = false;
    };
    void send(Target& t, lbkit::httpc::Request req, const std::string& what);
    void failed(Target& t, const std::string& what, const lbkit::httpc::Result& r);
    lbkit::httpc::Request end_request(const Target& t, const std::string& server) const;

    lbkit::httpc::Client& http_;
    std::vector<std::unique_ptr<Target>> targets_;
    std::string token_;
    lbkit::Millis timeout_;
    std::string proxy_;
    std::set<uint64_t> in_flight_;
    bool stopped_ = false;
};

class Ejections {
public:
    Ejections(lbkit::Loop& loop, lbkit::Metrics& metrics, StateBook& book, EjectionReports& reports);
    // The outcome of a request to a server of a group.
    void ok(ServerId server);
    void failed(ServerId server);
    // The state server with this key restarted and forgot our ejections.
    void state_server_restarted(const std::string& key);
    // Shutdown: no more returns; the state servers forget our ejections.
    void stop();

private:
    void arm();
    void end_due();
    void update_gauges();

    lbkit::Metrics& metrics_;
    StateBook& book_;
    EjectionReports& reports_;
    lbkit::Timer timer_;
    std::set<std::string> gauged_;  // groups with an lbproxy_ejected_servers series
    bool stopped_ = false;
};

}  // namespace lbproxy
