// Login, refresh, expiry, lockout, the password policy, password changes, the root account, and
// tokens of deleted users.
#include "../../roles/tests/identity_fixture.h"

#include <Poco/JWT/Signer.h>
#include <Poco/JWT/Token.h>
#include <Poco/Timestamp.h>
#include <atomic>
#include <gtest/gtest.h>
#include <thread>
#include <vector>

using namespace dq::test;
using namespace dq::test::identity;

namespace {

HttpResult login(TestServer& s, const std::string& username, const std::string& password) {
    return s.post("/token/user", json({{"username", username}, {"password", password}}));
}

HttpResult refresh(TestServer& s, const std::string& refreshToken) {
    return s.request("POST", "/token/refresh", "", refreshToken);
}

class Login : public BothDatabases {};

TEST_P(Login, AnswersTokensUrlsAndJwtHeader) {
    auto& s = server();
    auto r = login(s, "root", "root");
    ASSERT_EQ(r.status, 200) << r.body;
    auto body = r.object();
    auto access = body->getValue<std::string>("access_token");
    EXPECT_FALSE(access.empty());
    EXPECT_FALSE(body->getValue<std::string>("refresh_token").empty());
    EXPECT_EQ(body->getValue<std::string>("refresh_url"), "/api/token/refresh");
    auto rootId = s.get("/user?username=root", access).array()->getObject(0)->getValue<Poco::Int64>("id");
    EXPECT_EQ(body->getValue<std::string>("user_url"), "/api/user/" + std::to_string(rootId));
    EXPECT_EQ(r.headers["jwt-token"], access);
    EXPECT_EQ(s.get("/user/" + std::to_string(rootId), access).status, 200);
}

TEST_P(Login, WrongPasswordAndUnknownUserFailAlike) {
    auto& s = server();
    auto wrong = login(s, "root", "nope");
    EXPECT_EQ(wrong.status, 401);
    EXPECT_EQ(wrong.msg(), "Failed to login");
    auto unknown = login(s, "nobody", "root");
    EXPECT_EQ(unknown.status, 401);
    EXPECT_EQ(unknown.msg(), "Failed to login");
}

TEST_P(Login, MissingUsernameOrPasswordIsBadRequest) {
    auto& s = server();
    EXPECT_EQ(s.post("/token/user", json({{"username", "root"}})).msg(),
              "Username and/or password missing in JSON body");
    EXPECT_EQ(s.post("/token/user", json({{"password", "root"}})).status, 400);
    EXPECT_EQ(s.request("POST", "/token/user", "").status, 400);
}

TEST_P(Login, RefreshGivesNewWorkingTokens) {
    auto& s = server();
    auto first = login(s, "root", "root");
    auto r = refresh(s, first.object()->getValue<std::string>("refresh_token"));
    ASSERT_EQ(r.status, 200) << r.body;
    auto body = r.object();
    EXPECT_EQ(body->getValue<std::string>("refresh_url"), "/api/token/refresh");
    EXPECT_TRUE(body->has("user_url"));
    EXPECT_FALSE(body->getValue<std::string>("refresh_token").empty());
    EXPECT_EQ(r.headers["jwt-token"], body->getValue<std::string>("access_token"));
    EXPECT_EQ(s.get("/user", body->getValue<std::string>("access_token")).status, 200);
}

TEST_P(Login, RefreshAndAccessTokensAreNotInterchangeable) {
    auto& s = server();
    auto tokens = login(s, "root", "root").object();
    auto onRefresh = refresh(s, tokens->getValue<std::string>("access_token"));
    EXPECT_EQ(onRefresh.status, 422);
    EXPECT_EQ(onRefresh.msg(), "Only refresh tokens are allowed");
    auto onApi = s.get("/user", tokens->getValue<std::string>("refresh_token"));
    EXPECT_EQ(onApi.status, 422);
}

TEST_P(Login, ExpiredTokenIsUnauthorized) {
    auto& s = server();
    auto rootId =
        s.get("/user?username=root", s.rootToken()).array()->getObject(0)->getValue<Poco::Int64>("id");
    // Signed with the harness's jwt_secret_key, like a real token of two hours ago.
    Poco::JWT::Token token;
    token.setType("JWT");
    Poco::Timestamp now;
    Poco::Timestamp past = now - Poco::Timespan(0, 2, 0, 0, 0);
    token.payload().set("sub", rootId);
    token.payload().set("type", std::string("access"));
    token.payload().set("client_type", std::string("user"));
    token.payload().set("roles", Poco::JSON::Array::Ptr(new Poco::JSON::Array));
    token.payload().set("fresh", false);
    token.payload().set("jti", std::string("expired-test-token"));
    token.payload().set("iat", static_cast<Poco::Int64>(past.epochTime()));
    token.payload().set("nbf", static_cast<Poco::Int64>(past.epochTime()));
    token.payload().set("exp", static_cast<Poco::Int64>(past.epochTime() + 3600));
    Poco::JWT::Signer signer("test-secret");
    auto jwt = signer.sign(token, Poco::JWT::Signer::ALGO_HS256);
    auto r = s.get("/user", jwt);
    EXPECT_EQ(r.status, 401);
    EXPECT_EQ(r.msg(), "Token has expired");
}

TEST_P(Login, DeletedUserTokensStopWorking) {
    auto& s = server();
    auto org = createOrganization(s, "Home");
    auto gone = caller(s, "gone", org);
    ASSERT_EQ(s.get("/user/" + std::to_string(gone.id), gone.token).status, 200);
    ASSERT_EQ(s.del("/user/" + std::to_string(gone.id), s.rootToken()).status, 200);
    auto r = s.get("/user/" + std::to_string(gone.id), gone.token);
    EXPECT_EQ(r.status, 401);
    EXPECT_EQ(login(s, "gone", kPassword).status, 401);
}

TEST_P(Login, FirstStartMakesRootInOrganizationRootWithRoleRoot) {
    auto& s = server();
    auto users = s.get("/user?username=root", s.rootToken());
    ASSERT_EQ(sizeOf(users), 1u);
    auto root = users.array()->getObject(0);
    EXPECT_EQ(root->getValue<std::string>("email"), "root@domain.ext");
    auto org =
        s.get("/organization/" + std::to_string(root->getObject("organization")->getValue<Poco::Int64>("id")),
              s.rootToken());
    EXPECT_EQ(org.object()->getValue<std::string>("name"), "root");
    auto roles = root->getArray("roles");
    ASSERT_TRUE(roles);
    ASSERT_EQ(roles->size(), 1u);
    EXPECT_EQ(roles->getObject(0)->getValue<Poco::Int64>("id"), roleIdByName(s, "Root"));
}

// ---- Lockout ----

class Lockout : public BothDatabases {
protected:
    void failTimes(TestServer& s, const std::string& username, int times) {
        for (int i = 0; i < times; ++i)
            ASSERT_EQ(login(s, username, "Wrong-pass1").status, 401);
    }
};

TEST_P(Lockout, RightPasswordIsRefusedAfterFiveFailures) {
    auto& s = server();
    createUser(s, "victim", createOrganization(s, "Home"));
    failTimes(s, "victim", 5);
    auto r = login(s, "victim", kPassword);
    EXPECT_EQ(r.status, 401);
    EXPECT_EQ(r.msg(), "Failed to login");
}

TEST_P(Lockout, SuccessBeforeTheLimitResetsTheCount) {
    auto& s = server();
    createUser(s, "victim", createOrganization(s, "Home"));
    failTimes(s, "victim", 4);
    ASSERT_EQ(login(s, "victim", kPassword).status, 200);
    failTimes(s, "victim", 4);
    EXPECT_EQ(login(s, "victim", kPassword).status, 200);
}

TEST_P(Lockout, LockIsOverWhenInactivationTimeHasPassed) {
    // inactivation_minutes 0: the lock is over as soon as it starts.
    auto& s = server({.extraYaml = "  password_policy:\n    inactivation_minutes: 0\n"});
    createUser(s, "victim", createOrganization(s, "Home"));
    failTimes(s, "victim", 5);
    EXPECT_EQ(login(s, "victim", kPassword).status, 200);
}

TEST_P(Lockout, ConcurrentWrongGuessesBeyondTheLimitAreRefused) {
    // 32 wrong guesses on 16 parallel connections, then the right password: the limit of 5 holds,
    // because each guess is counted in one statement before bcrypt runs.
    auto& s = server();
    createUser(s, "victim", createOrganization(s, "Home"));
    std::atomic<int> refused{0}, otherAnswers{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 16; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 2; ++i) {
                auto r = login(s, "victim", "Wrong-pass1");
                ++(r.status == 401 && r.msg() == "Failed to login" ? refused : otherAnswers);
            }
        });
    for (auto& t : threads)
        t.join();
    EXPECT_EQ(refused.load(), 32);
    EXPECT_EQ(otherAnswers.load(), 0);
    auto right = login(s, "victim", kPassword);
    EXPECT_EQ(right.status, 401) << right.body;
    // Guesses past the limit were refused before any password check, so none was counted.
    std::int64_t attempts = -1;
    s.transaction([&](dq::sdk::Store& store) {
        attempts = store.select("user", dq::sdk::Query().add(dq::sdk::Condition::equal("username", "victim")))
                       .front()
                       .integer("failed_login_attempts")
                       .value_or(-1);
    });
    EXPECT_EQ(attempts, 5);
}

TEST_P(Lockout, LockingEndsTheSessionsOfTheAccount) {
    auto& s = server();
    createUser(s, "victim", createOrganization(s, "Home"));
    auto session = login(s, "victim", kPassword).object();
    auto access = session->getValue<std::string>("access_token");
    ASSERT_EQ(s.get("/user", access).status, 403); // valid token, no rules
    failTimes(s, "victim", 5);
    auto after = s.get("/user", access);
    EXPECT_EQ(after.status, 401) << after.body;
    EXPECT_EQ(refresh(s, session->getValue<std::string>("refresh_token")).status, 401);
}

TEST_P(Lockout, MaxFailedAttemptsComesFromTheConfig) {
    auto& s = server({.extraYaml = "  password_policy:\n    max_failed_attempts: 2\n"});
    createUser(s, "victim", createOrganization(s, "Home"));
    failTimes(s, "victim", 2);
    EXPECT_EQ(login(s, "victim", kPassword).status, 401);
}

// ---- Password policy and password change ----

class Passwords : public BothDatabases {
protected:
    HttpResult createWithPassword(const std::string& password) {
        auto& s = server();
        return s.post("/user",
                      json({{"username", "pw"},
                            {"firstname", "P"},
                            {"lastname", "W"},
                            {"email", "pw@example.org"},
                            {"password", password}}),
                      s.rootToken());
    }
};

TEST_P(Passwords, PolicyMessagesOnCreate) {
    EXPECT_EQ(createWithPassword("Ab1!").msg(),
              "Password too short: use at least 8 characters with mixed lowercase, "
              "uppercase, numbers and special characters");
    EXPECT_EQ(createWithPassword("Ab1!" + std::string(130, 'x')).msg(),
              "Password too long: use at most 128 characters");
    EXPECT_EQ(createWithPassword("Abcdefgh!").msg(), "Password should contain at least one number");
    EXPECT_EQ(createWithPassword("abcdefg1!").msg(), "Password should contain at least one uppercase letter");
    EXPECT_EQ(createWithPassword("ABCDEFG1!").msg(), "Password should contain at least one lowercase letter");
    auto noSpecial = createWithPassword("Abcdefg12");
    EXPECT_EQ(noSpecial.status, 400);
    EXPECT_EQ(noSpecial.msg(), "Password should contain at least one special character");
    EXPECT_EQ(createWithPassword("1234").status, 400);
    EXPECT_EQ(createWithPassword(kPassword).status, 201);
}

TEST_P(Passwords, ChangeChecksEachFieldThenSaves) {
    auto& s = server();
    auto me = caller(s, "changer", createOrganization(s, "Home"));
    auto change = [&](Poco::JSON::Object::Ptr body) { return s.patch("/password/change", body, me.token); };
    EXPECT_EQ(change(json({{"current_password", kPassword}})).msg(), "Your new password is missing!");
    EXPECT_EQ(change(json({{"new_password", "Other01!!"}})).msg(), "Your current password is missing");
    EXPECT_EQ(change(json({{"current_password", "Wrong01!!"}, {"new_password", "Other01!!"}})).status, 401);
    EXPECT_EQ(change(json({{"current_password", kPassword}, {"new_password", kPassword}})).status, 400);
    EXPECT_EQ(change(json({{"current_password", kPassword}, {"new_password", "short"}}))
                  .msg()
                  .rfind("Password too short", 0),
              0u);
    auto ok = change(json({{"current_password", kPassword}, {"new_password", "Other01!!"}}));
    EXPECT_EQ(ok.status, 200);
    EXPECT_EQ(ok.msg(), "The password has been changed successfully!");
    EXPECT_EQ(login(s, "changer", kPassword).status, 401);
    EXPECT_EQ(login(s, "changer", "Other01!!").status, 200);
}

TEST_P(Passwords, ChangeEndsEverySessionOfTheAccount) {
    auto& s = server();
    auto org = createOrganization(s, "Home");
    createUser(s, "changer", org);
    auto first = login(s, "changer", kPassword).object();
    auto second = login(s, "changer", kPassword).object();
    auto bystander = caller(s, "bystander", org);
    auto changed =
        s.patch("/password/change", json({{"current_password", kPassword}, {"new_password", "Other01!!"}}),
                first->getValue<std::string>("access_token"));
    ASSERT_EQ(changed.status, 200) << changed.body;
    for (const auto& tokens : {first, second}) {
        auto r =
            s.get("/user/" + std::to_string(bystander.id), tokens->getValue<std::string>("access_token"));
        EXPECT_EQ(r.status, 401) << r.body;
        EXPECT_EQ(r.msg().rfind("Token has been revoked", 0), 0u) << r.body;
        EXPECT_EQ(refresh(s, tokens->getValue<std::string>("refresh_token")).status, 401);
    }
    auto fresh = login(s, "changer", "Other01!!");
    ASSERT_EQ(fresh.status, 200);
    EXPECT_EQ(s.get("/user", fresh.object()->getValue<std::string>("access_token")).status, 403);
    // Other accounts keep their sessions.
    EXPECT_EQ(s.get("/user/" + std::to_string(bystander.id), bystander.token).status, 200);
}

TEST_P(Passwords, WrongCurrentPasswordCountsTowardsTheLockout) {
    auto& s = server({.extraYaml = "  password_policy:\n    max_failed_attempts: 2\n"});
    auto me = caller(s, "changer", createOrganization(s, "Home"));
    auto change = [&](const std::string& current) {
        return s.patch("/password/change",
                       json({{"current_password", current}, {"new_password", "Other01!!"}}), me.token);
    };
    EXPECT_EQ(change("Wrong01!!").status, 401);
    EXPECT_EQ(change("Wrong02!!").status, 401);
    // Locked: the right password is refused too, and the session has ended.
    EXPECT_EQ(login(s, "changer", kPassword).status, 401);
    EXPECT_EQ(change(kPassword).status, 401);
}

TEST_P(Passwords, ResponsesNeverCarryThePasswordHash) {
    auto& s = server();
    auto r = createWithPassword(kPassword);
    ASSERT_EQ(r.status, 201);
    EXPECT_EQ(r.body.find("$2b$"), std::string::npos) << r.body;
    EXPECT_EQ(r.body.find(kPassword), std::string::npos) << r.body;
    auto list = s.get("/user", s.rootToken());
    EXPECT_EQ(list.body.find("$2b$"), std::string::npos) << list.body;
}

// ---- Node refresh (the nodes plugin resolves the identity; users answers) ----

class NodeRefresh : public BothDatabases {};

TEST_P(NodeRefresh, NodeRefreshAnswersNodeUrl) {
    auto& s = server();
    auto org = createOrganization(s, "Home");
    auto collab =
        s.post("/collaboration", json({{"name", "C"}, {"organization_ids", idList({org})}}), s.rootToken());
    ASSERT_LT(collab.status, 300) << collab.body;
    auto node =
        s.post("/node",
               json({{"collaboration_id", Poco::Int64(idOf(collab))}, {"organization_id", Poco::Int64(org)}}),
               s.rootToken());
    ASSERT_EQ(node.status, 201) << node.body;
    auto nodeLogin =
        s.post("/token/node", json({{"api_key", node.object()->getValue<std::string>("api_key")}}));
    ASSERT_EQ(nodeLogin.status, 200) << nodeLogin.body;
    auto r = refresh(s, nodeLogin.object()->getValue<std::string>("refresh_token"));
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.object()->getValue<std::string>("node_url"), "/api/node/" + std::to_string(idOf(node)));
    EXPECT_FALSE(r.object()->has("user_url"));
    EXPECT_EQ(r.object()->getValue<std::string>("refresh_url"), "/api/token/refresh");
}

DQ_ON_BOTH_DATABASES(Login);
DQ_ON_BOTH_DATABASES(Lockout);
DQ_ON_BOTH_DATABASES(Passwords);
DQ_ON_BOTH_DATABASES(NodeRefresh);

} // namespace
