#include "loop.hpp"

#include <csignal>

#include "error.hpp"
#include "log.hpp"

namespace lbkit {

Loop::Loop() : base_(event_base_new())
{
    if (!base_)
        throw Error(EX_OSERR, "event loop: cannot create libevent base");
    std::signal(SIGPIPE, SIG_IGN);
    sighup_.reset(evsignal_new(base(), SIGHUP, &Loop::signal_cb, this));
    sigterm_.reset(evsignal_new(base(), SIGTERM, &Loop::signal_cb, this));
    sigint_.reset(evsignal_new(base(), SIGINT, &Loop::signal_cb, this));
    for (auto* e : {sighup_.get(), sigterm_.get(), sigint_.get()})
        event_add(e, nullptr);
}

void Loop::signal_cb(evutil_socket_t sig, short, void* arg)
{
    auto* self = static_cast<Loop*>(arg);
    if (sig == SIGHUP) {
        log::info("SIGHUP: reloading");
        if (self->reload_)
            self->reload_();
        return;
    }
    log::info(sig == SIGTERM ? "SIGTERM" : "SIGINT", ": stopping");
    self->stop();
}

void Loop::run()
{
    event_base_dispatch(base());
}

void Loop::stop()
{
    if (stopping_)
        return;
    stopping_ = true;
    // The signal events would keep the loop alive; the owner's stop hook
    // closes listeners and flushes, then the loop is broken out of.
    for (auto* e : {sighup_.get(), sigterm_.get(), sigint_.get()})
        event_del(e);
    if (stop_)
        stop_();
    event_base_loopexit(base(), nullptr);
}

int64_t cached_unix_ms(event_base* base)
{
    timeval tv;
    event_base_gettimeofday_cached(base, &tv);
    return int64_t(tv.tv_sec) * 1000 + tv.tv_usec / 1000;
}

Timer::Timer(Loop& loop, std::function<void()> fn)
    : fn_(std::move(fn)), ev_(event_new(loop.base(), -1, 0, &Timer::fire, this))
{
}

void Timer::start(Millis after, bool repeat)
{
    event_del(ev_.get());
    event_assign(ev_.get(), event_get_base(ev_.get()), -1, repeat ? EV_PERSIST : 0, &Timer::fire, this);
    timeval tv = to_timeval(after);
    event_add(ev_.get(), &tv);
}

void Timer::cancel()
{
    event_del(ev_.get());
}

bool Timer::pending() const
{
    return event_pending(ev_.get(), EV_TIMEOUT, nullptr) != 0;
}

void Timer::fire(evutil_socket_t, short, void* arg)
{
    auto* self = static_cast<Timer*>(arg);
    self->fn_();
}

}  // namespace lbkit
