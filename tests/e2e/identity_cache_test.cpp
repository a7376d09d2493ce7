// The identity and rules a server keeps of its callers (kernel/auth/identity_resolver): a change
// made through the server takes effect on the next request; a change the server cannot see (another
// program writing the database) within `identity_cache_ms`; until then the kept identity answers.
#include "kernel/app/kernel.h"
#include "tests/support/test_server.h"

#include <chrono>
#include <thread>

using dq::test::json;
using dq::test::TestServer;

namespace {

class IdentityCache : public dq::test::BothDatabases {
protected:
    TestServer& serverKeepingFor(int milliseconds) {
        TestServer::Options options;
        options.extraYaml = "  identity_cache_ms: " + std::to_string(milliseconds) + "\n";
        return server(options);
    }

    /// A user of root's organization holding `rules` (ids) directly; returns its id, logs it in.
    long long user(TestServer& s, const Poco::JSON::Array::Ptr& rules, std::string& token) {
        static int counter = 0;
        const std::string name = "cached" + std::to_string(++counter);
        auto r = s.post("/user",
                        json({{"username", name},
                              {"password", "Welkom01!"},
                              {"email", name + "@example.org"},
                              {"firstname", "Cached"},
                              {"lastname", "User"},
                              {"organization_id", Poco::Int64(1)},
                              {"rules", rules}}),
                        s.rootToken());
        EXPECT_EQ(r.status, 201) << r.body;
        token = s.login(name, "Welkom01!");
        return r.object()->getValue<long long>("id");
    }

    Poco::JSON::Array::Ptr viewOrganizations(TestServer& s) {
        return dq::test::ids({dq::test::ruleId(s, "organization", "GLOBAL", "VIEW")});
    }

    struct Viewer {
        long long id = 0;
        std::string token;
    };
    /// A user who may see organizations and just did: the server keeps its identity and rules.
    Viewer viewer(TestServer& s) {
        Viewer v;
        v.id = user(s, viewOrganizations(s), v.token);
        EXPECT_EQ(s.get("/organization", v.token).status, 200);
        return v;
    }

    /// Writes `sql` with a connection pool of its own, as another program would: the server hears
    /// nothing of it.
    void behindTheServersBack(TestServer& s, const std::string& sql) {
        auto& kernel = s.kernel();
        dq::kernel::Database other(kernel.database().uri(), kernel.catalog());
        other.transaction([&](dq::sdk::Store& store) { store.execute(sql); });
    }
};

TEST_P(IdentityCache, RemovedRuleIsRefusedOnTheNextRequest) {
    auto& s = serverKeepingFor(60000);
    auto v = viewer(s);
    auto r = s.patch("/user/" + std::to_string(v.id), json({{"rules", dq::test::ids({})}}), s.rootToken());
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(s.get("/organization", v.token).status, 403);
}

TEST_P(IdentityCache, RuleRemovedFromARoleIsRefusedOnTheNextRequest) {
    auto& s = serverKeepingFor(60000);
    auto role = s.post("/role",
                       json({{"name", "Organization viewers"},
                             {"description", "may see organizations"},
                             {"rules", viewOrganizations(s)},
                             {"organization_id", Poco::Int64(1)}}),
                       s.rootToken());
    ASSERT_EQ(role.status, 201) << role.body;
    auto roleId = role.object()->getValue<long long>("id");
    std::string token;
    auto id = user(s, dq::test::ids({}), token);
    ASSERT_EQ(s.get("/organization", token).status, 403);
    auto r = s.patch("/user/" + std::to_string(id), json({{"roles", dq::test::ids({roleId})}}), s.rootToken());
    ASSERT_EQ(r.status, 200) << r.body;
    // Granted: the kept "holds nothing" is gone too.
    ASSERT_EQ(s.get("/organization", token).status, 200);
    r = s.patch("/role/" + std::to_string(roleId), json({{"rules", dq::test::ids({})}}), s.rootToken());
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(s.get("/organization", token).status, 403);
}

TEST_P(IdentityCache, TokenOfADeletedUserIsRefusedOnTheNextRequest) {
    auto& s = serverKeepingFor(60000);
    auto v = viewer(s);
    ASSERT_EQ(s.del("/user/" + std::to_string(v.id), s.rootToken()).status, 200);
    EXPECT_EQ(s.get("/organization", v.token).status, 401);
}

TEST_P(IdentityCache, ChangedPasswordRefusesOldTokensOnTheNextRequest) {
    auto& s = serverKeepingFor(60000);
    auto v = viewer(s);
    auto r = s.patch("/password/change",
                     json({{"current_password", "Welkom01!"}, {"new_password", "Welkom02!!"}}), v.token);
    ASSERT_EQ(r.status, 200) << r.body;
    auto again = s.get("/organization", v.token);
    EXPECT_EQ(again.status, 401) << again.body;
}

TEST_P(IdentityCache, KeptIdentityAnswersUntilTheBoundThenTheDatabaseDoes) {
    auto raiseCredentialVersion = [&](TestServer& s, long long id) {
        behindTheServersBack(s, "UPDATE \"user\" SET credential_version = credential_version + 1 WHERE id = " +
                                    std::to_string(id));
    };
    // A long bound: what the server keeps answers although the database changed behind its back.
    {
        auto& s = serverKeepingFor(60000);
        auto v = viewer(s);
        raiseCredentialVersion(s, v.id);
        EXPECT_EQ(s.get("/organization", v.token).status, 200);
    }
    TearDown();
    // A short one: the change is seen once it has passed.
    auto& s = serverKeepingFor(300);
    auto v = viewer(s);
    raiseCredentialVersion(s, v.id);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_EQ(s.get("/organization", v.token).status, 401);
}

TEST_P(IdentityCache, WithoutTheCacheEveryRequestReadsTheDatabase) {
    auto& s = serverKeepingFor(0);
    auto v = viewer(s);
    behindTheServersBack(s, "DELETE FROM userpermission WHERE user_id = " + std::to_string(v.id));
    EXPECT_EQ(s.get("/organization", v.token).status, 403);
}

DQ_ON_BOTH_DATABASES(IdentityCache);

} // namespace
