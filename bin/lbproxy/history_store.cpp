#include "history_store.hpp"

#include "log.hpp"
#include "proxy_store.hpp"

namespace lbproxy {

HistoryStore::HistoryStore(const std::string& path, HistoryLimits limits) : limits_(limits)
{
    if (!enabled()) return;
    // Opened here so a bad path fails the start, not a thread later.
    lbkit::store::Db db = proxy_store::open(path);
    thread_ = std::thread([this, db = std::move(db)]() mutable { run(std::move(db)); });
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

void HistoryStore::run(lbkit::store::Db db)
{
    std::unique_lock lock(mu_);
    for (;;) {
        wake_.wait_for(lock, limits_.flush_every,
                       [&] { return stopping_ || flush_now_ || queue_.size() >= limits_.batch; });
        flush_now_ = false;
        if (!queue_.empty()) {
            std::vector<Exchange> batch;
            batch.swap(queue_);
            uint64_t upto = recorded_seq_;
            lock.unlock();
            try {
                proxy_store::append_history(db, batch, limits_.max_rows);
                written_ += batch.size();
            } catch (const std::exception& e) {
                errors_ += batch.size();
                lbkit::log::error("history: writing ", batch.size(), " rows to ", db.path(), ": ", e.what());
            }
            lock.lock();
            written_seq_ = upto;
        }
        written_cv_.notify_all();
        if (stopping_ && queue_.empty()) return;
    }
}

}  // namespace lbproxy
