#include "history_query.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include <nlohmann/json.hpp>

#include "error.hpp"
#include "log.hpp"

namespace lbproxy {

namespace {

nlohmann::json row_json(const proxy_store::HistoryRow& r)
{
    const Exchange& e = r.e;
    return {{"id", r.id},          {"time_ms", e.time_ms},       {"client", e.client},
            {"method", e.method},  {"url", e.url},               {"group", e.group},
            {"server", e.server},  {"upstream_proxy", e.upstream_proxy},
            {"status", e.status},  {"bytes_in", e.bytes_in},     {"bytes_out", e.bytes_out},
            {"duration_ms", e.duration_ms}, {"delivered", e.delivered},
            {"reached", e.reached},
            {"session", e.session}, {"error", e.error}};
}

// The query thread only reads: a bug cannot write through its connection.
lbkit::store::Db open_reader(const std::string& path)
{
    lbkit::store::Db db = proxy_store::open(path);
    db.exec("PRAGMA query_only = 1");
    return db;
}

}  // namespace

std::string history_json(const std::vector<proxy_store::HistoryRow>& rows, bool enabled)
{
    nlohmann::json list = nlohmann::json::array();
    for (const auto& r : rows) list.push_back(row_json(r));
    return nlohmann::json{{"rows", std::move(list)}, {"enabled", enabled}}.dump();
}

HistoryQueries::EventFd::EventFd() : fd(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC))
{
    if (fd < 0) throw lbkit::Error(EX_OSERR, "history queries: eventfd: " + lbkit::errno_text(errno));
}

HistoryQueries::EventFd::~EventFd()
{
    close(fd);
}

HistoryQueries::HistoryQueries(lbkit::Loop& loop, const std::string& path, std::function<void()> answered,
                               std::size_t max_waiting)
    : answered_(std::move(answered)), max_waiting_(max_waiting)
{
    wake_.reset(event_new(loop.base(), wake_fd_.fd, EV_READ | EV_PERSIST, &HistoryQueries::wake_cb, this));
    if (!wake_ || event_add(wake_.get(), nullptr) != 0)
        throw lbkit::Error(EX_OSERR, "history queries: cannot watch the wake-up eventfd");
    auto db = std::make_unique<lbkit::store::Db>(open_reader(path));
    thread_ = std::thread([this, db = std::move(db)] { run(*db); });
}

HistoryQueries::~HistoryQueries()
{
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
        for (auto& q : queue_) q->abandoned = true;
    }
    work_.notify_one();
    if (thread_.joinable()) thread_.join();
}

std::shared_ptr<HistoryQuery> HistoryQueries::submit(proxy_store::HistoryFilter filter, bool enabled)
{
    auto q = std::make_shared<HistoryQuery>();
    q->filter = std::move(filter);
    q->enabled = enabled;
    {
        std::lock_guard lock(mu_);
        if (stopping_ || queue_.size() >= max_waiting_) return nullptr;
        queue_.push_back(q);
    }
    work_.notify_one();
    return q;
}

void HistoryQueries::run(lbkit::store::Db& db)
{
    // Normal priority on purpose: at a lower one a query on a busy box got
    // a few percent of a core and outlived its client; the loop thread,
    // asleep most of the time, still wins its wakeups.
    std::unique_lock lock(mu_);
    for (;;) {
        work_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (stopping_) return;
        auto q = std::move(queue_.front());
        queue_.pop_front();
        lock.unlock();
        if (!q->abandoned) answer(db, *q);
        q->done.store(true, std::memory_order_release);
        uint64_t one = 1;
        if (write(wake_fd_.fd, &one, sizeof one) < 0 && errno != EAGAIN)
            lbkit::log::error("history queries: waking the loop: ", lbkit::errno_text(errno));
        q.reset();  // a large answer nobody waits for any more is freed here, not on the loop
        lock.lock();
    }
}

void HistoryQueries::answer(lbkit::store::Db& db, HistoryQuery& q)
{
    try {
        q.body = history_json(proxy_store::query_history(db, q.filter), q.enabled);
    } catch (const std::exception& e) {
        q.error = e.what();
        lbkit::log::error("history query on ", db.path(), ": ", e.what());
    }
}

void HistoryQueries::wake_cb(evutil_socket_t fd, short, void* arg)
{
    uint64_t n = 0;
    if (read(fd, &n, sizeof n) < 0 && errno != EAGAIN)
        lbkit::log::error("history queries: reading the wake-up eventfd: ", lbkit::errno_text(errno));
    static_cast<HistoryQueries*>(arg)->answered_();
}

}  // namespace lbproxy
