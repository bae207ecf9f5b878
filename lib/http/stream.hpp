// A non-blocking TCP connection with an input and an output buffer, driven
// by the event loop: what the relay path uses in place of libevent's
// bufferevent. bufferevent in libevent 2.1 asks FIONREAD before every read
// (a system call per message) and reads at most 4 KiB per wakeup, so a body
// crossed the loop in 4 KiB steps; and its timers go through the timer heap
// on every read. A Stream reads with recv() until the socket is empty or the
// input holds its read limit, writes at once when nothing waits (send), and
// keeps persistent events whose timers the loop restarts as they fire.
//
// The events it reports keep libevent's BEV_EVENT_* meaning: READING or
// WRITING with EOF, ERROR or TIMEOUT, and CONNECTED. A callback may destroy
// the stream: calling back is always the last thing the stream does.
#pragma once
#include <sys/socket.h>

#include <cstddef>
#include <optional>

#include "ev.hpp"

namespace lbkit::http {

class Stream {
public:
    using DataCb = void (*)(Stream&, void* arg);
    using EventCb = void (*)(Stream&, short what, void* arg);

    // Takes a connected socket over; it is closed with the stream.
    Stream(event_base* base, evutil_socket_t fd);
    // Not connected yet: connect() makes the socket.
    explicit Stream(event_base* base);
    ~Stream();
    Stream(const Stream&) = delete;
    Stream& operator=(const Stream&) = delete;

    // The buffers and events were made (false only when out of memory).
    bool ok() const { return in_ && out_ && (fd_ < 0 || read_ev_); }

    // read: bytes were added to in(). drained: out() became empty by a
    // write of the stream's own. event: BEV_EVENT_* flags.
    void set_callbacks(DataCb read, DataCb drained, EventCb event, void* arg);

    // Starts a non-blocking connect; the outcome always comes from the loop,
    // as BEV_EVENT_CONNECTED or BEV_EVENT_ERROR (error() says why), or a
    // write timeout. -1 with errno when no socket could be made.
    int connect(const sockaddr* sa, socklen_t len);

    // EV_READ and/or EV_WRITE, as with bufferevent_enable: reading runs while
    // enabled and the input is under its limit; writing runs while enabled
    // and the output holds bytes.
    void enable(short what);
    void disable(short what);

    // nullptr: no limit. A timer restarts whenever its side makes progress;
    // the read timer runs only while reading is enabled and not paused, the
    // write timer only while bytes wait to be written (or a connect does).
    void set_timeouts(const timeval* read, const timeval* write);

    // Reading pauses while the input holds this many bytes and resumes when
    // it drains below (backpressure).
    void set_read_limit(std::size_t limit);

    // Speculative write: what stage holds goes to the socket at once when
    // nothing waits in the output (no write event to arm and disarm); what
    // the socket does not take is queued in the output behind it. Errors are
    // left for the stream's own write to meet and report.
    void send(evbuffer* stage);

    void shutdown_write();

    evbuffer* in() const { return in_.get(); }
    evbuffer* out() const { return out_.get(); }
    evutil_socket_t fd() const { return fd_; }
    // The errno behind the last BEV_EVENT_ERROR (0: none).
    int error() const { return error_; }

private:
    void watch_buffers();
    void make_events();
    void update_read();
    void update_write();
    void read_some();
    void write_some();
    void finish_connect();
    void report(short what, int err);

    static void on_readable(evutil_socket_t, short what, void* arg);
    static void on_writable(evutil_socket_t, short what, void* arg);
    static void on_input_change(evbuffer*, const evbuffer_cb_info* info, void* arg);
    static void on_output_change(evbuffer*, const evbuffer_cb_info* info, void* arg);

    event_base* base_;
    evutil_socket_t fd_ = -1;
    lbkit::ev::BufferPtr in_{evbuffer_new()}, out_{evbuffer_new()};
    lbkit::ev::EventPtr read_ev_;
    // Exists only while a write waits for the socket (or a connect does):
    // most writes go out at once, and an idle connection holds none.
    lbkit::ev::EventPtr write_ev_;
    evbuffer_cb_entry* input_watch_ = nullptr;
    DataCb read_cb_ = nullptr, drained_cb_ = nullptr;
    EventCb event_cb_ = nullptr;
    void* arg_ = nullptr;
    std::optional<timeval> read_tv_, write_tv_;
    std::size_t read_limit_ = 256 * 1024;
    bool reading_ = false, writing_ = false;
    bool read_armed_ = false, write_armed_ = false;
    bool paused_ = false;      // the input holds read_limit_ bytes
    bool connecting_ = false;
    int connect_error_ = -1;   // an outcome connect() already knew (-1: ask the socket)
    int held_error_ = 0;       // a read error met after data, reported next
    int error_ = 0;
};

}  // namespace lbkit::http
