#include "kernel/http/admission.h"

#include <algorithm>
#include <sys/resource.h>
#include <thread>
#include <unistd.h>

namespace dq::kernel {

namespace {

/// The HTTP workers' niceness: the scheduler weighs a thread at nice 5 about a third of one at 0.
/// (Measured with bench/soak: nice 10 let other processes on the machine starve the workers, so
/// that lists waited over 5 s.)
constexpr int kWorkerNice = 5;

/// The place the calling thread holds, if any (for Away).
thread_local Admission::Pass* heldHere = nullptr;

/// Two per core: one computing while the other waits for the database or the network.
std::size_t defaultSlots() {
    return 2 * std::max(1u, std::thread::hardware_concurrency());
}

} // namespace

Admission::Admission(std::size_t slots) : slots_(slots > 0 ? slots : defaultSlots()), free_(slots_) {}

std::size_t Admission::waiting() const {
    std::lock_guard lock(mutex_);
    return queue_.size();
}

bool Admission::take(Clock::time_point deadline, bool first) {
    std::unique_lock lock(mutex_);
    // A free place with others waiting cannot be: give() hands it to the first of them.
    if (free_ > 0) {
        --free_;
        return true;
    }
    Waiter me;
    if (first)
        queue_.push_front(&me);
    else
        queue_.push_back(&me);
    while (!me.admitted) {
        if (first) {
            me.wake.wait(lock);
        } else if (me.wake.wait_until(lock, deadline) == std::cv_status::timeout && !me.admitted) {
            queue_.erase(std::find(queue_.begin(), queue_.end(), &me));
            return false;
        }
    }
    return true;
}

void Admission::give() {
    std::lock_guard lock(mutex_);
    if (queue_.empty()) {
        ++free_;
        return;
    }
    // Handed over under the lock: the waiter cannot time out and leave in between.
    auto* next = queue_.front();
    queue_.pop_front();
    next->admitted = true;
    next->wake.notify_one();
}

Admission::Pass::Pass(Admission& gate, Clock::time_point deadline)
    : gate_(gate), admitted_(gate.take(deadline, false)), outer_(heldHere) {
    if (admitted_)
        heldHere = this;
}

Admission::Pass::~Pass() {
    if (!admitted_)
        return;
    heldHere = outer_;
    gate_.give();
}

Admission::Away::Away() : pass_(heldHere) {
    if (pass_)
        pass_->gate_.give();
}

Admission::Away::~Away() {
    if (pass_)
        pass_->gate_.take(Clock::time_point::max(), true);
}

void Admission::lowerThisWorkerThread() {
    thread_local bool lowered = false;
    if (lowered)
        return;
    lowered = true;
    // Best effort: where it is refused (no per-thread nice), the gate alone still holds the load.
    ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), kWorkerNice);
}

} // namespace dq::kernel
