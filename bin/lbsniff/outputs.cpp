#include "outputs.hpp"

#include <cinttypes>
#include <set>

#include "log.hpp"

namespace lbsniff {

namespace api = lbkit::api;

namespace {

double state_value(State s) { return s == State::up ? 1 : s == State::down ? 0 : -1; }

}  // namespace

std::string format_load(double v)
{
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.3f", v);
    std::string s = buf;
    s.erase(s.find_last_not_of('0') + 1);
    if (s.back() == '.')
        s.pop_back();
    return s;
}

std::string stdout_line(Micros start, const Sample& s)
{
    Micros ms = start / 1000;
    char buf[256];
    std::snprintf(buf, sizeof buf, "%" PRId64 ".%03d\t%s\t%s\t%s\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\n",
                  ms / 1000, int(ms % 1000), s.name->c_str(), to_string(s.state), format_load(s.load).c_str(),
                  s.counts.packets, s.counts.bytes, s.counts.conns, s.counts.reqs);
    return buf;
}

Outputs::Outputs(lbkit::Metrics& metrics, std::FILE* lines, std::vector<std::unique_ptr<Reporter>>& reporters)
    : metrics_(metrics), lines_(lines), reporters_(reporters)
{
}

Outputs::Series& Outputs::series(const std::string& name)
{
    auto it = series_.find(name);
    if (it != series_.end())
        return it->second;
    lbkit::Labels l{{"server", name}};
    auto& m = metrics_;
    Series s{
        &m.counter("lbsniff_packets_total", "TCP segments addressed to the server", l),
        &m.counter("lbsniff_bytes_total", "IP bytes addressed to the server", l),
        &m.counter("lbsniff_connections_total", "Connection attempts (SYN) to the server", l),
        &m.counter("lbsniff_requests_total", "HTTP requests to the server", l),
        &m.gauge("lbsniff_load", "Load of the last interval, per second, as reported", l),
        &m.gauge("lbsniff_server_up", "1 up, 0 down, -1 unknown", l),
        &m.counter("lbsniff_transitions_total", "State changes of the server", l),
    };
    s.state->set(-1);
    return series_.emplace(name, s).first->second;
}

void Outputs::set_servers(const std::vector<ServerSpec>& servers)
{
    std::set<std::string> keep;
    for (const auto& s : servers) {
        keep.insert(s.name);
        series(s.name);
    }
    for (auto it = series_.begin(); it != series_.end();) {
        if (keep.count(it->first)) {
            ++it;
            continue;
        }
        for (const char* n : {"lbsniff_packets_total", "lbsniff_bytes_total", "lbsniff_connections_total",
                              "lbsniff_requests_total", "lbsniff_load", "lbsniff_server_up",
                              "lbsniff_transitions_total"})
            metrics_.erase(n, {{"server", it->first}});
        it = series_.erase(it);
    }
}

void Outputs::send(const std::vector<api::ServerReport>& reports)
{
    for (auto& r : reporters_)
        r->send(reports);
}

void Outputs::interval(Micros start, Micros, const std::vector<Sample>& samples)
{
    batch_.clear();
    for (const Sample& s : samples) {
        Series& m = series(*s.name);
        m.packets->inc(double(s.counts.packets));
        m.bytes->inc(double(s.counts.bytes));
        m.conns->inc(double(s.counts.conns));
        m.reqs->inc(double(s.counts.reqs));
        m.load->set(s.load);
        m.state->set(state_value(s.state));
        if (lines_) {
            std::string line = stdout_line(start, s);
            std::fwrite(line.data(), 1, line.size(), lines_);
        }
        batch_.push_back(api::ServerReport{*s.name, s.load, s.state});
    }
    send(batch_);
}

void Outputs::transition(const Sample& s, Evidence why)
{
    lbkit::log::info(*s.name, ": ", to_string(s.state), ": ", to_string(why));
    Series& m = series(*s.name);
    m.state->set(state_value(s.state));
    m.transitions->inc();
    std::vector<api::ServerReport> one{{*s.name, s.load, s.state}};
    send(one);
}

}  // namespace lbsniff
