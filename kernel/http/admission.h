// How many requests run handler code at once. The cores are few and the HTTP workers many: with
// dozens of requests on the CPU together, each gets a sliver of it (a password hash of 0.18 s takes
// seconds), and all of them finish late. Past the gate a few run at full speed; the others wait their
// turn in arrival order, within their deadline.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>

namespace dq::kernel {

class Admission {
public:
    using Clock = std::chrono::steady_clock;

    /// `slots`: requests past the gate at once; 0: two per core.
    explicit Admission(std::size_t slots = 0);
    Admission(const Admission&) = delete;
    Admission& operator=(const Admission&) = delete;

    class Away;

    /// A place past the gate, held while it lives. Waits in arrival order until one is free or
    /// `deadline` passes; then it is false (the caller answers 503).
    class Pass {
    public:
        Pass(Admission& gate, Clock::time_point deadline);
        ~Pass();
        Pass(const Pass&) = delete;
        Pass& operator=(const Pass&) = delete;
        explicit operator bool() const { return admitted_; }

    private:
        friend class Admission::Away;
        Admission& gate_;
        bool admitted_;
        Pass* outer_;
    };

    /// While it lives, the calling thread's place (if it holds one) is free for others: for waits that
    /// use no CPU of the request's own (a password hash, which runs on its own threads). At its end the
    /// thread takes a place again, ahead of those waiting, however long that takes: the work done
    /// for it must not be thrown away.
    class Away {
    public:
        Away();
        ~Away();
        Away(const Away&) = delete;
        Away& operator=(const Away&) = delete;

    private:
        Pass* pass_;
    };

    std::size_t slots() const { return slots_; }
    /// Requests waiting at the gate now.
    std::size_t waiting() const;

    /// Lowers the calling thread's CPU priority a little (nice +5, Linux: per thread), for the HTTP
    /// workers, once per thread: the password hashing threads, the fast lane of /health and the
    /// event channel then get their share of the cores even when every place is taken.
    static void lowerThisWorkerThread();

private:
    struct Waiter {
        std::condition_variable wake;
        bool admitted = false;
    };
    /// Takes a place; `first`: ahead of everybody waiting, and without a deadline.
    bool take(Clock::time_point deadline, bool first);
    void give();

    const std::size_t slots_;
    mutable std::mutex mutex_;
    std::size_t free_;
    std::deque<Waiter*> queue_;
};

} // namespace dq::kernel
