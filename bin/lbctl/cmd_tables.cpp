// lbctl tables: the client tables an lbproxy holds (GET /v1/tables on its
// admin API), as lbpush(8) sent them.
#include <iostream>

#include "context.hpp"

namespace lbctl {

void add_tables(CLI::App& app, Context& ctx)
{
    auto* cmd = app.add_subcommand("tables", "Show the client tables lbproxy holds and their versions "
                                             "(default -s $LBKIT_PROXY, else " + std::string(default_proxy_url) + ")");
    cmd->callback([&ctx] {
        ctx.what = "tables";
        Json answer = ctx.call(Daemon::proxy, "GET", "/v1/tables");
        auto f = ctx.output();
        if (f == lbkit::output::Format::json) {
            print_json(answer);
            return;
        }
        std::vector<lbkit::output::Row> rows;
        for (const auto& t : answer.at("tables")) {
            int64_t ms = t.value("updated_ms", int64_t{0});
            rows.push_back({t.value("name", ""), std::to_string(t.value("version", int64_t{0})),
                            std::to_string(t.value("rows", int64_t{0})),
                            f == lbkit::output::Format::table ? local_time(ms) : utc_time(ms)});
        }
        lbkit::output::print(std::cout, f, {"TABLE", "VERSION", "ROWS", "UPDATED"}, rows);
    });
}

}  // namespace lbctl
