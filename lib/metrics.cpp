#include "metrics.hpp"

#include <cmath>
#include <cstdio>

namespace lbkit {
namespace {

std::string escape_label(const std::string& v)
{
    std::string out;
    out.reserve(v.size());
    for (char c : v) {
        if (c == '\\' || c == '"') { out += '\\'; out += c; }
        else if (c == '\n') out += "\\n";
        else out += c;
    }
    return out;
}

std::string number(double v)
{
    if (std::isnan(v)) return "NaN";
    if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
    char buf[64];
    if (v == std::floor(v) && std::fabs(v) < 1e15)
        std::snprintf(buf, sizeof buf, "%.0f", v);
    else
        std::snprintf(buf, sizeof buf, "%.6g", v);
    return buf;
}

}  // namespace

std::string render_labels(const Labels& labels)
{
    if (labels.empty())
        return "";
    std::string out = "{";
    for (std::size_t i = 0; i < labels.size(); ++i) {
        if (i) out += ',';
        out += labels[i].first + "=\"" + escape_label(labels[i].second) + "\"";
    }
    return out + "}";
}

Series& Metrics::series(const std::string& name, const std::string& help, const char* type, const Labels& labels)
{
    auto& f = families_[name];
    if (f.type.empty()) {
        f.help = help;
        f.type = type;
    }
    return f.series[render_labels(labels)];
}

Series& Metrics::counter(const std::string& name, const std::string& help, const Labels& labels)
{
    return series(name, help, "counter", labels);
}

Series& Metrics::gauge(const std::string& name, const std::string& help, const Labels& labels)
{
    return series(name, help, "gauge", labels);
}

void Metrics::gauge_fn(const std::string& name, const std::string& help, std::function<double()> fn)
{
    auto& f = families_[name];
    f.help = help;
    f.type = "gauge";
    f.fn = std::move(fn);
}

void Metrics::erase(const std::string& name, const Labels& labels)
{
    auto it = families_.find(name);
    if (it != families_.end())
        it->second.series.erase(render_labels(labels));
}

std::string Metrics::render()
{
    for (auto& hook : scrape_hooks_)
        hook();
    std::string out;
    for (const auto& [name, f] : families_) {
        out += "# HELP " + name + " " + f.help + "\n";
        out += "# TYPE " + name + " " + f.type + "\n";
        if (f.fn)
            out += name + " " + number(f.fn()) + "\n";
        for (const auto& [labels, s] : f.series)
            out += name + labels + " " + number(s.value) + "\n";
    }
    return out;
}

}  // namespace lbkit
