#include "dialer.hpp"

#include "log.hpp"

namespace lbproxy {

namespace {

// A group has few servers; this bounds a request's attempts all the same.
constexpr std::size_t max_attempts = 8;

std::string authority(std::string_view host, uint16_t port)
{
    std::string s;
    bool v6 = host.find(':') != std::string_view::npos;
    s.reserve(host.size() + 8);
    if (v6) s += '[';
    s.append(host);
    if (v6) s += ']';
    s += ':';
    s += std::to_string(port);
    return s;
}

}  // namespace

http::RouteFactory Dialer::factory(Context& ctx)
{
    return [&ctx](http::RouteUser& user) { return std::make_unique<Dialer>(ctx, user); };
}

Dialer::~Dialer()
{
    cancel();
}

void Dialer::reset()
{
    cancel();
    group_.clear();
    server_.clear();
    id_ = no_server;
    tried_.clear();
    tried_proxies_.clear();
    hop_ = http::UpstreamHop{};
    failures_.clear();
    last_timeout_ = false;
}

void Dialer::start(std::string_view host, uint16_t port, bool pooled)
{
    reset();
    pooled_ = pooled;
    // Host names compare without case; the tables write them in lower case.
    std::string name(host);
    for (char& ch : name)
        if (ch >= 'A' && ch <= 'Z')
            ch = char(ch + 32);
    if (ctx_.chooser.is_group(name)) {
        group_ = std::move(name);
        choose();
        return;
    }
    // DIRECT: the host as the client named it.
    target_.host = std::move(name);
    target_.port = port;
    server_ = authority(host, port);
    reach();
}

void Dialer::choose()
{
    // done may run before choose() returns; choice_ is set before it does.
    ctx_.chooser.choose(group_, tried_, choice_, [this](Choice c) { on_choice(std::move(c)); });
}

void Dialer::on_choice(Choice c)
{
    if (!c.ok()) {
        if (tried_.empty())
            return user_.dial_failed(503, c.error);
        // Every server that could be chosen failed to connect.
        return user_.dial_failed(last_timeout_ ? 504 : 502, unreachable());
    }
    id_ = c.id;
    server_ = std::move(c.server);
    target_ = std::move(c.target);
    reach();
}

// The server is known: the upstream stage says how to reach its host.
void Dialer::reach()
{
    hop_ = ctx_.relay.stages.upstream.hop(target_.host, tried_proxies_);
    if (!hop_.ok())
        return user_.dial_failed(502, hop_.error);
    // Connections to a proxy serve every server behind it; the prefix keeps
    // them apart from direct connections to the same address.
    if (hop_.via)
        proxy_key_.assign("proxy ").append(hop_.name);
    connect();
}

void Dialer::connect()
{
    const std::string& key = hop_.via ? proxy_key_ : server_;
    if (pooled_)
        if (http::UpstreamConn* conn = ctx_.relay.pool.take(key, nullptr))
            return user_.dialed(conn);
    connecting_ = ctx_.relay.pool.open(key, hop_.via ? *hop_.via : target_, this);
}

void Dialer::upstream_connected(http::UpstreamConn& conn)
{
    connecting_ = nullptr;
    user_.dialed(&conn);
}

void Dialer::upstream_failed(http::UpstreamConn& conn, http::ConnectFailure kind, const std::string& reason)
{
    std::string why = reason;  // reason lives in conn
    connecting_ = nullptr;
    ctx_.relay.pool.release(&conn, false);
    ctx_.metrics.upstream_error(kind == http::ConnectFailure::timeout ? UpstreamError::timeout : UpstreamError::connect);
    if (hop_.via)
        return proxy_failed(kind, why);
    note_failure(why);
    last_timeout_ = kind == http::ConnectFailure::timeout;
    lbkit::log::debug("connect ", server_, (group_.empty() ? "" : " (group " + group_ + ")"), ": ", why);
    if (group_.empty())
        return user_.dial_failed(last_timeout_ ? 504 : 502, "cannot connect to " + failures_ + unresolved_note(kind));
    ctx_.chooser.mark_suspect(id_);
    ctx_.chooser.server_failed(id_);
    tried_.push_back(id_);
    if (tried_.size() >= max_attempts)
        return user_.dial_failed(last_timeout_ ? 504 : 502, unreachable());
    choose();
}

// The server is not to blame: the next proxy of the rule, for the same server.
void Dialer::proxy_failed(http::ConnectFailure kind, const std::string& why)
{
    lbkit::log::debug("connect upstream proxy ", hop_.name, " for ", server_, ": ", why);
    const char* word = kind == http::ConnectFailure::refused   ? "refused"
                       : kind == http::ConnectFailure::timeout ? "timed out"
                       : kind == http::ConnectFailure::resolve ? "not resolved"
                                                               : "failed";
    ctx_.relay.stages.upstream.connect_failed(hop_, why);
    tried_proxies_.push_back({hop_.proxy, word});
    if (tried_proxies_.size() >= max_attempts)
        return user_.dial_failed(502, "no upstream proxy could be reached for " + server_ + ": " + why);
    reach();
}

std::string Dialer::unresolved_note(http::ConnectFailure kind) const
{
    if (kind != http::ConnectFailure::resolve) return "";
    std::string missing = ctx_.chooser.missing_state();
    return missing.empty() ? "" : " (" + missing + ": representative names are not known)";
}

void Dialer::redial_same()
{
    pooled_ = false;
    connect();
}

bool Dialer::redial_other(const std::string& why)
{
    if (group_.empty() || tried_.size() >= max_attempts)
        return false;
    tried_.push_back(id_);
    note_failure(why);
    choose();
    return true;
}

std::string Dialer::give_up(const std::string& why)
{
    bool first = failures_.empty();
    note_failure(why);
    return first ? "server " + failures_ : unreachable();
}

void Dialer::note_failure(const std::string& why)
{
    if (!failures_.empty())
        failures_ += "; ";
    failures_.append(server_).append(": ").append(why);
}

std::string Dialer::unreachable() const
{
    return "no server of group " + group_ + " could be reached: " + failures_;
}

void Dialer::cancel()
{
    ctx_.relay.pool.release(connecting_, false);
    connecting_ = nullptr;
    choice_.cancel();
}

}  // namespace lbproxy
