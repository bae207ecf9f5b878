// The relay history writer: record() only appends to a bounded in-memory
// queue (the request path never touches SQLite); a writer thread with its
// own connection commits the queue in one transaction every flush_every or
// as soon as batch rows are waiting, then trims the table to max_rows.
// A full queue drops rows and counts them (the disk is slower than the
// traffic): overload is a state, not a stall of the proxy.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "duration.hpp"
#include "history.hpp"
#include "store.hpp"

namespace lbproxy {

struct HistoryLimits {
    int64_t max_rows = 100000;          // 0: history off
    std::size_t batch = 1000;
    std::size_t max_queue = 100000;
    lbkit::Millis flush_every{200};
};

class HistoryStore : public HistorySink {
public:
    // Opens its own connection to the database at path; throws Error.
    HistoryStore(const std::string& path, HistoryLimits limits);
    ~HistoryStore() override;
    HistoryStore(const HistoryStore&) = delete;
    HistoryStore& operator=(const HistoryStore&) = delete;

    void record(Exchange e) override;
    // Waits until every row recorded before the call is committed (a reader
    // then sees it); false after the timeout.
    bool sync(lbkit::Millis timeout);
    // Commits what is queued and ends the writer; record() then drops.
    void stop();

    bool enabled() const { return limits_.max_rows > 0; }
    uint64_t written() const { return written_; }
    uint64_t dropped() const { return dropped_; }
    uint64_t write_errors() const { return errors_; }
    std::size_t queued();

private:
    struct Writer;
    void run(Writer& w);

    HistoryLimits limits_;
    std::mutex mu_;
    std::condition_variable wake_;
    std::condition_variable written_cv_;
    std::vector<Exchange> queue_;
    uint64_t recorded_seq_ = 0;  // rows accepted so far
    uint64_t written_seq_ = 0;   // rows handled by the writer (committed or failed)
    bool flush_now_ = false;
    bool stopping_ = false;
    std::atomic<uint64_t> written_{0}, dropped_{0}, errors_{0};
    std::thread thread_;
};

}  // namespace lbproxy
