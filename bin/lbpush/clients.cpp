#include "clients.hpp"

#include <set>

#include "addr.hpp"
#include "error.hpp"
#include "table.hpp"

namespace lbpush {

namespace {

void add(std::vector<Client>& out, std::set<std::string>& seen, const std::string& name, const std::string& url)
{
    // The same proxy named twice ("h:7401" and "http://h:7401") gets one push.
    if (seen.insert(url).second)
        out.push_back({name, url});
}

}  // namespace

std::vector<Client> gather(const std::string& file, const std::vector<std::string>& args)
{
    std::vector<Client> out;
    std::set<std::string> seen;
    if (!file.empty()) {
        lbkit::table::Table t;
        try {
            t = lbkit::table::load(file);
        } catch (const lbkit::BadInput& e) {
            throw lbkit::Error(EX_DATAERR, e.what());
        }
        try {
            for (const auto& r : t.rows) {
                lbkit::table::expect_columns(t, r, 1, 1, "an admin address, host:port or http://host:port");
                try {
                    add(out, seen, r.fields[0], lbkit::http_base_url(r.fields[0]));
                } catch (const lbkit::BadInput& e) {
                    lbkit::table::fail(t, r, e.what());
                }
            }
        } catch (const lbkit::BadInput& e) {
            throw lbkit::Error(EX_DATAERR, e.what());
        }
        if (t.rows.empty())
            throw lbkit::Error(EX_DATAERR, file + ": no clients in the file");
    }
    for (const auto& a : args) {
        try {
            add(out, seen, a, lbkit::http_base_url(a));
        } catch (const lbkit::BadInput& e) {
            throw lbkit::Error(EX_USAGE, std::string("usage: client ") + e.what());
        }
    }
    if (out.empty())
        throw lbkit::Error(EX_USAGE, "usage: no client: name lbproxy admin addresses or give --clients FILE");
    return out;
}

}  // namespace lbpush
