// The password hasher: bcrypt on a bounded pool; requests are refused at once when its queue is
// full and may not hash while they hold a database session; other callers wait their turn.
#include "kernel/auth/password_hasher.h"

#include <atomic>
#include <chrono>
#include <optional>
#include <dq/sdk/http.h>
#include <gtest/gtest.h>
#include <thread>
#include <vector>

namespace dq::kernel {
namespace {

PasswordHasher::Caller requestCaller(bool holdsSession = false) {
    PasswordHasher::Caller caller;
    caller.servingRequest = [] { return true; };
    caller.holdsSession = [holdsSession] { return holdsSession; };
    return caller;
}

TEST(PasswordHasher, HashesAndVerifiesBcrypt) {
    PasswordHasher hasher(4);
    auto hash = hasher.hash("Welkom01!");
    EXPECT_EQ(hash.rfind("$2b$04$", 0), 0u) << hash;
    EXPECT_TRUE(hasher.verify("Welkom01!", hash));
    EXPECT_FALSE(hasher.verify("welkom01!", hash));
    EXPECT_FALSE(hasher.verify("Welkom01!", "not a hash"));
}

TEST(PasswordHasher, RequestHoldingADatabaseSessionIsRefused) {
    PasswordHasher hasher(4, {}, requestCaller(true));
    EXPECT_THROW(hasher.hash("x"), std::logic_error);
    EXPECT_THROW(hasher.verify("x", PasswordHasher::hashNow("x", 4)), std::logic_error);
}

TEST(PasswordHasher, FullQueueRefusesRequestsAtOnceWith503) {
    // One thread, room for one waiting hash: of many concurrent requests some are refused, at once.
    PasswordHasher hasher(12, {1, 1}, requestCaller());
    constexpr int kRequests = 6;
    std::atomic<int> refused{0}, hashed{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < kRequests; ++i)
        threads.emplace_back([&] {
            try {
                hasher.hash("Welkom01!");
                ++hashed;
            } catch (const sdk::ServiceUnavailable& e) {
                ++refused;
                EXPECT_EQ(e.status(), 503);
            }
        });
    for (auto& t : threads)
        t.join();
    EXPECT_GE(hashed.load(), 1);
    EXPECT_GE(refused.load(), 1);
    EXPECT_EQ(hashed + refused, kRequests);
}

TEST(PasswordHasher, RequestsWaitAsLongAsTheirBudgetAllowsByDefault) {
    // A burst of logins on one thread, each with seconds to spare: all are checked, none turned away
    // (the default queue once held four per thread, and turned the rest away to come back later).
    auto caller = requestCaller();
    caller.deadline = [] {
        return std::optional(std::chrono::steady_clock::now() + std::chrono::seconds(4));
    };
    PasswordHasher hasher(6, {1, 0}, caller);
    const auto hash = PasswordHasher::hashNow("Welkom01!", 6);
    std::atomic<int> checked{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 12; ++i)
        threads.emplace_back([&] {
            try {
                checked += hasher.verify("Welkom01!", hash);
            } catch (const sdk::ServiceUnavailable& e) {
                ADD_FAILURE() << e.what();
            }
        });
    for (auto& t : threads)
        t.join();
    EXPECT_EQ(checked.load(), 12);
}

TEST(PasswordHasher, FreeThreadTakesARequestWhateverPastHashesTook) {
    // The recent pace must not refuse a request while a thread is free: after a slow hash (cost 12,
    // longer than the next request's budget), a quick one (cost 4) is still checked.
    auto budget = std::make_shared<std::atomic<int>>(10000);
    auto caller = requestCaller();
    caller.deadline = [budget] {
        return std::optional(std::chrono::steady_clock::now() + std::chrono::milliseconds(budget->load()));
    };
    PasswordHasher hasher(4, {1, 0}, caller);
    EXPECT_TRUE(hasher.verify("x", PasswordHasher::hashNow("x", 12)));
    *budget = 100;
    EXPECT_TRUE(hasher.verify("x", PasswordHasher::hashNow("x", 4)));
}

TEST(PasswordHasher, TheWaitForAHashRunsInsideWhileWaiting) {
    // The server lends the request's CPU turn (Admission::Away) for exactly that wait.
    auto caller = requestCaller();
    std::atomic<int> waits{0};
    std::atomic<bool> inside{false};
    caller.whileWaiting = [&](const std::function<void()>& wait) {
        ++waits;
        inside = true;
        wait();
        inside = false;
    };
    PasswordHasher hasher(4, {1, 0}, caller);
    const auto hash = PasswordHasher::hashNow("x", 4);
    EXPECT_TRUE(hasher.verify("x", hash));
    EXPECT_FALSE(hasher.verify("y", hash));
    EXPECT_EQ(waits.load(), 2);
    EXPECT_FALSE(inside.load());
}

TEST(PasswordHasher, OtherCallersWaitForRoomInsteadOfFailing) {
    PasswordHasher hasher(4, {1, 1});
    std::vector<std::thread> threads;
    std::atomic<int> done{0};
    for (int i = 0; i < 8; ++i)
        threads.emplace_back([&] {
            EXPECT_TRUE(hasher.verify("a", hasher.hash("a")));
            ++done;
        });
    for (auto& t : threads)
        t.join();
    EXPECT_EQ(done.load(), 8);
}

} // namespace
} // namespace dq::kernel
