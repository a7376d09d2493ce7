// Logins under load: bcrypt runs on the kernel's bounded hashing pool while the request holds no
// database session, so a flood of wrong passwords neither starves the database pool nor the other
// requests, and a full hashing queue is a quick 503 with Retry-After.
#include "../../roles/tests/identity_fixture.h"

#include <atomic>
#include <gtest/gtest.h>
#include <mutex>
#include <thread>
#include <vector>

using namespace dq::test;
using namespace dq::test::identity;

namespace {

HttpResult login(TestServer& s, const std::string& username, const std::string& password) {
    return s.post("/token/user", json({{"username", username}, {"password", password}}));
}

class LoginLoad : public BothDatabases {};

TEST_P(LoginLoad, WrongPasswordFloodLeavesTheDatabaseToOthers) {
    // More concurrent logins than pooled sessions (16), at the real bcrypt cost: before, each held a
    // session through bcrypt and then waited for a second one to count the failure, and every other
    // request waited 30 s for a session and failed.
    auto& s = server({.extraYaml = "  password_hashing:\n    threads: 2\n    queue: 64\n"
                                   "  password_policy:\n    max_failed_attempts: 1000\n",
                      .bcryptRounds = 12});
    auto root = s.rootToken();
    createUser(s, "target", createOrganization(s, "Home"));
    std::mutex lock;
    std::vector<std::string> unexpected;
    std::vector<std::thread> threads;
    for (int t = 0; t < 24; ++t)
        threads.emplace_back([&] {
            // Refused (401), or turned away at once when the hashing pool is busy (503).
            auto r = login(s, "target", "Wrong-pass1");
            if (r.status != 401 && !(r.status == 503 && !r.headers["retry-after"].empty())) {
                std::lock_guard guard(lock);
                unexpected.push_back(std::to_string(r.status) + " " + r.body);
            }
        });
    // Meanwhile other requests are served.
    for (int i = 0; i < 5; ++i) {
        auto r = s.get("/organization", root);
        EXPECT_EQ(r.status, 200) << r.body;
    }
    for (auto& t : threads)
        t.join();
    EXPECT_TRUE(unexpected.empty()) << unexpected.size() << " logins answered otherwise, e.g. "
                                    << (unexpected.empty() ? "" : unexpected.front());
    EXPECT_EQ(login(s, "target", kPassword).status, 200);
}

TEST_P(LoginLoad, FullHashingQueueAnswers503WithRetryAfterAtOnce) {
    // (A high lockout limit: attempts in flight count towards it, and this test is not about it.)
    auto& s = server({.extraYaml = "  password_hashing:\n    threads: 1\n    queue: 1\n"
                                   "  password_policy:\n    max_failed_attempts: 1000\n",
                      .bcryptRounds = 12});
    createUser(s, "target", createOrganization(s, "Home"));
    std::atomic<int> unavailable{0}, failed{0}, failedTarget{0}, turnedAwayTarget{0}, other{0};
    std::mutex lock;
    std::string otherAnswer;
    std::vector<std::thread> threads;
    for (int t = 0; t < 12; ++t)
        threads.emplace_back([&, t] {
            auto r = login(s, t % 2 ? "target" : "nobody", "Wrong-pass1");
            if (r.status == 503 && !r.headers["retry-after"].empty()) {
                ++unavailable;
                if (t % 2 && r.msg().find("checking passwords") != std::string::npos)
                    ++turnedAwayTarget;
            } else if (r.status == 401) {
                ++failed;
                if (t % 2)
                    ++failedTarget;
            } else {
                ++other;
                std::lock_guard guard(lock);
                otherAnswer = std::to_string(r.status) + " " + r.body;
            }
        });
    for (auto& t : threads)
        t.join();
    EXPECT_EQ(other.load(), 0) << otherAnswer;
    EXPECT_GE(unavailable.load(), 1);
    EXPECT_GE(failed.load(), 1);
    // Every checked wrong password counts; a login turned away for want of a hashing thread does not.
    std::int64_t attempts = -1;
    s.transaction([&](dq::sdk::Store& store) {
        attempts = store.select("user", dq::sdk::Query().add(dq::sdk::Condition::equal("username", "target")))
                       .front()
                       .integer("failed_login_attempts")
                       .value_or(-1);
    });
    EXPECT_GE(attempts, failedTarget.load());
    EXPECT_LE(attempts, 6 - turnedAwayTarget.load());
}

DQ_ON_BOTH_DATABASES(LoginLoad);

} // namespace
