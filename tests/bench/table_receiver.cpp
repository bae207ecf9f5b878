// Receiver for the lbpush benchmark: one libevent process holding many HTTP
// listeners on loopback, each answering PUT /v1/tables/NAME as lbproxy's
// admin API does (200 for a newer version, 409 with the version in force
// otherwise, 400 for a body without a version), so lbpush meets a
// thousand proxies without a thousand processes. Writes the listeners'
// addresses, one per line, to --clients once all are bound.
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "ev.hpp"
#include "fd_limit.hpp"

namespace {

struct Listener {
    lbkit::ev::HttpPtr http;
    uint16_t port = 0;
    int64_t version = 0;  // of the table held, 0 for none
};

void answer(evhttp_request* req, int status, const nlohmann::json& body)
{
    std::string text = body.dump();
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    evbuffer_add(evhttp_request_get_output_buffer(req), text.data(), text.size());
    evhttp_send_reply(req, status, status == 200 ? "OK" : "Refused", nullptr);
}

void on_request(evhttp_request* req, void* arg)
{
    auto* l = static_cast<Listener*>(arg);
    evbuffer* in = evhttp_request_get_input_buffer(req);
    std::string text(evbuffer_get_length(in), '\0');
    evbuffer_copyout(in, text.data(), text.size());
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (evhttp_request_get_command(req) != EVHTTP_REQ_PUT || !j.is_object() || !j.contains("version") ||
        !j["version"].is_number_integer()) {
        answer(req, 400, {{"error", "expected PUT {\"version\":N,\"table\":\"...\"}"}});
        return;
    }
    int64_t v = j["version"].get<int64_t>();
    if (v <= l->version && !j.value("force", false)) {
        answer(req, 409, {{"error", "version " + std::to_string(v) + " is not newer than version " +
                                        std::to_string(l->version) + " in force"},
                          {"version", l->version}});
        return;
    }
    l->version = v;
    answer(req, 200, {{"version", v}});
}

}  // namespace

int main(int argc, char** argv)
{
    CLI::App app{"table_receiver: many lbproxy-like admin APIs for lbpush", "table_receiver"};
    int count = 1000;
    std::string clients;
    app.add_option("--listeners", count, "listeners to open")->check(CLI::Range(1, 15000));
    app.add_option("--clients", clients, "write their addresses here")->required();
    CLI11_PARSE(app, argc, argv);
    lbkit::raise_open_files();
    lbkit::ev::BasePtr base(event_base_new());
    std::vector<std::unique_ptr<Listener>> listeners;
    for (int i = 0; i < count; ++i) {
        auto l = std::make_unique<Listener>();
        l->http.reset(evhttp_new(base.get()));
        evhttp_bound_socket* bound = l->http ? evhttp_bind_socket_with_handle(l->http.get(), "127.0.0.1", 0) : nullptr;
        if (!bound) {
            std::cerr << "table_receiver: listener " << i << ": cannot bind 127.0.0.1 (open files limit?)\n";
            return 1;
        }
        sockaddr_in sa{};
        socklen_t len = sizeof sa;
        getsockname(evhttp_bound_socket_get_fd(bound), reinterpret_cast<sockaddr*>(&sa), &len);
        l->port = ntohs(sa.sin_port);
        evhttp_set_allowed_methods(l->http.get(), EVHTTP_REQ_PUT | EVHTTP_REQ_GET);
        evhttp_set_gencb(l->http.get(), on_request, l.get());
        listeners.push_back(std::move(l));
    }
    // Written aside and renamed: the script sees the whole list or none.
    {
        std::ofstream out(clients + ".tmp");
        for (const auto& l : listeners) out << "127.0.0.1:" << l->port << "\n";
    }
    std::rename((clients + ".tmp").c_str(), clients.c_str());
    event_base_dispatch(base.get());
    return 0;
}
