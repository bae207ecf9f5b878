// Keeps the last state in lbproxy.db (lbproxy(8), FILES) without the event
// loop waiting on SQLite: save() only replaces the copy waiting to be
// written, so a burst of versions costs one write, of the newest; a thread
// with its own connection writes it. Destruction writes what is waiting.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "duration.hpp"
#include "proxy_store.hpp"

namespace lbproxy {

class StateSaver {
public:
    // Opens its own connection to the database at path; throws Error.
    explicit StateSaver(const std::string& path);
    ~StateSaver();
    StateSaver(const StateSaver&) = delete;
    StateSaver& operator=(const StateSaver&) = delete;

    void save(proxy_store::SavedState s);
    // A newer confirmation time of the state already saved (or waiting).
    void save_confirmed(int64_t confirmed_ms);
    // Waits until what was handed over before the call is written; false
    // after the timeout.
    bool flush(lbkit::Millis timeout);
    uint64_t writes() const;

private:
    void run(lbkit::store::Db& db);
    void write(lbkit::store::Db& db, std::optional<proxy_store::SavedState> state,
               std::optional<int64_t> confirmed);

    mutable std::mutex mu_;
    std::condition_variable work_, written_;
    std::optional<proxy_store::SavedState> state_;
    std::optional<int64_t> confirmed_;
    uint64_t handed_ = 0, written_seq_ = 0, writes_ = 0;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace lbproxy
