// Prometheus text-format registry. Every daemon owns one and serves it at
// GET /metrics. Families are created on first use; references to series stay
// valid for the registry's lifetime, so hot paths keep a Series& and add to it.
#pragma once
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace lbkit {

using Labels = std::vector<std::pair<std::string, std::string>>;

struct Series {
    double value = 0;
    void inc(double by = 1) { value += by; }
    void set(double v) { value = v; }
};

class Metrics {
public:
    Series& counter(const std::string& name, const std::string& help, const Labels& labels = {});
    Series& gauge(const std::string& name, const std::string& help, const Labels& labels = {});
    // A gauge computed when scraped (open connections, queue lengths).
    void gauge_fn(const std::string& name, const std::string& help, std::function<double()> fn);
    // Drop one series (a server removed from the groups table).
    void erase(const std::string& name, const Labels& labels);
    // Runs before every render: for series that are cheaper to set when read.
    void on_scrape(std::function<void()> fn) { scrape_hooks_.push_back(std::move(fn)); }
    std::string render();

private:
    struct Family {
        std::string help, type;
        std::map<std::string, Series> series;  // key: rendered label set
        std::function<double()> fn;
    };
    Series& series(const std::string& name, const std::string& help, const char* type, const Labels& labels);
    std::map<std::string, Family> families_;
    std::vector<std::function<void()>> scrape_hooks_;
};

std::string render_labels(const Labels& labels);

}  // namespace lbkit
