#include "client_tables.hpp"

#include <iconv.h>

#include <cctype>
#include <functional>
#include <map>
#include <set>

#include "addr.hpp"
#include "error.hpp"
#include "table.hpp"

namespace lbkit::client_tables {

using table::Row;
using table::Table;

namespace {

bool host_char(char c)
{
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
}

// Host names compare in ASCII lower case (not the locale's).
std::string lower(std::string s)
{
    for (char& c : s)
        if (c >= 'A' && c <= 'Z') c = char(c + ('a' - 'A'));
    return s;
}

// A DNS name or an IPv4 literal (no port): what a URL's host can be.
bool valid_host(const std::string& h)
{
    if (h.empty() || h.size() > 253 || h.front() == '.' || h.find("..") != std::string::npos) return false;
    for (char c : h)
        if (!host_char(c)) return false;
    return true;
}

// host[:port] through the shared parser, with the host checked as above.
HostPort check_host_port(const Table& t, const Row& r, const std::string& what, const std::string& text,
                         uint16_t default_port)
{
    HostPort hp;
    try {
        hp = parse_host_port(text, default_port);
    } catch (const BadInput& e) {
        table::fail(t, r, what + ": " + e.what());
    }
    if (!valid_host(hp.host) && hp.host.find(':') == std::string::npos)
        table::fail(t, r, what + ": bad host '" + hp.host + "'");
    return hp;
}

// Each row checked and turned into a rule; the rules in table order.
std::vector<ProxyRule> proxymap_rules(const Table& t)
{
    std::vector<ProxyRule> rules;
    std::map<std::string, int> seen;
    for (const Row& r : t.rows) {
        table::expect_columns(t, r, 2, 2, "pattern proxy[,proxy...]|DIRECT");
        ProxyRule& rule = rules.emplace_back();
        rule.line = r.line;
        rule.pattern = lower(r.fields[0]);
        std::string host = rule.pattern.rfind("*.", 0) == 0 ? rule.pattern.substr(2) : rule.pattern;
        if (rule.pattern != "*" && !valid_host(host))
            table::fail(t, r, "bad pattern '" + r.fields[0] + "' (a host, *.domain or *)");
        auto [it, fresh] = seen.emplace(rule.pattern, r.line);
        if (!fresh)
            table::fail(t, r, "pattern '" + r.fields[0] + "' repeats line " + std::to_string(it->second));
        const std::string& proxies = r.fields[1];
        rule.direct = proxies == "DIRECT";
        if (rule.direct) continue;
        std::size_t start = 0;
        for (;;) {
            std::size_t comma = proxies.find(',', start);
            std::string p = proxies.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
            if (p.empty()) table::fail(t, r, "empty proxy in '" + proxies + "'");
            if (p == "DIRECT") table::fail(t, r, "DIRECT cannot be mixed with proxies");
            ProxyEntry& e = rule.proxies.emplace_back();
            e.address = check_host_port(t, r, "proxy '" + p + "'", p, default_proxy_port);
            e.name = e.address.str();
            e.port_given = p.find(':') != std::string::npos;
            e.text = p;
            if (comma == std::string::npos) break;
            start = comma + 1;
        }
    }
    return rules;
}

void check_proxymap(const Table& t)
{
    proxymap_rules(t);
}

bool iconv_knows(const std::string& charset)
{
    iconv_t cd = iconv_open("UTF-8", charset.c_str());
    if (cd == reinterpret_cast<iconv_t>(-1)) return false;
    iconv_close(cd);
    cd = iconv_open(charset.c_str(), "UTF-8");
    if (cd == reinterpret_cast<iconv_t>(-1)) return false;
    iconv_close(cd);
    return true;
}

void check_charsets(const Table& t)
{
    std::map<std::string, int> seen;
    for (const Row& r : t.rows) {
        table::expect_columns(t, r, 2, 2, "host charset");
        if (!valid_host(r.fields[0])) table::fail(t, r, "bad host '" + r.fields[0] + "'");
        auto [it, fresh] = seen.emplace(r.fields[0], r.line);
        if (!fresh)
            table::fail(t, r, "host '" + r.fields[0] + "' repeats line " + std::to_string(it->second));
        if (!iconv_knows(r.fields[1]))
            table::fail(t, r, "unknown charset '" + r.fields[1] + "' (iconv cannot convert it)");
    }
}

void check_sessions(const Table& t)
{
    std::map<std::string, int> seen;
    for (const Row& r : t.rows) {
        table::expect_columns(t, r, 3, 4, "site start-path end-path [master]");
        check_host_port(t, r, "site '" + r.fields[0] + "'", r.fields[0], http_port);
        for (int i : {1, 2})
            if (r.fields[i].empty() || r.fields[i][0] != '/')
                table::fail(t, r, "path '" + r.fields[i] + "' must start with /");
        if (r.fields[1] == r.fields[2]) table::fail(t, r, "start-path and end-path are the same");
        if (r.fields.size() == 4) check_host_port(t, r, "master '" + r.fields[3] + "'", r.fields[3], http_port);
        std::string key = r.fields[0] + " " + r.fields[1];
        auto [it, fresh] = seen.emplace(key, r.line);
        if (!fresh)
            table::fail(t, r, "site and start-path '" + key + "' repeat line " + std::to_string(it->second));
    }
}

const std::map<std::string, std::function<void(const Table&)>>& checks()
{
    static const std::map<std::string, std::function<void(const Table&)>> table = {
        {"proxymap", check_proxymap},
        {"charsets", check_charsets},
        {"sessions", check_sessions},
    };
    return table;
}

}  // namespace

const std::vector<std::string>& names()
{
    static const std::vector<std::string> all = {"proxymap", "charsets", "sessions"};
    return all;
}

bool known(const std::string& name)
{
    return checks().count(name) != 0;
}

std::vector<ProxyRule> parse_proxymap(const std::string& text, const std::string& source)
{
    return proxymap_rules(table::parse(text, source));
}

std::size_t validate(const std::string& name, const std::string& text, const std::string& source)
{
    auto check = checks().find(name);
    if (check == checks().end()) throw BadInput("no table '" + name + "'");
    Table t = table::parse(text, source.empty() ? name : source);
    check->second(t);
    return t.rows.size();
}

}  // namespace lbkit::client_tables
