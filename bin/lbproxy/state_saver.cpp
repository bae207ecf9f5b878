#include "state_saver.hpp"

#include <memory>

#include "log.hpp"

namespace lbproxy {

StateSaver::StateSaver(const std::string& path)
{
    auto db = std::make_unique<lbkit::store::Db>(proxy_store::open(path));
    thread_ = std::thread([this, db = std::move(db)] { run(*db); });
}

StateSaver::~StateSaver()
{
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    work_.notify_one();
    if (thread_.joinable()) thread_.join();
}

void StateSaver::save(proxy_store::SavedState s)
{
    {
        std::lock_guard lock(mu_);
        state_ = std::move(s);
        confirmed_.reset();  // the state carries its own confirmation time
        ++handed_;
    }
    work_.notify_one();
}

void StateSaver::save_confirmed(int64_t confirmed_ms)
{
    {
        std::lock_guard lock(mu_);
        if (state_) state_->confirmed_ms = confirmed_ms;
        else confirmed_ = confirmed_ms;
        ++handed_;
    }
    work_.notify_one();
}

bool StateSaver::flush(lbkit::Millis timeout)
{
    std::unique_lock lock(mu_);
    uint64_t target = handed_;
    return written_.wait_for(lock, timeout, [&] { return written_seq_ >= target; });
}

uint64_t StateSaver::writes() const
{
    std::lock_guard lock(mu_);
    return writes_;
}

void StateSaver::run(lbkit::store::Db& db)
{
    std::unique_lock lock(mu_);
    for (;;) {
        work_.wait(lock, [&] { return stopping_ || state_ || confirmed_; });
        if (!state_ && !confirmed_) return;  // stopping, nothing left
        auto state = std::move(state_);
        auto confirmed = confirmed_;
        state_.reset();
        confirmed_.reset();
        uint64_t upto = handed_;
        lock.unlock();
        write(db, std::move(state), confirmed);
        lock.lock();
        ++writes_;
        written_seq_ = upto;
        written_.notify_all();
    }
}

void StateSaver::write(lbkit::store::Db& db, std::optional<proxy_store::SavedState> state,
                       std::optional<int64_t> confirmed)
{
    try {
        if (state) proxy_store::save_state(db, *state);
        if (confirmed) proxy_store::save_confirmed(db, *confirmed);
    } catch (const std::exception& e) {
        if (state) lbkit::log::error(db.path(), ": saving state version ", state->version, ": ", e.what());
        else lbkit::log::warn(db.path(), ": saving the state confirmation time: ", e.what());
    }
}

}  // namespace lbproxy
