// The packet source: one libpcap handle, live or from a file, owned here.
// Live handles are non-blocking in immediate mode and expose a descriptor for
// the event loop. Files on a pipe ("-r -" behind tcpdump) are read through a
// buffer this class owns, so it always knows whether a packet is waiting and
// the loop never blocks on a quiet pipe.
#pragma once
#include <pcap/pcap.h>

#include <memory>
#include <string>
#include <vector>

namespace lbsniff {

struct LiveSettings {
    std::string interface;
    int snaplen = 256;
    long buffer_bytes = 4L << 20;
    bool promisc = true;
};

class Capture {
public:
    // Throws Error: EX_NOPERM without the right to capture, EX_NOINPUT for a
    // missing interface, EX_UNAVAILABLE for one that is down or failing,
    // EX_DATAERR for a link type lbsniff cannot decode.
    static Capture open_live(const LiveSettings& s);
    // path "-" is standard input. Throws Error: EX_NOINPUT (missing),
    // EX_NOPERM (unreadable), EX_DATAERR (not a capture file, unknown link).
    static Capture open_offline(const std::string& path);

    Capture(Capture&&) noexcept;
    Capture& operator=(Capture&&) noexcept;
    ~Capture();

    // Validates --filter alone (Error EX_USAGE with pcap's reason), then
    // installs the first candidate that compiles; returns it. Reading a file
    // with no --filter, none is installed: the engine's address match is the
    // same selection and costs less than the BPF interpreter (returns "").
    std::string set_filter(const std::vector<std::string>& candidates, const std::string& user_filter);

    // Compiles expr on a dead Ethernet handle (-n, --print-filter): throws
    // Error(EX_USAGE) when --filter is bad, as set_filter does.
    static void check_filter(const std::string& expr, const std::string& user_filter);

    // Reads up to max packets, calling fn for each that passes the filter.
    // From a pipe, stops early rather than wait. Returns the number read;
    // 0 when nothing is waiting (live) or at the end of input (offline, and
    // then at_end() is true). Throws Error(EX_DATAERR) for a corrupt file,
    // Error(EX_IOERR) for a failing interface.
    int dispatch(int max, pcap_handler fn, u_char* user);

    bool live() const { return live_; }
    bool at_end() const { return at_end_; }
    int datalink() const { return dlt_; }
    const std::string& name() const { return name_; }
    // Descriptor to wait on, or -1 when reading never blocks (regular file).
    int wait_fd() const;
    // A packet can be read now without waiting (buffered, or a regular file).
    bool ready() const;
    // Kernel counters (live only): false when unavailable.
    bool stats(pcap_stat& out) const;

    struct StreamInput;
    struct ProgramFree { void operator()(bpf_program* p) const; };

private:
    Capture() = default;
    void check_link();
    int read_file(int max, pcap_handler fn, u_char* user);

    std::unique_ptr<StreamInput> input_;  // must outlive pcap_, which reads it
    std::unique_ptr<bpf_program, ProgramFree> program_;  // offline: applied here
    pcap_t* pcap_ = nullptr;
    std::string name_;
    int dlt_ = -1;
    bool live_ = false;
    bool at_end_ = false;
};

}  // namespace lbsniff
