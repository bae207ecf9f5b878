// lbctl subscribers: who receives the state from lbstated, and how it goes.
#include <iostream>

#include "context.hpp"

namespace lbctl {

void add_subscribers(CLI::App& app, Context& ctx)
{
    auto* sub = app.add_subcommand("subscribers", "List the proxies lbstated pushes the state to");
    sub->callback([&ctx] {
        ctx.what = "subscribers";
        Json list = ctx.call(Daemon::stated, "GET", "/v1/subscribers");
        if (ctx.output() == lbkit::output::Format::json) {
            print_json(list);
            return;
        }
        std::vector<lbkit::output::Row> rows;
        for (const auto& s : list) {
            std::string mode = s.value("mode", "");
            std::string interval = mode == "periodic" ? std::to_string(s.value("interval_ms", 0)) + "ms" : "-";
            rows.push_back({std::to_string(s.value("id", 0)), s.value("url", ""), mode, interval,
                            std::to_string(s.value("delivered_version", 0)), std::to_string(s.value("failures", 0)),
                            s.value("last_error", std::string("-"))});
        }
        lbkit::output::print(std::cout, ctx.output(),
                             {"ID", "URL", "MODE", "INTERVAL", "DELIVERED", "FAILURES", "LAST_ERROR"}, rows);
    });
}

}  // namespace lbctl
