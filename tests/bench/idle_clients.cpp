// Memory benchmark client: opens many keep-alive connections to a proxy,
// sends one request on each (a bounded number at a time), reads the whole
// response, then keeps every connection open and idle until SIGTERM/SIGINT,
// so the proxy's resident memory can be read while it holds them all.
// Connections come from several loopback source addresses (127.0.0.2, ...)
// so that ephemeral ports never run out.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "fd_limit.hpp"

namespace {

volatile sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

// A file descriptor closed on scope exit.
class Fd {
public:
    explicit Fd(int fd = -1) : fd_(fd) {}
    Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
    Fd& operator=(Fd&& o) noexcept { reset(o.fd_); o.fd_ = -1; return *this; }
    ~Fd() { reset(); }
    void reset(int fd = -1) { if (fd_ >= 0) ::close(fd_); fd_ = fd; }
    int get() const { return fd_; }
private:
    int fd_;
};

struct Options {
    std::string proxy = "127.0.0.1:3128";
    std::string target = "/";   // request target: absolute-form for a forward proxy
    std::string host = "localhost";
    int connections = 10000;
    int concurrency = 100;
    int sources = 4;
    int timeout_s = 60;
};

enum class Phase { connecting, reading, idle, failed, closed };

struct Conn {
    Fd fd;
    Phase phase = Phase::connecting;
    std::string in;
};

// Bytes of a complete response at the start of buf (Content-Length or no
// body), or 0 when more is needed; -1 when it cannot be framed here.
long response_size(const std::string& buf)
{
    auto end = buf.find("\r\n\r\n");
    if (end == std::string::npos) return 0;
    std::string head = buf.substr(0, end);
    for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (head.find("transfer-encoding:") != std::string::npos) return -1;
    long len = 0;
    auto p = head.find("\r\ncontent-length:");
    if (p != std::string::npos) len = std::strtol(head.c_str() + p + 17, nullptr, 10);
    long total = static_cast<long>(end) + 4 + len;
    return static_cast<long>(buf.size()) >= total ? total : 0;
}

class Clients {
public:
    explicit Clients(Options o) : o_(std::move(o)), ep_(epoll_create1(0))
    {
        auto colon = o_.proxy.rfind(':');
        if (colon == std::string::npos) throw std::runtime_error("--proxy " + o_.proxy + ": want HOST:PORT");
        dst_.sin_family = AF_INET;
        dst_.sin_port = htons(static_cast<uint16_t>(std::stoi(o_.proxy.substr(colon + 1))));
        if (inet_pton(AF_INET, o_.proxy.substr(0, colon).c_str(), &dst_.sin_addr) != 1)
            throw std::runtime_error("--proxy " + o_.proxy + ": not an IPv4 address");
        request_ = "GET " + o_.target + " HTTP/1.1\r\nHost: " + o_.host + "\r\nUser-Agent: lbkit-bench\r\n\r\n";
        conns_.resize(static_cast<std::size_t>(o_.connections));
    }

    int run()
    {
        time_t deadline = time(nullptr) + o_.timeout_s;
        while (done_ + failed_ < o_.connections && !g_stop) {
            while (started_ < o_.connections && started_ - done_ - failed_ < o_.concurrency) open_one();
            if (time(nullptr) > deadline) {
                std::fprintf(stderr, "idle_clients: %d requests unanswered after %d s\n",
                             o_.connections - done_ - failed_, o_.timeout_s);
                break;
            }
            poll(100);
        }
        std::printf("ready %d idle, %d failed%s\n", idle(), failed_, first_error_.empty() ? "" : (" (" + first_error_ + ")").c_str());
        std::fflush(stdout);
        while (!g_stop) poll(500);
        std::printf("still open at the end: %d (closed by the proxy while idle: %d)\n", idle(), closed_);
        return 0;
    }

private:
    int idle() const { return done_ - closed_; }

    void fail(Conn& c, const std::string& why)
    {
        if (first_error_.empty()) first_error_ = why;
        c.phase = Phase::failed;
        c.fd.reset();
        ++failed_;
    }

    void open_one()
    {
        int i = started_++;
        Conn& c = conns_[static_cast<std::size_t>(i)];
        c.fd.reset(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        if (c.fd.get() < 0) return fail(c, std::string("socket: ") + std::strerror(errno));
        int one = 1;
        // The kernel picks the port at connect time, per destination.
        setsockopt(c.fd.get(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        sockaddr_in src{};
        src.sin_family = AF_INET;
        src.sin_addr.s_addr = htonl(0x7f000002u + static_cast<uint32_t>(i % o_.sources));
        if (bind(c.fd.get(), reinterpret_cast<sockaddr*>(&src), sizeof src) != 0)
            return fail(c, std::string("bind: ") + std::strerror(errno));
        if (connect(c.fd.get(), reinterpret_cast<sockaddr*>(&dst_), sizeof dst_) != 0 && errno != EINPROGRESS)
            return fail(c, std::string("connect: ") + std::strerror(errno));
        epoll_event ev{};
        ev.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP;
        ev.data.u32 = static_cast<uint32_t>(i);
        epoll_ctl(ep_.get(), EPOLL_CTL_ADD, c.fd.get(), &ev);
    }

    void poll(int ms)
    {
        epoll_event evs[256];
        int n = epoll_wait(ep_.get(), evs, 256, ms);
        for (int k = 0; k < n; ++k) event(evs[k]);
    }

    void event(const epoll_event& ev)
    {
        Conn& c = conns_[ev.data.u32];
        if (c.phase == Phase::connecting && (ev.events & EPOLLOUT)) {
            int err = 0;
            socklen_t len = sizeof err;
            getsockopt(c.fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
            if (err) return fail(c, std::string("connect: ") + std::strerror(err));
            // A request line and a few headers always fit in an empty socket buffer.
            if (write(c.fd.get(), request_.data(), request_.size()) != static_cast<ssize_t>(request_.size()))
                return fail(c, std::string("write: ") + std::strerror(errno));
            c.phase = Phase::reading;
            epoll_event mod{};
            mod.events = EPOLLIN | EPOLLRDHUP;
            mod.data.u32 = ev.data.u32;
            epoll_ctl(ep_.get(), EPOLL_CTL_MOD, c.fd.get(), &mod);
            return;
        }
        if (c.phase == Phase::reading) return read_response(c);
        if (c.phase == Phase::idle && (ev.events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
            c.phase = Phase::closed;
            c.fd.reset();
            ++closed_;
        }
    }

    void read_response(Conn& c)
    {
        char buf[16384];
        bool eof = false;
        for (;;) {
            ssize_t r = read(c.fd.get(), buf, sizeof buf);
            if (r > 0) { c.in.append(buf, static_cast<std::size_t>(r)); continue; }
            if (r == 0) { eof = true; break; }
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            return fail(c, std::string("read: ") + std::strerror(errno));
        }
        long size = response_size(c.in);
        if (size < 0) return fail(c, "chunked response: ask for a file with a Content-Length");
        if (size == 0)
            return eof ? fail(c, "the proxy closed the connection before a full response") : void();
        if (c.in.compare(0, 12, "HTTP/1.1 200") != 0 && c.in.compare(0, 12, "HTTP/1.0 200") != 0)
            return fail(c, "answer: " + c.in.substr(0, c.in.find('\r')));
        std::string().swap(c.in);
        c.phase = Phase::idle;
        ++done_;
        if (eof) {  // answered, but not kept alive
            c.phase = Phase::closed;
            c.fd.reset();
            ++closed_;
        }
    }

    Options o_;
    Fd ep_;
    sockaddr_in dst_{};
    std::string request_;
    std::vector<Conn> conns_;
    int started_ = 0, done_ = 0, failed_ = 0, closed_ = 0;
    std::string first_error_;
};

}  // namespace

int main(int argc, char** argv)
{
    Options o;
    CLI::App app{"idle_clients: holds many idle keep-alive connections open through a proxy"};
    app.add_option("--proxy", o.proxy, "proxy address IPv4:PORT");
    app.add_option("--target", o.target, "request target (absolute-form for a forward proxy)");
    app.add_option("--host", o.host, "Host header");
    app.add_option("--connections", o.connections, "connections to hold")->check(CLI::Range(1, 60000));
    app.add_option("--concurrency", o.concurrency, "requests in flight while opening")->check(CLI::Range(1, 10000));
    app.add_option("--sources", o.sources, "source addresses 127.0.0.2 ...")->check(CLI::Range(1, 250));
    app.add_option("--timeout", o.timeout_s, "seconds to get every answer")->check(CLI::Range(1, 3600));
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 64;
    }
    std::size_t open_files = lbkit::raise_open_files();
    if (open_files < static_cast<std::size_t>(o.connections) + 16) {
        std::cerr << "idle_clients: open files limit " << open_files << " is below --connections " << o.connections << "\n";
        return 69;
    }
    struct sigaction sa{};
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGINT, &sa, nullptr);
    signal(SIGPIPE, SIG_IGN);
    try {
        return Clients(o).run();
    } catch (const std::exception& e) {
        std::cerr << "idle_clients: " << e.what() << "\n";
        return 1;
    }
}
