// Limits `last_seen` writes to one a minute per caller, so read requests stay reads. Per process:
// with N server processes a caller's last_seen is written at most N times a minute; nothing decides
// an answer from it, so it may be stale (the only in-memory state of the request path).
#pragma once

#include <chrono>
#include <dq/sdk/permission.h>
#include <map>
#include <mutex>

namespace dq::kernel {

class TouchThrottle {
public:
    /// True when `last_seen` of this caller should be written now.
    bool due(sdk::ClientKind kind, sdk::Id id) {
        auto now = std::chrono::steady_clock::now();
        std::lock_guard lock(mutex_);
        auto& last = seen_[{static_cast<int>(kind), id}];
        if (last.time_since_epoch().count() != 0 && now - last < std::chrono::seconds(60))
            return false;
        last = now;
        return true;
    }

private:
    std::mutex mutex_;
    std::map<std::pair<int, sdk::Id>, std::chrono::steady_clock::time_point> seen_;
};

} // namespace dq::kernel
