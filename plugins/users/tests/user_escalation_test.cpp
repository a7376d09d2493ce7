// No escalation: a user hands out only rules they hold, only roles whose rules they hold and that
// fit the target's organization, and never changes their own roles or rules.
#include "../../roles/tests/identity_fixture.h"

#include <gtest/gtest.h>

using namespace dq::test;
using namespace dq::test::identity;

namespace {

class UserEscalation : public BothDatabases {
protected:
    void SetUp() override {
        BothDatabases::SetUp();
        if (IsSkipped())
            return;
        auto& s = server();
        home = createOrganization(s, "Home");
        away = createOrganization(s, "Away");
        userCreate = ruleId(s, "user", "GLOBAL", "CREATE");
        userEdit = ruleId(s, "user", "GLOBAL", "EDIT");
        userView = ruleId(s, "user", "GLOBAL", "VIEW");
        userDelete = ruleId(s, "user", "GLOBAL", "DELETE");
        admin = caller(s, "admin", home, {userCreate, userEdit, userView});
        target = createUser(s, "target", home);
    }

    HttpResult createWith(const std::string& field, const std::vector<Id>& ids, Id organization) {
        return server().post("/user",
                             json({{"username", "newbie"},
                                   {"firstname", "N"},
                                   {"lastname", "B"},
                                   {"email", "newbie@example.org"},
                                   {"password", kPassword},
                                   {"organization_id", Poco::Int64(organization)},
                                   {field, idList(ids)}}),
                             admin.token);
    }

    Id home = 0, away = 0, userCreate = 0, userEdit = 0, userView = 0, userDelete = 0, target = 0;
    Caller admin;
};

TEST_P(UserEscalation, CannotCreateUserWithRuleNotHeld) {
    auto r = createWith("rules", {userView, userDelete}, home);
    EXPECT_EQ(r.status, 403);
    EXPECT_EQ(r.msg(), "You don't have the rule (user, Scope.GLOBAL, Operation.DELETE)");
    EXPECT_EQ(createWith("rules", {userView}, home).status, 201);
}

TEST_P(UserEscalation, CannotCreateUserWithRoleWhoseRulesAreNotHeld) {
    auto r = createWith("roles", {roleIdByName(server(), "Root")}, home);
    EXPECT_EQ(r.status, 403);
    EXPECT_EQ(r.msg().rfind("You don't have the rule (", 0), 0u) << r.body;
}

TEST_P(UserEscalation, UnknownRoleOrRuleIsNotFound) {
    EXPECT_EQ(createWith("roles", {9999}, home).status, 404);
    EXPECT_EQ(createWith("rules", {9999}, home).status, 404);
    EXPECT_EQ(server()
                  .patch("/user/" + std::to_string(target), json({{"roles", idList({9999})}}), admin.token)
                  .status,
              404);
}

TEST_P(UserEscalation, RoleOfAnotherOrganizationCannotBeGiven) {
    auto& s = server();
    auto role = s.post("/role",
                       json({{"name", "AwayRole"},
                             {"description", "d"},
                             {"rules", idList({userView})},
                             {"organization_id", Poco::Int64(away)}}),
                       s.rootToken());
    ASSERT_EQ(role.status, 201) << role.body;
    EXPECT_EQ(createWith("roles", {idOf(role)}, home).status, 403);
    EXPECT_EQ(s.patch("/user/" + std::to_string(target), json({{"roles", idList({idOf(role)})}}), admin.token)
                  .status,
              403);
    EXPECT_EQ(createWith("roles", {idOf(role)}, away).status, 201);
}

TEST_P(UserEscalation, UsersCannotChangeTheirOwnRolesOrRules) {
    auto& s = server();
    auto me = "/user/" + std::to_string(admin.id);
    auto roles = s.patch(me, json({{"roles", idList({})}}), admin.token);
    EXPECT_EQ(roles.status, 403);
    EXPECT_EQ(roles.msg(), "You can't changes your own roles!");
    EXPECT_EQ(s.patch(me, json({{"rules", idList({userCreate})}}), admin.token).status, 403);
}

TEST_P(UserEscalation, CanGiveAndTakeHeldRulesButNotOthers) {
    auto& s = server();
    auto path = "/user/" + std::to_string(target);
    auto given = s.patch(path, json({{"rules", idList({userView})}}), admin.token);
    ASSERT_EQ(given.status, 200) << given.body;
    EXPECT_EQ(given.object()->getArray("rules")->size(), 1u);
    EXPECT_EQ(s.patch(path, json({{"rules", idList({userDelete})}}), admin.token).status, 403);
    // Root gives a rule the admin lacks; the admin may not take it away either.
    ASSERT_EQ(s.patch(path, json({{"rules", idList({userDelete})}}), s.rootToken()).status, 200);
    auto taken = s.patch(path, json({{"rules", idList({})}}), admin.token);
    EXPECT_EQ(taken.status, 403);
    EXPECT_EQ(taken.msg(), "You don't have the rule (user, Scope.GLOBAL, Operation.DELETE)");
    // The list replaced the set: the earlier rule is gone.
    auto now = s.get(path, s.rootToken());
    EXPECT_EQ(now.object()->getArray("rules")->size(), 1u);
}

TEST_P(UserEscalation, PasswordCannotBeChangedThroughUserPatch) {
    auto r =
        server().patch("/user/" + std::to_string(target), json({{"password", "Other01!!"}}), admin.token);
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.msg().rfind("You cannot change your password here!", 0), 0u) << r.body;
}

TEST_P(UserEscalation, RolesAsTextAreBadRequest) {
    auto bad = server().patch("/user/" + std::to_string(target), json({{"roles", "root"}}), admin.token);
    EXPECT_EQ(bad.status, 400);
}

DQ_ON_BOTH_DATABASES(UserEscalation);

} // namespace
