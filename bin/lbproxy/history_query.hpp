// Answers GET /v1/history off the proxy's event loop (lbproxy(8), History):
// one query thread with its own read-only connection runs the query and
// encodes the JSON answer, then wakes the loop through an eventfd. In WAL
// mode a reader sees the last committed batch and never waits for the
// history writer, which may be holding the next one.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "ev.hpp"
#include "loop.hpp"
#include "proxy_store.hpp"

namespace lbproxy {

// One question and, once done, its answer: the JSON body of the reply, or
// the error that stopped the query.
struct HistoryQuery {
    proxy_store::HistoryFilter filter;
    bool enabled = true;          // copied into the answer ("enabled")
    std::atomic<bool> done{false};
    std::atomic<bool> abandoned{false};  // the client went away: skip it
    std::string body;             // valid once done, if error is empty
    std::string error;
};

class HistoryQueries {
public:
    // Opens the connection here so a bad path fails the start; throws Error.
    // answered() runs on the loop after one or more queries are done.
    HistoryQueries(lbkit::Loop& loop, const std::string& path, std::function<void()> answered,
                   std::size_t max_waiting = 4);
    ~HistoryQueries();
    HistoryQueries(const HistoryQueries&) = delete;
    HistoryQueries& operator=(const HistoryQueries&) = delete;

    // Queues a query; nullptr when max_waiting are already queued.
    std::shared_ptr<HistoryQuery> submit(proxy_store::HistoryFilter filter, bool enabled);

private:
    struct EventFd {
        int fd = -1;
        EventFd();
        ~EventFd();
    };
    static void wake_cb(evutil_socket_t fd, short, void* arg);
    void run(lbkit::store::Db& db);
    void answer(lbkit::store::Db& db, HistoryQuery& q);

    std::function<void()> answered_;
    std::size_t max_waiting_;
    EventFd wake_fd_;
    lbkit::ev::EventPtr wake_;
    std::mutex mu_;
    std::condition_variable work_;
    std::deque<std::shared_ptr<HistoryQuery>> queue_;
    bool stopping_ = false;
    std::thread thread_;
};

// The JSON body of a history answer: {"rows":[...],"enabled":B}.
std::string history_json(const std::vector<proxy_store::HistoryRow>& rows, bool enabled);

}  // namespace lbproxy
