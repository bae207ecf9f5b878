#include "report.hpp"

#include <iostream>

#include <nlohmann/json.hpp>

#include "api.hpp"
#include "error.hpp"

namespace lbpush {

namespace {

using lbkit::output::Format;

bool good(const Outcome& o)
{
    return o.status == Status::ok || o.status == Status::push;
}

void print_lines(const std::vector<const Outcome*>& shown, Format format)
{
    if (format == Format::json) {
        for (const Outcome* o : shown) {
            nlohmann::json j = {{"client", o->client}, {"url", o->url}, {"status", status_name(o->status)},
                                {"version", o->version ? nlohmann::json(*o->version) : nlohmann::json(nullptr)},
                                {"ms", o->ms}, {"attempts", o->attempts}, {"reason", o->reason}};
            std::cout << lbkit::api::dump(j) << "\n";
        }
        return;
    }
    std::vector<lbkit::output::Row> rows;
    for (const Outcome* o : shown)
        rows.push_back({o->client, status_name(o->status), o->version ? std::to_string(*o->version) : "-",
                        std::to_string(o->ms), o->reason});
    lbkit::output::print(std::cout, format, {"CLIENT", "STATUS", "VERSION", "MS", "REASON"}, rows);
}

// "3 clients: 2 ok, 1 failed"; a dry run says what it would do.
std::string summary(const std::vector<Outcome>& outcomes, const Plan& plan)
{
    std::size_t count[4] = {};
    for (const auto& o : outcomes) ++count[static_cast<int>(o.status)];
    std::string out = std::to_string(outcomes.size()) + (outcomes.size() == 1 ? " client" : " clients") + ":";
    std::string sep = " ";
    auto part = [&](Status s, const std::string& words) {
        if (count[static_cast<int>(s)] == 0) return;
        out += sep + std::to_string(count[static_cast<int>(s)]) + " " + words;
        sep = ", ";
    };
    part(Status::ok, plan.dry_run ? "already hold it" : "ok");
    part(Status::push, "would take it");
    part(Status::refused, plan.dry_run ? "would refuse it" : "refused");
    part(Status::failed, "failed");
    out += " (" + plan.table + " version " + std::to_string(plan.version) + (plan.dry_run ? "; dry run, nothing pushed)" : ")");
    return out;
}

}  // namespace

int report(const std::vector<Outcome>& outcomes, const Plan& plan, Format format, bool quiet)
{
    bool all_good = true;
    std::vector<const Outcome*> shown;
    for (const auto& o : outcomes) {
        all_good = all_good && good(o);
        if (!quiet || !good(o)) shown.push_back(&o);
    }
    if (quiet && all_good) return 0;
    print_lines(shown, format);
    std::cout.flush();
    std::cerr << "lbpush: " << summary(outcomes, plan) << "\n";
    return all_good ? 0 : lbkit::EX_PARTIAL;
}

}  // namespace lbpush
