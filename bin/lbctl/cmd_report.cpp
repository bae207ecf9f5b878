// lbctl report [FILE|-]: loads and states read as lines and posted to
// lbstated's POST /v1/reports, as lbsniff --report would post them. Takes
// what lbsniff --stdout prints, so a capture can be measured in one place
// and reported from another, and hand-written "server load state" lines.
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <set>
#include <string_view>

#include "api.hpp"
#include "cli.hpp"
#include "context.hpp"
#include "error.hpp"
#include "table.hpp"

namespace lbctl {
namespace {

namespace api = lbkit::api;
using lbkit::Millis;

struct ReportOptions {
    std::string notifier;
    Millis interval{1000};
    std::string file = "-";
};

// Servers per POST: lbstated takes far more, but a smaller body keeps each
// request short and an error's reach small.
constexpr std::size_t max_batch = 500;
// A pipe that stays quiet this long has finished an interval: post it.
constexpr int idle_ms = 200;

// The lines of a file or of standard input, read as they come so that the
// output of a running lbsniff is posted interval by interval.
class Lines {
public:
    enum class Got { line, idle, end };

    explicit Lines(int fd) : fd_(fd) {}

    // A line without its newline; `idle` when nothing complete arrived for
    // idle_ms. A line longer than table::max_line comes cut, its rest dropped.
    Got next(std::string& out)
    {
        for (;;) {
            if (take(out))
                return Got::line;
            if (eof_) {
                if (buf_.empty() || skipping_)
                    return Got::end;
                out.swap(buf_);
                buf_.clear();
                return Got::line;
            }
            pollfd p{fd_, POLLIN, 0};
            int n = poll(&p, 1, idle_ms);
            if (n == 0)
                return Got::idle;
            if (n < 0) {
                if (errno == EINTR) continue;
                throw lbkit::Error(EX_IOERR, "poll: " + lbkit::errno_text(errno));
            }
            char chunk[65536];
            ssize_t r = read(fd_, chunk, sizeof chunk);
            if (r < 0) {
                if (errno == EINTR || errno == EAGAIN) continue;
                throw lbkit::Error(EX_IOERR, "read: " + lbkit::errno_text(errno));
            }
            if (r == 0)
                eof_ = true;
            buf_.append(chunk, static_cast<std::size_t>(r));
        }
    }

private:
    bool take(std::string& out)
    {
        for (;;) {
            std::size_t nl = buf_.find('\n');
            if (skipping_) {
                if (nl == std::string::npos) {
                    buf_.clear();
                    return false;
                }
                buf_.erase(0, nl + 1);
                skipping_ = false;
                continue;
            }
            if (nl == std::string::npos) {
                if (buf_.size() <= lbkit::table::max_line)
                    return false;
                out = buf_.substr(0, lbkit::table::max_line + 1);
                buf_.clear();
                skipping_ = true;
                return true;
            }
            out = buf_.substr(0, nl);
            buf_.erase(0, nl + 1);
            return true;
        }
    }

    int fd_;
    std::string buf_;
    bool eof_ = false;
    bool skipping_ = false;  // dropping the rest of an over-long line
};

bool all_digits(std::string_view s)
{
    return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

// A load as lbsniff prints it: a plain decimal number of 0 or more.
double parse_load(std::string_view s)
{
    std::string text(s);
    bool shape = !text.empty() && text.find_first_not_of("0123456789.") == std::string::npos &&
                 std::isdigit(static_cast<unsigned char>(text[0]));
    char* end = nullptr;
    double v = shape ? std::strtod(text.c_str(), &end) : -1;
    if (!shape || *end != '\0' || !std::isfinite(v) || v > 1e15)
        throw lbkit::BadInput("load '" + text + "': not a number of 0 or more");
    return v;
}

api::State parse_state(std::string_view s)
{
    if (s == "up") return api::State::up;
    if (s == "down") return api::State::down;
    if (s == "unknown") return api::State::unknown;
    throw lbkit::BadInput("state '" + std::string(s) + "': not up, down or unknown");
}

std::string parse_server(std::string_view s)
{
    if (s.size() > 300)
        throw lbkit::BadInput("server name longer than 300 characters");
    return std::string(s);
}

// One line: the server's report, and the block it belongs to (the interval
// start of an lbsniff line; empty for a "server load state" line). No
// value for a blank or comment line; BadInput with the reason for a bad one.
struct Parsed {
    std::string block;
    api::ServerReport server;
};

std::optional<Parsed> parse_line(std::string_view raw)
{
    std::vector<std::string_view> f = lbkit::table::split_line(raw);
    if (f.empty())
        return std::nullopt;
    Parsed p;
    if (f.size() == 3) {
        p.server = {parse_server(f[0]), parse_load(f[1]), parse_state(f[2])};
        return p;
    }
    if (f.size() == 8) {
        // lbsniff --stdout: time server state load packets bytes conns reqs
        auto dot = f[0].find('.');
        if (!all_digits(f[0].substr(0, dot)) || (dot != std::string_view::npos && !all_digits(f[0].substr(dot + 1))))
            throw lbkit::BadInput("time '" + std::string(f[0]) + "': not Unix seconds");
        for (std::size_t k = 4; k < 8; ++k)
            if (!all_digits(f[k]))
                throw lbkit::BadInput("count '" + std::string(f[k]) + "': not a whole number of 0 or more");
        p.block = std::string(f[0]);
        p.server = {parse_server(f[1]), parse_load(f[3]), parse_state(f[2])};
        return p;
    }
    throw lbkit::BadInput("expected 3 columns (server load state) or the 8 of lbsniff --stdout "
                          "(time server state load packets bytes conns reqs), got " + std::to_string(f.size()));
}

// Posts the servers of one block (one interval of lbsniff) together, in the
// order read, so that the last line about a server wins as with lbsniff.
class Poster {
public:
    Poster(Context& ctx, const ReportOptions& o) : ctx_(ctx), o_(o) {}

    void add(Parsed p)
    {
        if (!batch_.empty() && p.block != block_)
            flush();
        block_ = std::move(p.block);
        batch_.push_back(std::move(p.server));
        if (batch_.size() >= max_batch)
            flush();
    }

    void flush()
    {
        if (batch_.empty())
            return;
        api::Report r{o_.notifier, o_.interval.count(), std::move(batch_)};
        batch_.clear();
        Json answer;
        try {
            answer = ctx_.call(Daemon::stated, "POST", "/v1/reports", api::to_json(r));
        } catch (const lbkit::Error& e) {
            // A report naming only servers lbstated does not know: say so and
            // go on with the rest; a wrong token or no lbstated ends it all.
            if (e.exit_code() != EX_DATAERR)
                throw;
            std::cerr << "lbctl: " << e.what() << "\n";
            failed_ = true;
            return;
        }
        if (answer.is_object() && answer.contains("ignored") && answer["ignored"].is_array())
            for (const auto& name : answer["ignored"])
                if (name.is_string() && ignored_.insert(name.get<std::string>()).second) {
                    std::cerr << "lbctl: " << ctx_.what << ": " << ctx_.url(Daemon::stated) << ": server '"
                              << name.get<std::string>() << "' is not in the groups table: ignored\n";
                    failed_ = true;
                }
    }

    bool failed() const { return failed_; }

private:
    Context& ctx_;
    const ReportOptions& o_;
    std::vector<api::ServerReport> batch_;
    std::string block_;
    std::set<std::string> ignored_;
    bool failed_ = false;
};

std::string host_name()
{
    char buf[256] = {};
    if (gethostname(buf, sizeof buf - 1) != 0 || !buf[0])
        return "localhost";
    return buf;
}

int run_report(Context& ctx, ReportOptions o)
{
    ctx.what = "report";
    if (o.notifier.empty())
        o.notifier = "lbctl@" + host_name();
    const bool std_in = o.file == "-";
    const std::string source = std_in ? "stdin" : o.file;
    int fd = std_in ? STDIN_FILENO : ::open(o.file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        throw lbkit::Error(EX_NOINPUT, o.file + ": " + lbkit::errno_text(errno));
    struct Closer {
        int fd;
        bool own;
        ~Closer() { if (own) ::close(fd); }
    } closer{fd, !std_in};

    Lines lines(fd);
    Poster poster(ctx, o);
    bool bad = false;
    int number = 0;
    std::string line;
    for (;;) {
        auto got = lines.next(line);
        if (got == Lines::Got::end)
            break;
        if (got == Lines::Got::idle) {
            poster.flush();
            continue;
        }
        ++number;
        try {
            if (auto p = parse_line(line))
                poster.add(std::move(*p));
        } catch (const lbkit::BadInput& e) {
            std::cerr << "lbctl: " << source << ":" << number << ": " << e.what() << "\n";
            bad = true;
        }
    }
    poster.flush();
    return bad || poster.failed() ? EX_DATAERR : 0;
}

}  // namespace

void add_report(CLI::App& app, Context& ctx)
{
    auto* sub = app.add_subcommand("report", "Send loads and states read as lines (lbsniff --stdout) to lbstated");
    auto o = std::make_shared<ReportOptions>();
    sub->add_option("file", o->file, "File of lines 'server load state' or of lbsniff --stdout (\"-\" or none: standard input)");
    sub->add_option("-n,--notifier", o->notifier, "Name in the reports (default: lbctl@ the host name)")->type_name("NAME");
    lbkit::cli::add_duration(*sub, "--interval", o->interval,
                             "Interval the loads stand for, as the --interval of lbsniff (lbstated marks a server "
                             "unknown after 3 intervals without a report)");
    sub->callback([&ctx, o] {
        if (o->interval < Millis(1) || o->interval > Millis(86'400'000))
            throw CLI::ValidationError("--interval", "from 1ms to 24h");
        ctx.exit_code = run_report(ctx, *o);
    });
}

}  // namespace lbctl
