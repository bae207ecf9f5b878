#include "history_store.hpp"

#include <pthread.h>
#include <sched.h>

#include <memory>

#include "error.hpp"
#include "log.hpp"
#include "proxy_store.hpp"

namespace lbproxy {

// The writer thread's own connection and its prepared statements.
struct HistoryStore::Writer {
    lbkit::store::Db db;
    proxy_store::HistoryAppender appender{db};
    explicit Writer(const std::string& path) : db(proxy_store::open(path)) {}
};

HistoryStore::HistoryStore(const std::string& path, HistoryLimits limits) : limits_(limits)
{
    if (!enabled()) return;
    // Opened here so a bad path fails the start, not a thread later.
    auto writer = std::make_unique<Writer>(path);
    thread_ = std::thread([this, w = std::move(writer)] { run(*w); });
}

HistoryStore::~HistoryStore()
{
    stop();
}

void HistoryStore::record(Exchange e)
{
    if (!enabled()) return;
    std::unique_lock lock(mu_);
    if (stopping_ || queue_.size() >= limits_.max_queue) {
        uint64_t n = ++dropped_;
        bool stopped = stopping_;
        lock.unlock();
        // First drop and then every 10,000th: a log line per row would make it worse.
        if (n % 10000 == 1)
            lbkit::log::warn("history: ", stopped ? "writer stopped" : "queue full", " (", limits_.max_queue,
                             " rows queued at most): ", n, " rows dropped so far");
        return;
    }
    queue_.push_back(std::move(e));
    ++recorded_seq_;
    if (queue_.size() == limits_.batch) wake_.notify_one();
}

bool HistoryStore::sync(lbkit::Millis timeout)
{
    if (!enabled()) return true;
    std::unique_lock lock(mu_);
    uint64_t target = recorded_seq_;
    if (written_seq_ >= target) return true;
    flush_now_ = true;
    wake_.notify_one();
    return written_cv_.wait_for(lock, timeout, [&] { return written_seq_ >= target; });
}

std::size_t HistoryStore::queued()
{
    std::lock_guard lock(mu_);
    return queue_.size();
}

void HistoryStore::stop()
{
    {
        std::lock_guard lock(mu_);
        if (stopping_) return;
        stopping_ = true;
    }
    wake_.notify_one();
    if (thread_.joinable()) thread_.join();
}

void HistoryStore::run(Writer& w)
{
    // A batch keeps the writer busy for a millisecond or two. At normal
    // priority a request that wakes up behind that burst waits for the
    // scheduler's slice: the p99 of a lightly loaded proxy tripled. As
    // SCHED_IDLE the writer gives way at once and uses the idle time;
    // even on a saturated core its small share commits thousands of rows
    // a second, and beyond that the queue bound applies (rows dropped and
    // counted, never a stalled proxy).
    sched_param idle{};
    if (int err = pthread_setschedparam(pthread_self(), SCHED_IDLE, &idle))
        lbkit::log::debug("history: cannot run the writer as SCHED_IDLE: ", lbkit::errno_text(err));
    // Two buffers trade places, so the queue keeps its capacity and the
    // request path does not regrow it after every batch.
    std::vector<Exchange> batch;
    std::unique_lock lock(mu_);
    for (;;) {
        wake_.wait_for(lock, limits_.flush_every,
                       [&] { return stopping_ || flush_now_ || queue_.size() >= limits_.batch; });
        flush_now_ = false;
        if (!queue_.empty()) {
            batch.swap(queue_);
            uint64_t upto = recorded_seq_;
            lock.unlock();
            try {
                w.appender.append(batch, limits_.max_rows);
                written_ += batch.size();
            } catch (const std::exception& e) {
                errors_ += batch.size();
                lbkit::log::error("history: writing ", batch.size(), " rows to ", w.db.path(), ": ", e.what());
            }
            batch.clear();  // outside the lock: freeing the rows takes a while
            // A burst (10,000 clients at once) grows the queue far beyond a
            // batch; kept, that capacity would stay resident for good.
            if (batch.capacity() > 2 * limits_.batch) {
                batch = std::vector<Exchange>();
                batch.reserve(limits_.batch);
            }
            lock.lock();
            written_seq_ = upto;
        }
        written_cv_.notify_all();
        if (stopping_ && queue_.empty()) return;
    }
}

}  // namespace lbproxy
