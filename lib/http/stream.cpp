#include "http/stream.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>

namespace lbkit::http {

namespace {

// The first read of a wakeup fits a request or response head; when it fills,
// the next ones grow (a body is coming) up to the read limit.
constexpr std::size_t first_read = 4096;

bool would_block(int err)
{
    return err == EAGAIN || err == EWOULDBLOCK || err == EINTR;
}

// One recv() into want bytes of contiguous free space at the end of in.
ssize_t recv_into(evbuffer* in, evutil_socket_t fd, std::size_t want)
{
    evbuffer_iovec vec;
    if (evbuffer_reserve_space(in, ev_ssize_t(want), &vec, 1) != 1) {
        errno = ENOMEM;
        return -1;
    }
    ssize_t got = recv(fd, vec.iov_base, std::min(vec.iov_len, want), 0);
    int err = errno;
    vec.iov_len = got > 0 ? std::size_t(got) : 0;
    evbuffer_commit_space(in, &vec, 1);
    errno = err;
    return got;
}

// Writes what buf holds (up to 64 chains) with one send() or sendmsg(),
// MSG_NOSIGNAL, and drains what the socket took. Unlike evbuffer_write's
// writev() this skips the file layer, and a message in one chain (the
// common case: see BodyPump) goes out with a plain send().
ssize_t send_buffer(evbuffer* buf, evutil_socket_t fd)
{
    constexpr int max_chains = 64;
    evbuffer_iovec vec[max_chains];
    int n = std::min(evbuffer_peek(buf, -1, nullptr, vec, max_chains), max_chains);
    if (n <= 0)
        return 0;
    ssize_t sent;
    if (n == 1) {
        sent = ::send(fd, vec[0].iov_base, vec[0].iov_len, MSG_NOSIGNAL);
    } else {
        iovec iov[max_chains];
        for (int i = 0; i < n; ++i)
            iov[i] = iovec{vec[i].iov_base, vec[i].iov_len};
        msghdr msg{};
        msg.msg_iov = iov;
        msg.msg_iovlen = std::size_t(n);
        sent = sendmsg(fd, &msg, MSG_NOSIGNAL);
    }
    if (sent > 0)
        evbuffer_drain(buf, std::size_t(sent));
    return sent;
}

}  // namespace

Stream::Stream(event_base* base, evutil_socket_t fd) : Stream(base)
{
    fd_ = fd;
    make_events();
}

Stream::Stream(event_base* base) : base_(base)
{
    watch_buffers();
}

Stream::~Stream()
{
    // Out of the loop's interest list before the descriptor is closed.
    read_ev_.reset();
    write_ev_.reset();
    if (fd_ >= 0)
        evutil_closesocket(fd_);
}

void Stream::watch_buffers()
{
    if (!in_ || !out_)
        return;
    evbuffer_add_cb(out_.get(), &on_output_change, this);
    // Enabled only while reading is paused: no cost on the common path.
    input_watch_ = evbuffer_add_cb(in_.get(), &on_input_change, this);
    if (input_watch_)
        evbuffer_cb_clear_flags(in_.get(), input_watch_, EVBUFFER_CB_ENABLED);
}

void Stream::make_events()
{
    read_ev_.reset(event_new(base_, fd_, EV_READ | EV_PERSIST, &on_readable, this));
}

void Stream::set_callbacks(DataCb read, DataCb drained, EventCb event, void* arg)
{
    read_cb_ = read;
    drained_cb_ = drained;
    event_cb_ = event;
    arg_ = arg;
}

int Stream::connect(const sockaddr* sa, socklen_t len)
{
    fd_ = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0)
        return -1;
    make_events();
    if (!ok()) {
        errno = ENOMEM;
        return -1;
    }
    connecting_ = true;
    if (::connect(fd_, sa, len) == 0)
        connect_error_ = 0;
    else if (errno != EINPROGRESS && errno != EINTR)
        connect_error_ = errno;  // on loopback a refusal is known at once
    update_write();
    if (!write_ev_) {
        errno = ENOMEM;
        return -1;
    }
    if (connect_error_ >= 0)
        event_active(write_ev_.get(), EV_WRITE, 1);
    return 0;
}

void Stream::enable(short what)
{
    reading_ = reading_ || (what & EV_READ);
    writing_ = writing_ || (what & EV_WRITE);
    update_read();
    update_write();
}

void Stream::disable(short what)
{
    reading_ = reading_ && !(what & EV_READ);
    writing_ = writing_ && !(what & EV_WRITE);
    update_read();
    update_write();
}

namespace {

// Gives a pending event the new timer, or takes its timer away, without
// taking the descriptor out of the loop's interest list.
void retime(event* ev, bool armed, const timeval* tv)
{
    if (!armed)
        return;
    if (tv)
        event_add(ev, tv);
    else
        event_remove_timer(ev);
}

}  // namespace

void Stream::set_timeouts(const timeval* read, const timeval* write)
{
    read_tv_ = read ? std::optional(*read) : std::nullopt;
    write_tv_ = write ? std::optional(*write) : std::nullopt;
    retime(read_ev_.get(), read_armed_, read);
    retime(write_ev_.get(), write_armed_, write);
}

void Stream::set_read_limit(std::size_t limit)
{
    read_limit_ = std::max<std::size_t>(limit, 1);
}

void Stream::update_read()
{
    bool want = reading_ && !paused_ && !connecting_ && read_ev_;
    if (want == read_armed_)
        return;
    read_armed_ = want;
    if (!want) {
        event_del(read_ev_.get());
        return;
    }
    event_add(read_ev_.get(), read_tv_ ? &*read_tv_ : nullptr);
    if (held_error_)
        event_active(read_ev_.get(), EV_READ, 1);
}

void Stream::update_write()
{
    bool want = fd_ >= 0 && (connecting_ || (writing_ && evbuffer_get_length(out_.get()) != 0));
    if (want == write_armed_)
        return;
    if (!want) {
        write_armed_ = false;
        write_ev_.reset();  // also from its own callback: libevent allows it
        return;
    }
    write_ev_.reset(event_new(base_, fd_, EV_WRITE | EV_PERSIST, &on_writable, this));
    if (!write_ev_)
        return;  // out of memory: the output waits for the next update
    write_armed_ = true;
    event_add(write_ev_.get(), write_tv_ ? &*write_tv_ : nullptr);
}

void Stream::on_readable(evutil_socket_t, short what, void* arg)
{
    auto* self = static_cast<Stream*>(arg);
    if (what & EV_TIMEOUT)
        return self->report(BEV_EVENT_READING | BEV_EVENT_TIMEOUT, 0);
    self->read_some();
}

void Stream::read_some()
{
    if (int err = held_error_) {
        held_error_ = 0;
        return report(BEV_EVENT_READING | BEV_EVENT_ERROR, err);
    }
    evbuffer* in = in_.get();
    std::size_t got = 0, want = first_read;
    for (std::size_t len; (len = evbuffer_get_length(in)) < read_limit_;) {
        want = std::min(want, read_limit_ - len);
        ssize_t n = recv_into(in, fd_, want);
        if (n > 0) {
            got += std::size_t(n);
            if (std::size_t(n) < want)
                break;  // the socket is empty
            want = std::min(want * 4, read_limit_);
            continue;
        }
        // EOF and errors are reported once the data before them was taken:
        // an EOF stays readable, an error is held for the next wakeup.
        if (n == 0) {
            if (got == 0)
                return report(BEV_EVENT_READING | BEV_EVENT_EOF, 0);
        } else if (!would_block(errno)) {
            if (got == 0)
                return report(BEV_EVENT_READING | BEV_EVENT_ERROR, errno);
            held_error_ = errno;
            event_active(read_ev_.get(), EV_READ, 1);
        }
        break;
    }
    if (evbuffer_get_length(in) >= read_limit_ && input_watch_) {
        paused_ = true;
        evbuffer_cb_set_flags(in, input_watch_, EVBUFFER_CB_ENABLED);
        update_read();
    }
    if (got && read_cb_)
        read_cb_(*this, arg_);
}

void Stream::on_input_change(evbuffer* in, const evbuffer_cb_info*, void* arg)
{
    auto* self = static_cast<Stream*>(arg);
    if (!self->paused_ || evbuffer_get_length(in) >= self->read_limit_)
        return;
    self->paused_ = false;
    evbuffer_cb_clear_flags(in, self->input_watch_, EVBUFFER_CB_ENABLED);
    self->update_read();
}

void Stream::on_output_change(evbuffer*, const evbuffer_cb_info* info, void* arg)
{
    auto* self = static_cast<Stream*>(arg);
    if (info->n_added && !self->write_armed_)
        self->update_write();
}

void Stream::on_writable(evutil_socket_t, short what, void* arg)
{
    auto* self = static_cast<Stream*>(arg);
    if (what & EV_TIMEOUT)
        return self->report(BEV_EVENT_WRITING | BEV_EVENT_TIMEOUT, 0);
    if (self->connecting_)
        return self->finish_connect();
    self->write_some();
}

void Stream::write_some()
{
    evbuffer* out = out_.get();
    if (evbuffer_get_length(out) == 0)
        return update_write();
    ssize_t n = send_buffer(out, fd_);
    if (n < 0 && !would_block(errno))
        return report(BEV_EVENT_WRITING | BEV_EVENT_ERROR, errno);
    if (n == 0)
        return report(BEV_EVENT_WRITING | BEV_EVENT_EOF, 0);
    update_write();
    if (evbuffer_get_length(out) != 0)
        return;
    if (drained_cb_)
        drained_cb_(*this, arg_);
}

void Stream::finish_connect()
{
    int err = connect_error_;
    connect_error_ = -1;
    if (err < 0) {
        socklen_t len = sizeof err;
        if (getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
            err = errno;
    }
    if (err)
        return report(BEV_EVENT_ERROR, err);
    connecting_ = false;
    update_write();
    update_read();
    if (event_cb_)
        event_cb_(*this, BEV_EVENT_CONNECTED, arg_);
}

// Like bufferevent: the side that failed stops (both, for a connect), then
// the owner hears of it.
void Stream::report(short what, int err)
{
    if (connecting_ || !(what & (BEV_EVENT_READING | BEV_EVENT_WRITING))) {
        connecting_ = false;
        reading_ = writing_ = false;
    }
    if (what & BEV_EVENT_READING)
        reading_ = false;
    if (what & BEV_EVENT_WRITING)
        writing_ = false;
    update_read();
    update_write();
    error_ = err;
    if (event_cb_) {
        errno = err;
        event_cb_(*this, what, arg_);
    }
}

void Stream::send(evbuffer* stage)
{
    if (evbuffer_get_length(stage) == 0)
        return;
    if (evbuffer_get_length(out_.get()) == 0 && fd_ >= 0 && !connecting_)
        send_buffer(stage, fd_);
    if (evbuffer_get_length(stage) != 0)
        evbuffer_add_buffer(out_.get(), stage);
}

void Stream::shutdown_write()
{
    if (fd_ >= 0)
        shutdown(fd_, SHUT_WR);
}

}  // namespace lbkit::http
