// sniffgen: traffic for lbsniff's tests and benchmark.
//   sniffgen bench FILE PACKETS      pcap of PACKETS packets: 8 watched web
//                                    servers 10.1.0.1-8:80 plus noise
//   sniffgen scenario FILE [DLT]     small pcap with known counts (see below)
//   sniffgen dlt FILE DLT            one frame of an arbitrary link type
//   sniffgen serve ADDR:PORT         tiny HTTP/1.1 server (keep-alive)
//   sniffgen hold ADDR:PORT          listens with a backlog of 0 and never
//                                    accepts: SYNs beyond the first go
//                                    unanswered
//   sniffgen inject IFACE IP:PORT RATE SECONDS
//                                    puts RATE request segments a second on
//                                    IFACE (Ethernet, e.g. lo) with
//                                    pcap_inject: one packet each, exactly;
//                                    prints "sent seconds"
// Frames come from bin/lbsniff/forge.cpp and are written with pcap_dump.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pcap/dlt.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "decode.hpp"
#include "forge.hpp"

using lbsniff::forge::Segment;
using lbsniff::forge::Writer;
namespace tcp = lbsniff::tcp;

namespace {

constexpr int64_t sec = 1'000'000;
constexpr int64_t t0 = int64_t(1'700'000'000) * sec;

[[noreturn]] void usage()
{
    std::fprintf(stderr, "usage: sniffgen bench FILE PACKETS | scenario FILE [DLT] | dlt FILE DLT |\n"
                         "       serve ADDR:PORT | hold ADDR:PORT | inject IFACE IP:PORT RATE SECONDS\n");
    std::exit(64);
}

// The benchmark capture: connections to 8 servers (SYN, SYN-ACK, ACK,
// request, two response segments, ACK, FIN, FIN-ACK, ACK: 10 packets) and,
// between them, 20% noise (other hosts, other ports, UDP, ARP). Frames are
// cut at 128 bytes as "tcpdump -s 128" would; 100,000 packets a second of
// capture time.
int bench(const std::string& file, long packets)
{
    Writer w(file, DLT_EN10MB, 128);
    std::mt19937 rng(42);
    const std::string request = "GET /index.html HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: bench\r\n\r\n";
    const std::string response(1400, 'x');
    long n = 0;
    int64_t t = t0;
    uint32_t conn = 0;
    auto emit = [&](const Segment& s) {
        if (n >= packets)
            return;
        w.add(t, s);
        t += 10;  // 100,000 packets per second
        ++n;
    };
    while (n < packets) {
        if (rng() % 5 == 0) {  // noise
            Segment s{"10.3.0." + std::to_string(rng() % 200 + 1), "10.4.0." + std::to_string(rng() % 200 + 1),
                      uint16_t(1024 + rng() % 60000), uint16_t(rng() % 2 ? 443 : 22), tcp::ack, uint32_t(rng()), uint32_t(rng()), "noise"};
            if (rng() % 4 == 0)
                s.protocol = 17;
            if (rng() % 10 == 0) {
                w.write(t, lbsniff::forge::arp_frame());
                t += 10;
                ++n;
                continue;
            }
            emit(s);
            continue;
        }
        ++conn;
        std::string server = "10.1.0." + std::to_string(conn % 8 + 1);
        std::string client = "10.2." + std::to_string(conn / 250 % 250) + "." + std::to_string(conn % 250 + 1);
        uint16_t cp = uint16_t(1024 + conn % 60000);
        uint32_t c = uint32_t(rng()), sv = uint32_t(rng());
        emit({client, server, cp, 80, tcp::syn, c, 0, ""});
        emit({server, client, 80, cp, tcp::syn | tcp::ack, sv, c + 1, ""});
        emit({client, server, cp, 80, tcp::ack, c + 1, sv + 1, ""});
        emit({client, server, cp, 80, tcp::ack | tcp::psh, c + 1, sv + 1, request});
        uint32_t cs = c + 1 + uint32_t(request.size());
        emit({server, client, 80, cp, tcp::ack, sv + 1, cs, response});
        emit({server, client, 80, cp, tcp::ack | tcp::psh, sv + 1 + 1400, cs, response});
        emit({client, server, cp, 80, tcp::ack, cs, sv + 2801, ""});
        emit({client, server, cp, 80, tcp::fin | tcp::ack, cs, sv + 2801, ""});
        emit({server, client, 80, cp, tcp::fin | tcp::ack, sv + 2801, cs + 1, ""});
        emit({client, server, cp, 80, tcp::ack, cs + 1, sv + 2802, ""});
    }
    std::printf("%ld packets, %u connections, %.1f s of capture\n", n, conn, double(t - t0) / sec);
    return 0;
}

// Known traffic for the integration tests, servers web1 = 127.0.0.1:8080 and
// web6 = [::1]:8081, interval 1 s starting at 1700000000:
//   [0,1): web1: 6 packets, 344 bytes, 2 SYNs (answered), 2 requests (one
//          split in two segments; a retransmitted one is not counted again)
//   [1,2): web6: 3 SYNs answered by RST (down after 3); web1: nothing
//   [2,3): web1: 3 SYNs never answered (down 2 s later with --syn-timeout 2)
//   [5,6): web6: 2 SYN-ACKs (up after 2)
// plus UDP, a fragment, ARP and another port, all ignored.
int scenario(const std::string& file, int dlt)
{
    Writer w(file, dlt);
    auto add = [&](int64_t t, Segment s) { w.add(t0 + t, s); };
    const std::string c4 = "127.0.0.9", s4 = "127.0.0.1", c6 = "::2", s6 = "::1";
    add(1, {c4, s4, 5001, 8080, tcp::syn, 100, 0, ""});
    add(2, {s4, c4, 8080, 5001, tcp::syn | tcp::ack, 900, 101, ""});
    add(3, {c4, s4, 5001, 8080, tcp::ack | tcp::psh, 101, 901, "GET /a HTTP/1.1\r\nHost: web1\r\n\r\n"});  // 31
    add(4, {s4, c4, 8080, 5001, tcp::ack | tcp::psh, 901, 132, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"});
    add(5, {c4, s4, 5001, 8080, tcp::ack | tcp::psh, 101, 901, "GET /a HTTP/1.1\r\nHost: web1\r\n\r\n"});  // again
    add(6, {c4, s4, 5001, 8080, tcp::ack | tcp::psh, 132, 940, "POS"});
    add(7, {c4, s4, 5001, 8080, tcp::ack | tcp::psh, 135, 940, "T /form HTTP/1.1\r\nContent-Length: 0\r\n\r\n"});
    add(8, {c4, s4, 5002, 8080, tcp::syn, 7000, 0, ""});
    add(9, {s4, c4, 8080, 5002, tcp::syn | tcp::ack, 8000, 7001, ""});
    Segment udp{c4, s4, 5003, 8080, 0, 0, 0, "dns?"};
    udp.protocol = 17;
    add(10, udp);
    Segment frag{c4, s4, 5004, 8080, tcp::ack, 1, 0, "GET /frag HTTP/1.1\r\n\r\n"};
    frag.fragment = true;
    add(11, frag);
    add(12, {c4, s4, 5005, 9999, tcp::syn, 1, 0, ""});
    if (dlt == DLT_EN10MB)
        w.write(t0 + 13, lbsniff::forge::arp_frame());
    for (int i = 0; i < 3; ++i) {
        add(sec + i * 1000, {c6, s6, uint16_t(6000 + i), 8081, tcp::syn, 50, 0, ""});
        add(sec + i * 1000 + 10, {s6, c6, 8081, uint16_t(6000 + i), tcp::rst | tcp::ack, 0, 51, ""});
    }
    for (int i = 0; i < 3; ++i)
        add(2 * sec + i * 1000, {c4, s4, uint16_t(5100 + i), 8080, tcp::syn, 10, 0, ""});
    for (int i = 0; i < 2; ++i) {
        add(5 * sec + i * 1000, {c6, s6, uint16_t(6100 + i), 8081, tcp::syn, 50, 0, ""});
        add(5 * sec + i * 1000 + 10, {s6, c6, 8081, uint16_t(6100 + i), tcp::syn | tcp::ack, 70, 51, ""});
    }
    return 0;
}

int one_frame(const std::string& file, int dlt)
{
    Writer w(file, dlt);
    w.write(t0, std::vector<uint8_t>(60, 0x5a));
    return 0;
}

sockaddr_storage parse_addr(const std::string& text, socklen_t& len)
{
    sockaddr_storage ss{};
    auto colon = text.rfind(':');
    if (colon == std::string::npos)
        usage();
    std::string host = text.substr(0, colon);
    if (host.size() > 1 && host.front() == '[')
        host = host.substr(1, host.size() - 2);
    uint16_t port = uint16_t(std::atoi(text.c_str() + colon + 1));
    auto* a4 = reinterpret_cast<sockaddr_in*>(&ss);
    auto* a6 = reinterpret_cast<sockaddr_in6*>(&ss);
    if (inet_pton(AF_INET, host.c_str(), &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons(port);
        len = sizeof *a4;
    } else if (inet_pton(AF_INET6, host.c_str(), &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons(port);
        len = sizeof *a6;
    } else {
        usage();
    }
    return ss;
}

// Answers every request head with a small 200, keep-alive; one thread per
// connection (tests open a handful).
void serve_conn(int fd)
{
    std::string buf;
    char chunk[16384];
    const char reply[] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Type: text/plain\r\n\r\nok\n";
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof chunk);
        if (r <= 0)
            break;
        buf.append(chunk, std::size_t(r));
        std::size_t end;
        while ((end = buf.find("\r\n\r\n")) != std::string::npos) {
            buf.erase(0, end + 4);
            if (write(fd, reply, sizeof reply - 1) < 0)
                break;
        }
        if (buf.size() > (1 << 20))
            buf.clear();  // a stream without request heads: just drain it
    }
    close(fd);
}

// A listening socket on addr with the given backlog, or -1 (said on stderr).
int listen_on(const std::string& addr, int backlog, const char* what)
{
    socklen_t len;
    sockaddr_storage ss = parse_addr(addr, len);
    int fd = socket(ss.ss_family, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || listen(fd, backlog) != 0) {
        std::perror(("sniffgen: " + std::string(what) + " " + addr).c_str());
        close(fd);
        return -1;
    }
    return fd;
}

int serve(const std::string& addr)
{
    int fd = listen_on(addr, 512, "serve");
    if (fd < 0)
        return 69;
    for (;;) {
        int c = accept(fd, nullptr, nullptr);
        if (c >= 0)
            std::thread(serve_conn, c).detach();
    }
}

// Backlog 0 and no accept(): once the queue holds one connection, the
// kernel drops further SYNs, which then go unanswered.
int hold(const std::string& addr)
{
    if (listen_on(addr, 0, "hold") < 0)
        return 69;
    for (;;)
        pause();
}

// Request segments on 64 connections from 127.0.0.2 to IP:PORT, each
// segment the next request of its connection (in sequence: none is a
// retransmission), so a sniffer must count every one as a request.
int inject(const std::string& iface, const std::string& addr, long rate, double seconds)
{
    char err[PCAP_ERRBUF_SIZE] = {};
    pcap_t* p = pcap_open_live(iface.c_str(), 256, 0, 10, err);
    if (!p) {
        std::fprintf(stderr, "sniffgen: inject on %s: %s\n", iface.c_str(), err);
        return 77;
    }
    auto colon = addr.rfind(':');
    std::string ip = addr.substr(0, colon);
    uint16_t port = uint16_t(std::atoi(addr.c_str() + colon + 1));
    const std::string request = "GET / HTTP/1.1\r\nHost: bench\r\n\r\n";
    uint32_t seq[64];
    for (uint32_t i = 0; i < 64; ++i)
        seq[i] = 1000 * i;
    using clock = std::chrono::steady_clock;
    auto start = clock::now();
    long sent = 0, total = long(double(rate) * seconds);
    while (sent < total) {
        double elapsed = std::chrono::duration<double>(clock::now() - start).count();
        long due = std::min(total, long(elapsed * double(rate)));
        for (; sent < due; ++sent) {
            std::size_t c = std::size_t(sent) % 64;
            auto f = lbsniff::forge::frame(DLT_EN10MB, {"127.0.0.2", ip, uint16_t(40000 + c), port,
                                                        uint8_t(tcp::ack | tcp::psh), seq[c], 1, request});
            seq[c] += uint32_t(request.size());
            if (pcap_inject(p, f.data(), f.size()) < 0) {
                std::fprintf(stderr, "sniffgen: inject: %s\n", pcap_geterr(p));
                pcap_close(p);
                return 74;
            }
        }
        std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    double took = std::chrono::duration<double>(clock::now() - start).count();
    std::printf("%ld %.3f\n", sent, took);
    pcap_close(p);
    return 0;
}

}  // namespace

int main(int argc, char** argv)
{
    if (argc < 3)
        usage();
    std::string cmd = argv[1];
    try {
        if (cmd == "bench" && argc == 4)
            return bench(argv[2], std::atol(argv[3]));
        if (cmd == "scenario" && (argc == 3 || argc == 4))
            return scenario(argv[2], argc == 4 ? std::atoi(argv[3]) : DLT_EN10MB);
        if (cmd == "dlt" && argc == 4)
            return one_frame(argv[2], std::atoi(argv[3]));
        if (cmd == "serve" && argc == 3)
            return serve(argv[2]);
        if (cmd == "hold" && argc == 3)
            return hold(argv[2]);
        if (cmd == "inject" && argc == 6)
            return inject(argv[2], argv[3], std::atol(argv[4]), std::atof(argv[5]));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "sniffgen: %s\n", e.what());
        return 70;
    }
    usage();
}
