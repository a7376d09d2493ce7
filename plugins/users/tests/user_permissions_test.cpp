// Who may list, view, create, edit and delete which users: each scope (none, own, organization,
// global) against oneself, a user of one's own organization and a user of another organization.
#include "../../roles/tests/identity_fixture.h"

#include <gtest/gtest.h>

using namespace dq::test;
using namespace dq::test::identity;

namespace {

class UserPermissions : public BothDatabases {
protected:
    /// Two organizations; `home` has the caller and `colleague`, `away` has `stranger`.
    void build(const std::string& scope, const std::string& operation) {
        auto& s = server();
        home = createOrganization(s, "Home");
        away = createOrganization(s, "Away");
        std::vector<Id> rules;
        if (!scope.empty())
            rules.push_back(ruleId(s, "user", scope, operation));
        me = caller(s, "me", home, rules);
        colleague = createUser(s, "colleague", home);
        stranger = createUser(s, "stranger", away);
    }

    std::string path(Id id) { return "/user/" + std::to_string(id); }

    Id home = 0, away = 0, colleague = 0, stranger = 0;
    Caller me;
};

TEST_P(UserPermissions, WithoutViewRuleUserSeesOnlyThemself) {
    build("", "");
    auto& s = server();
    EXPECT_EQ(s.get("/user", me.token).status, 403);
    EXPECT_EQ(s.get(path(me.id), me.token).status, 200);
    EXPECT_EQ(s.get(path(colleague), me.token).status, 403);
    EXPECT_EQ(s.get(path(stranger), me.token).status, 403);
}

TEST_P(UserPermissions, OrganizationViewShowsOnlyOwnOrganization) {
    build("ORGANIZATION", "VIEW");
    auto& s = server();
    auto list = s.get("/user", me.token);
    ASSERT_EQ(list.status, 200) << list.body;
    EXPECT_EQ(sizeOf(list), 2u);
    EXPECT_TRUE(listHasId(list, me.id));
    EXPECT_TRUE(listHasId(list, colleague));
    EXPECT_EQ(s.get(path(me.id), me.token).status, 200);
    EXPECT_EQ(s.get(path(colleague), me.token).status, 200);
    EXPECT_EQ(s.get(path(stranger), me.token).status, 403);
}

TEST_P(UserPermissions, GlobalViewShowsEveryone) {
    build("GLOBAL", "VIEW");
    auto& s = server();
    auto list = s.get("/user", me.token);
    ASSERT_EQ(list.status, 200);
    EXPECT_EQ(sizeOf(list), 4u); // root, me, colleague, stranger
    EXPECT_EQ(s.get(path(stranger), me.token).status, 200);
    EXPECT_EQ(s.get(path(colleague), me.token).status, 200);
}

TEST_P(UserPermissions, UnknownUserIsNotFoundEvenWithoutRules) {
    build("", "");
    auto& s = server();
    auto r = s.get("/user/9999", me.token);
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(r.msg(), "user id=9999 is not found");
    EXPECT_EQ(s.patch("/user/9999", json({{"firstname", "x"}}), me.token).status, 404);
    EXPECT_EQ(s.del("/user/9999", me.token).status, 404);
}

struct Expect {
    int self, colleague, stranger;
};

class UserEditMatrix : public UserPermissions {
protected:
    void check(const std::string& scope, Expect expect) {
        build(scope, "EDIT");
        auto& s = server();
        auto body = json({{"firstname", "Renamed"}});
        EXPECT_EQ(s.patch(path(me.id), body, me.token).status, expect.self) << "self, scope " << scope;
        EXPECT_EQ(s.patch(path(colleague), body, me.token).status, expect.colleague)
            << "colleague, scope " << scope;
        EXPECT_EQ(s.patch(path(stranger), body, me.token).status, expect.stranger)
            << "stranger, scope " << scope;
    }
};

TEST_P(UserEditMatrix, NoEditRuleEditsNobody) {
    check("", {403, 403, 403});
}
TEST_P(UserEditMatrix, OwnEditEditsOnlyOneself) {
    check("OWN", {200, 403, 403});
}
TEST_P(UserEditMatrix, OrganizationEditEditsOwnOrganization) {
    check("ORGANIZATION", {200, 200, 403});
}
TEST_P(UserEditMatrix, GlobalEditEditsEveryone) {
    check("GLOBAL", {200, 200, 200});
}

TEST_P(UserEditMatrix, EditIsSavedAndShown) {
    build("OWN", "EDIT");
    auto& s = server();
    ASSERT_EQ(s.patch(path(me.id), json({{"firstname", "Renamed"}, {"lastname", "Too"}}), me.token).status,
              200);
    auto r = s.get(path(me.id), me.token);
    EXPECT_EQ(r.object()->getValue<std::string>("firstname"), "Renamed");
    EXPECT_EQ(r.object()->getValue<std::string>("lastname"), "Too");
}

class UserDeleteMatrix : public UserPermissions {
protected:
    // Deleting consumes the target, so each target is tried on a fresh pair of users.
    void check(const std::string& scope, Expect expect) {
        build(scope, "DELETE");
        auto& s = server();
        EXPECT_EQ(s.del(path(colleague), me.token).status, expect.colleague) << "colleague, scope " << scope;
        EXPECT_EQ(s.del(path(stranger), me.token).status, expect.stranger) << "stranger, scope " << scope;
        EXPECT_EQ(s.del(path(me.id), me.token).status, expect.self) << "self, scope " << scope;
    }
};

TEST_P(UserDeleteMatrix, NoDeleteRuleDeletesNobody) {
    check("", {403, 403, 403});
}
TEST_P(UserDeleteMatrix, OwnDeleteDeletesOnlyOneself) {
    check("OWN", {200, 403, 403});
}
TEST_P(UserDeleteMatrix, OrganizationDeleteDeletesOwnOrganization) {
    check("ORGANIZATION", {200, 200, 403});
}
TEST_P(UserDeleteMatrix, GlobalDeleteDeletesEveryone) {
    check("GLOBAL", {200, 200, 200});
}

TEST_P(UserDeleteMatrix, DeleteAnswersMessageAndUserIsGone) {
    build("GLOBAL", "DELETE");
    auto& s = server();
    auto r = s.del(path(stranger), me.token);
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.msg(), "user id=" + std::to_string(stranger) + " is removed from the database");
    EXPECT_EQ(s.get(path(stranger), s.rootToken()).status, 404);
}

class UserCreateMatrix : public UserPermissions {
protected:
    int create(const std::string& username, Id organization) {
        auto r = server().post("/user",
                               json({{"username", username},
                                     {"firstname", "New"},
                                     {"lastname", "User"},
                                     {"email", username + "@example.org"},
                                     {"password", kPassword},
                                     {"organization_id", Poco::Int64(organization)}}),
                               me.token);
        return r.status;
    }
};

TEST_P(UserCreateMatrix, NoCreateRuleCreatesNobody) {
    build("", "");
    EXPECT_EQ(create("n1", home), 403);
    EXPECT_EQ(create("n2", away), 403);
}

TEST_P(UserCreateMatrix, OrganizationCreateCreatesOnlyInOwnOrganization) {
    build("ORGANIZATION", "CREATE");
    EXPECT_EQ(create("n1", home), 201);
    EXPECT_EQ(create("n2", away), 403);
}

TEST_P(UserCreateMatrix, GlobalCreateCreatesAnywhere) {
    build("GLOBAL", "CREATE");
    EXPECT_EQ(create("n1", home), 201);
    EXPECT_EQ(create("n2", away), 201);
    EXPECT_EQ(create("n3", 9999), 404);
}

TEST_P(UserCreateMatrix, CreatedUserDefaultsToCallersOrganization) {
    build("ORGANIZATION", "CREATE");
    auto r = server().post("/user",
                           json({{"username", "n1"},
                                 {"firstname", "New"},
                                 {"lastname", "User"},
                                 {"email", "n1@example.org"},
                                 {"password", kPassword}}),
                           me.token);
    ASSERT_EQ(r.status, 201) << r.body;
    EXPECT_EQ(r.object()->getObject("organization")->getValue<Poco::Int64>("id"), home);
}

TEST_P(UserCreateMatrix, DuplicateUsernameOrEmailIsBadRequest) {
    build("GLOBAL", "CREATE");
    ASSERT_EQ(create("n1", home), 201);
    auto same = server().post("/user",
                              json({{"username", "n1"},
                                    {"firstname", "a"},
                                    {"lastname", "b"},
                                    {"email", "other@example.org"},
                                    {"password", kPassword}}),
                              me.token);
    EXPECT_EQ(same.status, 400);
    EXPECT_EQ(same.msg(), "username already exists.");
    auto email = server().post("/user",
                               json({{"username", "n9"},
                                     {"firstname", "a"},
                                     {"lastname", "b"},
                                     {"email", "n1@example.org"},
                                     {"password", kPassword}}),
                               me.token);
    EXPECT_EQ(email.status, 400);
    EXPECT_EQ(email.msg(), "email already exists.");
}

TEST_P(UserCreateMatrix, UserJsonHasNoSecretsAndTypeUser) {
    build("GLOBAL", "VIEW");
    auto r = server().get(path(colleague), me.token);
    ASSERT_EQ(r.status, 200);
    auto user = r.object();
    EXPECT_EQ(user->getValue<std::string>("type"), "user");
    EXPECT_EQ(user->getValue<std::string>("username"), "colleague");
    EXPECT_EQ(user->getValue<std::string>("email"), "colleague@example.org");
    for (const char* secret :
         {"password", "otp_secret", "failed_login_attempts", "last_login_attempt", "organization_id"})
        EXPECT_FALSE(user->has(secret)) << secret << " must not be shown: " << r.body;
    EXPECT_EQ(user->getObject("organization")->getValue<Poco::Int64>("id"), home);
    EXPECT_TRUE(user->isNull("roles")) << r.body;
    EXPECT_TRUE(user->isNull("rules")) << r.body;
}

TEST_P(UserCreateMatrix, ListFiltersByNameOrganizationAndRule) {
    build("GLOBAL", "VIEW");
    auto& s = server();
    auto byName = s.get("/user?username=coll%25", me.token);
    ASSERT_EQ(byName.status, 200);
    EXPECT_EQ(sizeOf(byName), 1u);
    EXPECT_TRUE(listHasId(byName, colleague));
    auto byOrg = s.get("/user?organization_id=" + std::to_string(away), me.token);
    EXPECT_EQ(sizeOf(byOrg), 1u);
    EXPECT_TRUE(listHasId(byOrg, stranger));
    auto byRule = s.get("/user?rule_id=" + std::to_string(ruleId(s, "user", "GLOBAL", "VIEW")), me.token);
    EXPECT_EQ(sizeOf(byRule), 1u);
    EXPECT_TRUE(listHasId(byRule, me.id));
    auto byRole = s.get("/user?role_id=" + std::to_string(roleIdByName(s, "Root")), me.token);
    EXPECT_EQ(sizeOf(byRole), 1u);
    EXPECT_EQ(s.get("/user?last_seen_from=yesterday", me.token).status, 400);
    // Users who never made a request have no last_seen.
    auto seen = s.get("/user?last_seen_from=2000-01-01T00:00:00", me.token);
    ASSERT_EQ(seen.status, 200);
    EXPECT_FALSE(listHasId(seen, colleague));
    EXPECT_FALSE(listHasId(seen, stranger));
    EXPECT_EQ(sizeOf(s.get("/user?last_seen_till=2000-01-01", me.token)), 0u);
}

DQ_ON_BOTH_DATABASES(UserPermissions);
DQ_ON_BOTH_DATABASES(UserEditMatrix);
DQ_ON_BOTH_DATABASES(UserDeleteMatrix);
DQ_ON_BOTH_DATABASES(UserCreateMatrix);

} // namespace
