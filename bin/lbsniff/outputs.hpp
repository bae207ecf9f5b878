// Where the engine's results go: --stdout lines, the /metrics registry,
// the log (state changes), and every --report lbstated.
#pragma once
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine.hpp"
#include "metrics.hpp"
#include "reporter.hpp"

namespace lbsniff {

// "time server state load packets bytes conns reqs", tab-separated, newline
// included. time is the interval's start in Unix seconds with milliseconds.
std::string stdout_line(Micros start, const Sample& s);
// 12.5, 3, 0.333: at most three decimals, no trailing zeros.
std::string format_load(double v);

class Outputs : public Sink {
public:
    Outputs(lbkit::Metrics& metrics, std::FILE* lines, std::vector<std::unique_ptr<Reporter>>& reporters);

    void set_servers(const std::vector<ServerSpec>& servers);
    void interval(Micros start, Micros length, const std::vector<Sample>& samples) override;
    void transition(const Sample& sample, Evidence why) override;

private:
    struct Series {
        lbkit::Series *packets, *bytes, *conns, *reqs, *load, *state, *transitions;
    };
    Series& series(const std::string& name);
    void send(const std::vector<lbkit::api::ServerReport>& reports);

    lbkit::Metrics& metrics_;
    std::FILE* lines_;  // nullptr without --stdout
    std::vector<std::unique_ptr<Reporter>>& reporters_;
    std::map<std::string, Series> series_;
    std::vector<lbkit::api::ServerReport> batch_;
};

}  // namespace lbsniff
