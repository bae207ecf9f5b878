// The event loop every daemon runs: libevent base plus the signals the
// conventions give a meaning to (SIGHUP reload, SIGTERM/SIGINT stop) and
// timers. SIGPIPE is ignored: a peer closing a socket is an error return.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>

#include "duration.hpp"
#include "ev.hpp"

namespace lbkit {

class Loop {
public:
    Loop();
    Loop(const Loop&) = delete;
    Loop& operator=(const Loop&) = delete;

    event_base* base() const { return base_.get(); }

    void on_reload(std::function<void()> fn) { reload_ = std::move(fn); }
    void on_stop(std::function<void()> fn) { stop_ = std::move(fn); }

    // Runs until stop() or a stop signal; returns when the loop is empty or broken.
    void run();
    void stop();
    bool stopping() const { return stopping_; }

private:
    static void signal_cb(evutil_socket_t sig, short, void* arg);
    ev::BasePtr base_;
    ev::EventPtr sighup_, sigterm_, sigint_;
    std::function<void()> reload_, stop_;
    bool stopping_ = false;
};

// Unix time in ms from the loop's cached clock: the time the loop woke
// up, no system call (event_base_gettimeofday_cached).
int64_t cached_unix_ms(event_base* base);

// One-shot or repeating timer owned by the object that needs it.
class Timer {
public:
    Timer(Loop& loop, std::function<void()> fn);
    void start(Millis after, bool repeat = false);
    void cancel();
    bool pending() const;

private:
    static void fire(evutil_socket_t, short, void* arg);
    std::function<void()> fn_;
    ev::EventPtr ev_;
};

}  // namespace lbkit
