#include "probe.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

#include "clock.hpp"
#include "duration.hpp"
#include "error.hpp"
#include "log.hpp"

namespace lbsniff {

using lbkit::Millis;

struct Prober::TcpProbe {
    Prober* owner;
    std::string name;
    lbkit::ev::BufferEventPtr bev;
};

namespace {

std::string endpoint_text(const Endpoint& e)
{
    char ip[64];
    format_addr(e, ip, sizeof ip);
    std::string host = ip;
    if (host.find(':') != std::string::npos)
        host = "[" + host + "]";
    return host + ":" + std::to_string(e.port);
}

socklen_t to_sockaddr(const Endpoint& e, sockaddr_storage& ss)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    std::memset(&ss, 0, sizeof ss);
    if (std::memcmp(e.addr.data(), mapped, 12) == 0) {
        auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
        sin->sin_family = AF_INET;
        sin->sin_port = htons(e.port);
        std::memcpy(&sin->sin_addr, e.addr.data() + 12, 4);
        return sizeof *sin;
    }
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(e.port);
    std::memcpy(&sin6->sin6_addr, e.addr.data(), 16);
    return sizeof *sin6;
}

}  // namespace

Prober::Prober(lbkit::Loop& loop, lbkit::httpc::Client& http, Engine& engine, Probe probe, Millis interval)
    : loop_(loop), http_(http), engine_(engine), probe_(std::move(probe)), interval_(interval),
      timer_(loop, [this] { tick(); })
{
    timer_.start(std::min(interval_, Millis{1000}), true);
}

Prober::~Prober() = default;

void Prober::set_targets(const std::vector<ServerSpec>& servers)
{
    targets_.clear();
    for (const auto& s : servers)
        targets_.push_back({s.name, s.endpoints});
}

void Prober::tick()
{
    Micros now = lbkit::unix_us();
    Micros quiet = Micros(interval_.count()) * 1000;
    for (std::size_t i = 0; i < engine_.servers() && i < targets_.size(); ++i) {
        if (now - engine_.last_evidence(i) < quiet || in_flight_[targets_[i].name] > 0)
            continue;
        probe(targets_[i]);
    }
}

void Prober::probe(const Target& t)
{
    for (const Endpoint& e : t.endpoints) {
        ++in_flight_[t.name];
        if (probe_.kind == Probe::tcp)
            probe_tcp(t.name, e);
        else
            probe_http(t.name, e);
    }
}

void Prober::probe_tcp(const std::string& name, const Endpoint& e)
{
    auto p = std::make_unique<TcpProbe>();
    p->owner = this;
    p->name = name;
    p->bev.reset(bufferevent_socket_new(loop_.base(), -1, BEV_OPT_CLOSE_ON_FREE));
    sockaddr_storage ss;
    socklen_t len = to_sockaddr(e, ss);
    Millis limit = std::min(interval_, Millis{5000});
    timeval tv = lbkit::to_timeval(limit);
    TcpProbe* raw = p.get();
    bufferevent_setcb(raw->bev.get(), nullptr, nullptr, &Prober::tcp_event, raw);
    bufferevent_set_timeouts(raw->bev.get(), &tv, &tv);
    bufferevent_enable(raw->bev.get(), EV_READ | EV_WRITE);
    tcp_.emplace(raw, std::move(p));
    if (bufferevent_socket_connect(raw->bev.get(), reinterpret_cast<sockaddr*>(&ss), int(len)) < 0) {
        tcp_.erase(raw);
        result(name, false, "connect to " + endpoint_text(e) + " failed at once");
    }
}

void Prober::tcp_event(bufferevent*, short what, void* arg)
{
    auto* p = static_cast<TcpProbe*>(arg);
    Prober* self = p->owner;
    std::string name = p->name;
    bool ok = what & BEV_EVENT_CONNECTED;
    std::string why = ok ? "" : (what & BEV_EVENT_TIMEOUT) ? "connect timed out"
                                                            : lbkit::errno_text(EVUTIL_SOCKET_ERROR());
    self->tcp_.erase(p);  // frees the bufferevent: not touched after this
    self->result(name, ok, why);
}

void Prober::probe_http(const std::string& name, const Endpoint& e)
{
    lbkit::httpc::Request req;
    req.url = "http://" + endpoint_text(e) + probe_.path;
    req.headers.push_back("Host: " + name);
    req.timeout = std::min(interval_, Millis{5000});
    req.connect_timeout = req.timeout;
    http_.start(std::move(req), [this, name](const lbkit::httpc::Result& r) {
        // As HAProxy's httpchk: 2xx and 3xx pass, anything else fails.
        bool ok = r.error.empty() && r.status >= 200 && r.status < 400;
        result(name, ok, r.describe());
    });
}

void Prober::result(const std::string& name, bool ok, const std::string& why)
{
    if (--in_flight_[name] <= 0)
        in_flight_.erase(name);
    for (std::size_t i = 0; i < engine_.servers(); ++i) {
        if (engine_.name(i) != name)
            continue;
        lbkit::log::debug("probe ", name, ": ", ok ? "ok" : why);
        engine_.evidence(i, ok ? Evidence::probe_ok : Evidence::probe_failed, lbkit::unix_us());
        return;
    }
}

}  // namespace lbsniff
