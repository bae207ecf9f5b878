#include "capture.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "decode.hpp"
#include "error.hpp"
#include "log.hpp"

namespace lbsniff {

using lbkit::Error;

// A pipe read through our own buffer behind an unbuffered stdio stream:
// libpcap's freads land here, and ready() can tell that bytes are waiting
// even when the descriptor itself is drained.
struct Capture::StreamInput {
    int fd = -1;
    bool own_fd = false;
    std::vector<char> buf = std::vector<char>(1 << 18);
    std::size_t pos = 0, end = 0;

    ~StreamInput()
    {
        if (own_fd && fd >= 0)
            close(fd);
    }

    static ssize_t read_cb(void* cookie, char* out, std::size_t n)
    {
        auto* s = static_cast<StreamInput*>(cookie);
        if (s->pos == s->end) {
            ssize_t r;
            do {
                r = ::read(s->fd, s->buf.data(), s->buf.size());
            } while (r < 0 && errno == EINTR);
            if (r <= 0)
                return r;
            s->pos = 0;
            s->end = std::size_t(r);
        }
        std::size_t take = std::min(n, s->end - s->pos);
        std::memcpy(out, s->buf.data() + s->pos, take);
        s->pos += take;
        return ssize_t(take);
    }
    static int close_cb(void*) { return 0; }  // the StreamInput owns the fd
};

namespace {

std::string where(const std::string& path) { return path == "-" ? "standard input" : path; }

[[noreturn]] void open_failed(const std::string& path, int err)
{
    int code = err == ENOENT || err == ENOTDIR ? EX_NOINPUT : err == EACCES || err == EPERM ? EX_NOPERM : EX_IOERR;
    throw Error(code, "read " + where(path) + ": " + lbkit::errno_text(err));
}

// Maps pcap_activate's failures to exit codes and sentences.
[[noreturn]] void activate_failed(pcap_t* p, const std::string& iface, int rc)
{
    std::string why = pcap_geterr(p);
    std::string what = "capture on " + iface + ": ";
    switch (rc) {
    case PCAP_ERROR_PERM_DENIED:
    case PCAP_ERROR_PROMISC_PERM_DENIED:
        throw Error(EX_NOPERM, what + "no permission to capture (run as root, or give lbsniff the "
                                      "CAP_NET_RAW and CAP_NET_ADMIN capabilities): " + why);
    case PCAP_ERROR_NO_SUCH_DEVICE:
        throw Error(EX_NOINPUT, what + "no such interface" + (why.empty() ? "" : ": " + why));
    case PCAP_ERROR_IFACE_NOT_UP:
        throw Error(EX_UNAVAILABLE, what + "the interface is down");
    default:
        throw Error(EX_UNAVAILABLE, what + (why.empty() ? pcap_statustostr(rc) : why));
    }
}

// Offline packets pass through here so the filter runs per packet we read,
// not inside pcap_dispatch, which would block on a pipe until a packet matches.
struct Filtered {
    const bpf_program* program;
    pcap_handler fn;
    u_char* user;
    static void cb(u_char* arg, const pcap_pkthdr* h, const u_char* bytes)
    {
        auto* f = reinterpret_cast<Filtered*>(arg);
        if (!f->program || pcap_offline_filter(f->program, h, bytes))
            f->fn(f->user, h, bytes);
    }
};

}  // namespace

void Capture::ProgramFree::operator()(bpf_program* p) const
{
    pcap_freecode(p);
    delete p;
}

Capture::Capture(Capture&& o) noexcept { *this = std::move(o); }

Capture& Capture::operator=(Capture&& o) noexcept
{
    if (this != &o) {
        if (pcap_)
            pcap_close(pcap_);
        pcap_ = o.pcap_;
        o.pcap_ = nullptr;
        input_ = std::move(o.input_);
        program_ = std::move(o.program_);
        name_ = std::move(o.name_);
        dlt_ = o.dlt_;
        live_ = o.live_;
        at_end_ = o.at_end_;
    }
    return *this;
}

Capture::~Capture()
{
    if (pcap_)
        pcap_close(pcap_);  // closes the FILE; input_ (declared first) goes after
}

Capture Capture::open_live(const LiveSettings& s)
{
    Capture c;
    c.live_ = true;
    c.name_ = s.interface;
    char err[PCAP_ERRBUF_SIZE] = {};
    c.pcap_ = pcap_create(s.interface.c_str(), err);
    if (!c.pcap_)
        throw Error(EX_UNAVAILABLE, "capture on " + s.interface + ": " + err);
    pcap_set_snaplen(c.pcap_, s.snaplen);
    pcap_set_promisc(c.pcap_, s.promisc ? 1 : 0);
    pcap_set_buffer_size(c.pcap_, int(s.buffer_bytes));
    // Immediate mode: a SYN is seen when it passes, not when a block fills.
    pcap_set_immediate_mode(c.pcap_, 1);
    int rc = pcap_activate(c.pcap_);
    if (rc < 0)
        activate_failed(c.pcap_, s.interface, rc);
    if (rc > 0)
        lbkit::log::warn("capture on ", s.interface, ": ", pcap_statustostr(rc), ": ", pcap_geterr(c.pcap_));
    if (pcap_setnonblock(c.pcap_, 1, err) < 0)
        throw Error(EX_UNAVAILABLE, "capture on " + s.interface + ": " + err);
    c.check_link();
    return c;
}

Capture Capture::open_offline(const std::string& path)
{
    Capture c;
    c.name_ = where(path);
    int fd = path == "-" ? STDIN_FILENO : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        open_failed(path, errno);
    struct stat st{};
    fstat(fd, &st);
    FILE* fp = nullptr;
    if (S_ISREG(st.st_mode)) {
        // A regular file never blocks: plain buffered stdio, as tcpdump reads.
        fp = fdopen(fd, "rb");
        if (fp)
            setvbuf(fp, nullptr, _IOFBF, 1 << 20);
    } else {
        c.input_ = std::make_unique<StreamInput>();
        c.input_->fd = fd;
        c.input_->own_fd = path != "-";
        cookie_io_functions_t io{&StreamInput::read_cb, nullptr, nullptr, &StreamInput::close_cb};
        fp = fopencookie(c.input_.get(), "rb", io);
        if (fp)
            setvbuf(fp, nullptr, _IONBF, 0);
    }
    if (!fp)
        open_failed(path, errno);
    char err[PCAP_ERRBUF_SIZE] = {};
    c.pcap_ = pcap_fopen_offline(fp, err);
    if (!c.pcap_) {
        fclose(fp);
        throw Error(EX_DATAERR, "read " + c.name_ + ": not a capture file lbsniff can read: " + err);
    }
    c.check_link();
    return c;
}

void Capture::check_link()
{
    dlt_ = pcap_datalink(pcap_);
    if (!link_supported(dlt_)) {
        const char* n = pcap_datalink_val_to_name(dlt_);
        throw Error(EX_DATAERR, (live_ ? "capture on " : "read ") + name_ + ": link type " +
                                    (n ? n : "?") + " (" + std::to_string(dlt_) +
                                    ") is not supported: lbsniff decodes Ethernet, Linux cooked, "
                                    "loopback and raw IP captures");
    }
}

std::string Capture::set_filter(const std::vector<std::string>& candidates, const std::string& user_filter)
{
    auto compile = [this](const std::string& expr, bpf_program& prog) {
        return pcap_compile(pcap_, &prog, expr.c_str(), 1, PCAP_NETMASK_UNKNOWN) == 0;
    };
    bpf_program prog{};
    if (!user_filter.empty()) {
        if (!compile(user_filter, prog))
            throw Error(EX_USAGE, "--filter '" + user_filter + "': " + pcap_geterr(pcap_));
        pcap_freecode(&prog);
    } else if (!live_) {
        return "";
    }
    for (const auto& expr : candidates) {
        if (!compile(expr, prog)) {
            lbkit::log::debug("filter '", expr, "' does not compile: ", pcap_geterr(pcap_));
            continue;
        }
        if (!live_) {
            program_.reset(new bpf_program(prog));
            return expr;
        }
        int rc = pcap_setfilter(pcap_, &prog);
        pcap_freecode(&prog);
        if (rc == 0)
            return expr;
        lbkit::log::debug("filter '", expr, "' cannot be installed: ", pcap_geterr(pcap_));
    }
    throw Error(EX_SOFTWARE, name_ + ": no capture filter could be installed: " + pcap_geterr(pcap_));
}

void Capture::check_filter(const std::string& expr, const std::string& user_filter)
{
    std::unique_ptr<pcap_t, void (*)(pcap_t*)> dead(pcap_open_dead(DLT_EN10MB, 262144), pcap_close);
    bpf_program prog{};
    for (const std::string* e : {&user_filter, &expr}) {
        if (e->empty())
            continue;
        if (pcap_compile(dead.get(), &prog, e->c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0)
            throw Error(EX_USAGE, (e == &user_filter ? "--filter '" + *e + "': " : "filter: ") +
                                      pcap_geterr(dead.get()));
        pcap_freecode(&prog);
    }
}

int Capture::dispatch(int max, pcap_handler fn, u_char* user)
{
    if (at_end_)
        return 0;
    if (!live_)
        return read_file(max, fn, user);
    int n = pcap_dispatch(pcap_, max, fn, user);
    if (n == PCAP_ERROR)
        throw Error(EX_IOERR, "capture on " + name_ + ": " + pcap_geterr(pcap_));
    return n < 0 ? 0 : n;
}

int Capture::read_file(int max, pcap_handler fn, u_char* user)
{
    Filtered f{program_.get(), fn, user};
    auto* arg = reinterpret_cast<u_char*>(&f);
    int n = 0;
    if (!input_) {
        // Without a filter the trampoline is skipped: this is the hot loop.
        n = program_ ? pcap_dispatch(pcap_, max, &Filtered::cb, arg) : pcap_dispatch(pcap_, max, fn, user);
    } else {
        // One packet at a time while bytes are buffered: never wait for more.
        int r = 1;
        while (n < max && (n == 0 || ready()) && (r = pcap_dispatch(pcap_, 1, &Filtered::cb, arg)) > 0)
            ++n;
        if (r <= 0)
            n = r;
    }
    if (n == PCAP_ERROR) {
        at_end_ = true;
        throw Error(EX_DATAERR, "read " + name_ + ": " + pcap_geterr(pcap_));
    }
    if (n <= 0)
        at_end_ = true;
    return n < 0 ? 0 : n;
}

int Capture::wait_fd() const
{
    if (live_)
        return pcap_get_selectable_fd(pcap_);
    return input_ ? input_->fd : -1;
}

bool Capture::ready() const
{
    if (live_)
        return false;
    return !input_ || input_->pos < input_->end;
}

bool Capture::stats(pcap_stat& out) const
{
    return live_ && pcap_stats(pcap_, &out) == 0;
}

}  // namespace lbsniff
