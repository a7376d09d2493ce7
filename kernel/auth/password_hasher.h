// bcrypt password hashing with libcrypt (`$2b$`, as Python's bcrypt writes it), on a bounded pool of
// its own threads: a flood of logins queues here (and overflows as 503), not in the HTTP workers.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <dq/sdk/services.h>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace dq::kernel {

struct PasswordHashingLimits {
    int threads = 0; ///< hashing threads; 0: one per processor core (at least two)
    /// Hashes that may wait for a thread; more is a 503 for requests. 0: sixteen per thread. A
    /// request is refused before that when the hashes ahead would not be done within its budget.
    int queue = 0;
};

/// Who is calling: `servingRequest` tells whether the calling thread serves an HTTP request (such a
/// caller is refused at once when the queue is full, and may not hold a database session while it
/// waits); `holdsSession` whether it holds a database session.
struct PasswordHashingCaller {
    std::function<bool()> servingRequest = [] { return false; };
    std::function<bool()> holdsSession = [] { return false; };
    /// How long the caller may still wait (a request's remaining budget); nullopt: no limit.
    std::function<std::optional<std::chrono::steady_clock::time_point>()> deadline = [] {
        return std::optional<std::chrono::steady_clock::time_point>();
    };
    /// Runs `wait`, the wait for the hash to be done: the server lets another request use the CPU
    /// meanwhile (see Admission::Away).
    std::function<void(const std::function<void()>& wait)> whileWaiting = [](const std::function<void()>& wait) {
        wait();
    };
};

class PasswordHasher : public sdk::Passwords {
public:
    using Limits = PasswordHashingLimits;
    using Caller = PasswordHashingCaller;

    /// `cost` is bcrypt's log2 rounds: 12 as vantage6; tests may lower it (setting bcrypt_rounds).
    explicit PasswordHasher(int cost = 12, Limits limits = {}, Caller caller = {});
    ~PasswordHasher() override;
    PasswordHasher(const PasswordHasher&) = delete;
    PasswordHasher& operator=(const PasswordHasher&) = delete;

    /// Both run on the pool and wait for the result. A request whose hash finds the queue full, or
    /// would not be done within the request's remaining budget at the recent pace (hashes take longer
    /// on a loaded machine), gets sdk::ServiceUnavailable at once; other callers (import, commands) wait for room. A request
    /// that holds a database session is refused with std::logic_error: it would hold the session
    /// for the whole hash.
    std::string hash(const std::string& clear) override;
    bool verify(const std::string& clear, const std::string& hash) override;

    /// The bcrypt work itself, on the calling thread.
    static std::string hashNow(const std::string& clear, int cost);
    static bool verifyNow(const std::string& clear, const std::string& hash);

private:
    void onPool(std::function<void()> work);
    void serve();

    int cost_;
    std::size_t threadCount_ = 1;
    std::size_t busy_ = 0; ///< threads hashing now
    std::size_t queueLimit_;
    /// Recent duration of one hash (moving average), to refuse requests that would wait too long.
    std::chrono::microseconds averageHash_{0};
    Caller caller_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::condition_variable room_;
    std::deque<std::shared_ptr<std::packaged_task<void()>>> queue_;
    bool stopping_ = false;
    std::vector<std::thread> threads_;
};

} // namespace dq::kernel
