// The admission gate: how many pass at once, in which order the others follow, when they give up,
// and a place lent while its holder waits for work done elsewhere.
#include "kernel/http/admission.h"

#include <atomic>
#include <optional>
#include <gtest/gtest.h>
#include <mutex>
#include <thread>
#include <vector>

using dq::kernel::Admission;
using namespace std::chrono_literals;

namespace {

Admission::Clock::time_point in(std::chrono::milliseconds wait) {
    return Admission::Clock::now() + wait;
}

/// Waits until `gate` has `n` waiting (threads started but not yet queued would race the test).
void untilWaiting(const Admission& gate, std::size_t n) {
    for (int i = 0; i < 5000 && gate.waiting() != n; ++i)
        std::this_thread::sleep_for(1ms);
    ASSERT_EQ(gate.waiting(), n);
}

TEST(Admission, AtMostSlotsPassAtOnceAndTheRestFollowInArrivalOrder) {
    Admission gate(2);
    EXPECT_EQ(gate.slots(), 2u);
    auto first = std::make_unique<Admission::Pass>(gate, in(1s));
    auto second = std::make_unique<Admission::Pass>(gate, in(1s));
    ASSERT_TRUE(*first);
    ASSERT_TRUE(*second);
    EXPECT_FALSE(Admission::Pass(gate, Admission::Clock::now()));

    std::mutex mutex;
    std::vector<int> order;
    std::vector<std::thread> waiting;
    for (int i = 0; i < 4; ++i) {
        waiting.emplace_back([&, i] {
            Admission::Pass pass(gate, in(10s));
            EXPECT_TRUE(pass);
            std::lock_guard lock(mutex);
            order.push_back(i);
        });
        untilWaiting(gate, static_cast<std::size_t>(i + 1));
    }
    // One place goes round: each waiter takes it in turn and hands it on.
    first.reset();
    for (auto& t : waiting)
        t.join();
    second.reset();
    EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3}));
    EXPECT_EQ(gate.waiting(), 0u);
}

TEST(Admission, AWaiterPastItsDeadlineLeavesWithoutAPlaceAndWithoutTakingOneLater) {
    Admission gate(1);
    auto held = std::make_unique<Admission::Pass>(gate, in(1s));
    auto started = Admission::Clock::now();
    {
        Admission::Pass late(gate, in(100ms));
        EXPECT_FALSE(late);
        EXPECT_GE(Admission::Clock::now() - started, 100ms);
    }
    EXPECT_EQ(gate.waiting(), 0u);
    held.reset();
    // The place is free again: the one that gave up did not keep it.
    Admission::Pass next(gate, Admission::Clock::now());
    EXPECT_TRUE(next);
}

TEST(Admission, APlaceIsLentWhileAwayAndTakenBackAheadOfTheQueue) {
    Admission gate(1);
    std::optional<Admission::Pass> holder;
    holder.emplace(gate, in(1s));
    ASSERT_TRUE(*holder);
    std::atomic<bool> borrowed{false}, release{false}, otherPassed{false};
    std::thread borrower, other, releaser;
    {
        Admission::Away away;
        // While the holder is away, another request gets the place at once...
        borrower = std::thread([&] {
            Admission::Pass pass(gate, Admission::Clock::now());
            EXPECT_TRUE(pass);
            borrowed = true;
            while (!release)
                std::this_thread::sleep_for(1ms);
        });
        // ...and a third one waits for it.
        while (!borrowed)
            std::this_thread::sleep_for(1ms);
        other = std::thread([&] {
            Admission::Pass pass(gate, in(10s));
            EXPECT_TRUE(pass);
            otherPassed = true;
        });
        untilWaiting(gate, 1);
        // The holder comes back (below, at the end of `away`) and queues ahead of the third.
        releaser = std::thread([&] {
            untilWaiting(gate, 2);
            release = true;
        });
    }
    EXPECT_FALSE(otherPassed);
    EXPECT_EQ(gate.waiting(), 1u);
    holder.reset();
    releaser.join();
    borrower.join();
    other.join();
    EXPECT_TRUE(otherPassed);
}

TEST(Admission, AwayWithoutAPlaceDoesNothing) {
    Admission gate(1);
    {
        Admission::Away away;
    }
    Admission::Pass pass(gate, Admission::Clock::now());
    EXPECT_TRUE(pass);
}

} // namespace
