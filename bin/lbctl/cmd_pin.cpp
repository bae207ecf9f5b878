// lbctl pin | unpin | drain | undrain SERVER: maintenance of one server.
// Each is idempotent: pinning a pinned server succeeds.
#include <iostream>

#include "api.hpp"
#include "cli.hpp"
#include "context.hpp"
#include "httpd.hpp"

namespace lbctl {
namespace {

struct PinArgs {
    std::string server;
    std::string state;
    std::optional<double> load;
    std::optional<double> ratio;
};

void print_server(Context& ctx, const Json& j)
{
    if (ctx.output() == lbkit::output::Format::json) {
        print_json(j);
        return;
    }
    std::string flags;
    if (j.value("pinned", false)) flags = "pinned";
    if (j.value("draining", false)) flags += flags.empty() ? "draining" : ",draining";
    // Every group the change applies in: a server may serve several.
    std::string groups;
    for (const auto& g : j.value("groups", Json::array()))
        groups += (groups.empty() ? "" : ",") + g.get<std::string>();
    lbkit::output::print(std::cout, ctx.output(), {"SERVER", "STATE", "FLAGS", "GROUPS"},
                         {{j.value("server", ""), j.value("state", ""), flags.empty() ? "-" : flags,
                           groups.empty() ? "-" : groups}});
}

void call_server(Context& ctx, const char* verb, const std::string& method, const std::string& server,
                 const char* resource, const std::optional<Json>& body)
{
    ctx.what = std::string(verb) + " " + server;
    std::string path = "/v1/servers/" + lbkit::httpd::url_encode(server) + "/" + resource;
    print_server(ctx, ctx.call(Daemon::stated, method, path, body));
}

CLI::App* server_command(CLI::App& app, const char* name, const char* help, std::string& server)
{
    auto* sub = app.add_subcommand(name, help);
    sub->add_option("server", server, "Server as the groups table names it (host:port)")->required();
    return sub;
}

}  // namespace

void add_pin(CLI::App& app, Context& ctx)
{
    auto a = std::make_shared<PinArgs>();
    auto* pin = server_command(app, "pin", "Pin a server: its state (and load, ratio) no longer follow reports",
                               a->server);
    pin->add_option("--state", a->state, "up or down (default down)")->check(CLI::IsMember({"up", "down"}));
    pin->add_option("--load", a->load, "Load to use instead of the reported one")->check(lbkit::cli::non_negative);
    pin->add_option("--ratio", a->ratio, "Ratio to use instead of the groups table's")->check(lbkit::cli::positive);
    pin->callback([&ctx, a] {
        lbkit::api::Pin p;
        if (!a->state.empty()) p.state = lbkit::api::state_from_string(a->state, "--state");
        p.load = a->load;
        p.ratio = a->ratio;
        if (!p.state && !p.load && !p.ratio)
            p.state = lbkit::api::State::down;
        call_server(ctx, "pin", "PUT", a->server, "pin", lbkit::api::to_json(p));
    });

    struct Simple { const char* name; const char* help; const char* method; const char* resource; };
    static const Simple simple[] = {
        {"unpin", "Release a pin: the server follows reports again", "DELETE", "pin"},
        {"drain", "No new selections of the server; open sessions keep it", "PUT", "drain"},
        {"undrain", "End a drain", "DELETE", "drain"},
    };
    for (const auto& s : simple) {
        auto server = std::make_shared<std::string>();
        auto* sub = server_command(app, s.name, s.help, *server);
        sub->callback([&ctx, server, &s] { call_server(ctx, s.name, s.method, *server, s.resource, std::nullopt); });
    }
}

}  // namespace lbctl
