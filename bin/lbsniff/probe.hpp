// Active probes for quiet servers (--probe tcp | http:/PATH): a server that
// gave no sign of life or death for --probe-interval is asked directly, and
// the answer is one more piece of evidence for the engine's hysteresis.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "engine.hpp"
#include "ev.hpp"
#include "httpc.hpp"
#include "loop.hpp"
#include "options.hpp"

namespace lbsniff {

class Prober {
public:
    Prober(lbkit::Loop& loop, lbkit::httpc::Client& http, Engine& engine, Probe probe, lbkit::Millis interval);
    ~Prober();
    void set_targets(const std::vector<ServerSpec>& servers);
    void tick();  // also run by its own timer

private:
    struct Target { std::string name; std::vector<Endpoint> endpoints; };
    struct TcpProbe;
    void probe(const Target& t);
    void probe_tcp(const std::string& name, const Endpoint& e);
    void probe_http(const std::string& name, const Endpoint& e);
    void result(const std::string& name, bool ok, const std::string& why);
    static void tcp_event(bufferevent* bev, short what, void* arg);

    lbkit::Loop& loop_;
    lbkit::httpc::Client& http_;
    Engine& engine_;
    Probe probe_;
    lbkit::Millis interval_;
    std::vector<Target> targets_;
    std::map<std::string, int> in_flight_;  // server name -> probes running
    std::map<TcpProbe*, std::unique_ptr<TcpProbe>> tcp_;
    lbkit::Timer timer_;
};

}  // namespace lbsniff
