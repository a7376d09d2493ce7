// Who may list, view, create, edit and delete which roles, and change their rules: each scope
// (none, organization, global; roles have no own scope) against a role of one's own organization
// and one of another organization. Plus no escalation.
#include "identity_fixture.h"

#include <gtest/gtest.h>

using namespace dq::test;
using namespace dq::test::identity;

namespace {

class RolePermissions : public BothDatabases {
protected:
    /// The caller (organization `home`) holds role:<scope>:<operation> (nothing when scope is empty)
    /// plus `extra` rules; `homeRole` and `awayRole` each hold rule user:GLOBAL:VIEW.
    void build(const std::string& scope, const std::string& operation, std::vector<Id> extra = {}) {
        auto& s = server();
        home = createOrganization(s, "Home");
        away = createOrganization(s, "Away");
        userView = ruleId(s, "user", "GLOBAL", "VIEW");
        userDelete = ruleId(s, "user", "GLOBAL", "DELETE");
        homeRole = makeRole("HomeRole", home);
        awayRole = makeRole("AwayRole", away);
        if (!scope.empty())
            extra.push_back(ruleId(s, "role", scope, operation));
        me = caller(s, "me", home, extra);
    }

    Id makeRole(const std::string& name, Id organization) {
        auto& s = server();
        auto r = s.post("/role",
                        json({{"name", name},
                              {"description", name + " role"},
                              {"rules", idList({userView})},
                              {"organization_id", Poco::Int64(organization)}}),
                        s.rootToken());
        EXPECT_EQ(r.status, 201) << r.body;
        return idOf(r);
    }

    std::string path(Id id, const std::string& tail = "") { return "/role/" + std::to_string(id) + tail; }

    Id home = 0, away = 0, userView = 0, userDelete = 0, homeRole = 0, awayRole = 0;
    Caller me;
};

// ---- view ----

TEST_P(RolePermissions, WithoutViewRuleOnlyOwnRolesAreVisible) {
    build("", "");
    auto& s = server();
    createUser(s, "holder", home, {}, {homeRole});
    auto holder = s.login("holder", kPassword);
    auto list = s.get("/role", holder);
    ASSERT_EQ(list.status, 200);
    EXPECT_EQ(sizeOf(list), 1u);
    EXPECT_TRUE(listHasId(list, homeRole));
    EXPECT_EQ(s.get(path(homeRole), holder).status, 200);
    EXPECT_EQ(s.get(path(awayRole), holder).status, 403);
    EXPECT_EQ(s.get(path(homeRole, "/rule"), holder).status, 200);
    EXPECT_EQ(sizeOf(s.get("/role", me.token)), 0u);
    EXPECT_EQ(s.get(path(homeRole), me.token).status, 403);
    EXPECT_EQ(s.get(path(awayRole, "/rule"), me.token).status, 403);
}

TEST_P(RolePermissions, OrganizationViewSeesOwnOrganizationAndGlobalRoles) {
    build("ORGANIZATION", "VIEW");
    auto& s = server();
    auto list = s.get("/role", me.token);
    ASSERT_EQ(list.status, 200);
    EXPECT_TRUE(listHasId(list, homeRole));
    EXPECT_FALSE(listHasId(list, awayRole));
    EXPECT_TRUE(listHasId(list, roleIdByName(s, "Viewer")));
    EXPECT_EQ(s.get(path(homeRole), me.token).status, 200);
    EXPECT_EQ(s.get(path(awayRole), me.token).status, 403);
    EXPECT_EQ(s.get(path(homeRole, "/rule"), me.token).status, 200);
    EXPECT_EQ(s.get(path(awayRole, "/rule"), me.token).status, 403);
}

TEST_P(RolePermissions, GlobalViewSeesAllRoles) {
    build("GLOBAL", "VIEW");
    auto& s = server();
    auto list = s.get("/role", me.token);
    EXPECT_TRUE(listHasId(list, homeRole));
    EXPECT_TRUE(listHasId(list, awayRole));
    EXPECT_EQ(sizeOf(list), 9u); // 7 default roles + 2
    EXPECT_EQ(s.get(path(awayRole), me.token).status, 200);
    auto rules = s.get(path(awayRole, "/rule"), me.token);
    ASSERT_EQ(rules.status, 200);
    EXPECT_EQ(sizeOf(rules), 1u);
}

TEST_P(RolePermissions, UnknownRoleIsNotFound) {
    build("", "");
    auto& s = server();
    EXPECT_EQ(s.get("/role/9999", me.token).status, 404);
    EXPECT_EQ(s.patch("/role/9999", json({{"name", "x"}}), me.token).status, 404);
    EXPECT_EQ(s.del("/role/9999", me.token).status, 404);
    EXPECT_EQ(s.get("/role/9999/rule", me.token).status, 404);
    EXPECT_EQ(s.post("/role/9999/rule/" + std::to_string(userView), json({}), me.token).status, 404);
    EXPECT_EQ(s.post(path(homeRole, "/rule/9999"), json({}), me.token).status, 404);
}

TEST_P(RolePermissions, ListFiltersByOrganizationIncludeRootNameRuleAndUser) {
    build("GLOBAL", "VIEW");
    auto& s = server();
    auto byOrg = s.get("/role?organization_id=" + std::to_string(home), me.token);
    EXPECT_EQ(sizeOf(byOrg), 1u);
    auto both =
        s.get("/role?organization_id=" + std::to_string(home) + "&organization_id=" + std::to_string(away),
              me.token);
    EXPECT_EQ(sizeOf(both), 2u);
    auto withRoot = s.get("/role?organization_id=" + std::to_string(home) + "&include_root=1", me.token);
    EXPECT_EQ(sizeOf(withRoot), 8u);
    EXPECT_EQ(sizeOf(s.get("/role?name=Home%25", me.token)), 1u);
    auto byRule = s.get("/role?rule_id=" + std::to_string(userDelete), me.token);
    EXPECT_TRUE(listHasId(byRule, roleIdByName(s, "Root")));
    EXPECT_FALSE(listHasId(byRule, homeRole));
    auto rootId =
        s.get("/user?username=root", s.rootToken()).array()->getObject(0)->getValue<Poco::Int64>("id");
    auto byUser = s.get("/role?user_id=" + std::to_string(rootId), me.token);
    EXPECT_EQ(sizeOf(byUser), 1u);
    EXPECT_EQ(s.get("/role?organization_id=abc", me.token).status, 400);
}

// ---- create ----

class RoleCreate : public RolePermissions {
protected:
    int create(const std::string& name, Id organization, std::vector<Id> rules = {}) {
        return server()
            .post("/role",
                  json({{"name", name},
                        {"description", "d"},
                        {"rules", idList(rules)},
                        {"organization_id", Poco::Int64(organization)}}),
                  me.token)
            .status;
    }
};

TEST_P(RoleCreate, NoCreateRuleCreatesNothing) {
    build("", "");
    EXPECT_EQ(create("R1", home), 403);
    EXPECT_EQ(create("R2", away), 403);
}

TEST_P(RoleCreate, OrganizationCreateOnlyForOwnOrganization) {
    build("ORGANIZATION", "CREATE");
    EXPECT_EQ(create("R1", home), 201);
    EXPECT_EQ(create("R2", away), 403);
    EXPECT_EQ(create("R3", home, {ruleId(server(), "role", "ORGANIZATION", "CREATE")}), 201);
}

TEST_P(RoleCreate, GlobalCreateForAnyOrganization) {
    build("GLOBAL", "CREATE");
    EXPECT_EQ(create("R1", home), 201);
    EXPECT_EQ(create("R2", away), 201);
    EXPECT_EQ(create("R3", 9999), 404);
    EXPECT_EQ(create("R4", home, {9999}), 404);
}

TEST_P(RoleCreate, RuleNotHeldIsRefusedNamingTheRule) {
    build("GLOBAL", "CREATE");
    auto r = server().post(
        "/role", json({{"name", "R"}, {"description", "d"}, {"rules", idList({userDelete})}}), me.token);
    EXPECT_EQ(r.status, 403);
    EXPECT_EQ(r.msg(), "You don't have the rule (user, Scope.GLOBAL, Operation.DELETE)");
}

TEST_P(RoleCreate, DefaultRoleNamesAreReserved) {
    build("GLOBAL", "CREATE");
    for (const char* name :
         {"Root", "container", "node", "Viewer", "Researcher", "Organization Admin", "Collaboration Admin"})
        EXPECT_EQ(create(name, home), 400) << name;
}

TEST_P(RoleCreate, CreatedRoleJsonShowsOrganizationAndRules) {
    build("GLOBAL", "CREATE", {ruleId(server(), "user", "GLOBAL", "VIEW")});
    auto r = server().post(
        "/role", json({{"name", "R"}, {"description", "about R"}, {"rules", idList({userView})}}), me.token);
    ASSERT_EQ(r.status, 201) << r.body;
    auto role = r.object();
    EXPECT_EQ(role->getValue<std::string>("name"), "R");
    EXPECT_EQ(role->getValue<std::string>("description"), "about R");
    EXPECT_EQ(role->getObject("organization")->getValue<Poco::Int64>("id"), home);
    ASSERT_EQ(role->getArray("rules")->size(), 1u);
    EXPECT_EQ(role->getArray("rules")->getObject(0)->getValue<Poco::Int64>("id"), userView);
    EXPECT_FALSE(role->has("organization_id"));
}

// ---- edit and delete ----

struct Expect {
    int home, away;
};

class RoleEdit : public RolePermissions {
protected:
    void check(const std::string& scope, Expect expect) {
        build(scope, "EDIT");
        auto& s = server();
        auto body = json({{"description", "changed"}});
        EXPECT_EQ(s.patch(path(homeRole), body, me.token).status, expect.home) << scope;
        EXPECT_EQ(s.patch(path(awayRole), body, me.token).status, expect.away) << scope;
    }
};

TEST_P(RoleEdit, NoEditRuleEditsNothing) {
    check("", {403, 403});
}
TEST_P(RoleEdit, OrganizationEditEditsOwnOrganizationRoles) {
    check("ORGANIZATION", {200, 403});
}
TEST_P(RoleEdit, GlobalEditEditsAnyRole) {
    check("GLOBAL", {200, 200});
}

TEST_P(RoleEdit, DefaultRolesCannotBeEditedOrDeleted) {
    build("GLOBAL", "EDIT", {ruleId(server(), "role", "GLOBAL", "DELETE")});
    auto& s = server();
    auto viewer = roleIdByName(s, "Viewer");
    EXPECT_EQ(s.patch(path(viewer), json({{"description", "x"}}), me.token).status, 400);
    EXPECT_EQ(s.patch(path(homeRole), json({{"name", "Root"}}), me.token).status, 400);
    EXPECT_EQ(s.del(path(roleIdByName(s, "Root")), s.rootToken()).status, 400);
}

TEST_P(RoleEdit, EditReplacesRulesOnlyWithHeldOnes) {
    build("GLOBAL", "EDIT", {ruleId(server(), "user", "GLOBAL", "VIEW")});
    auto& s = server();
    auto denied = s.patch(path(homeRole), json({{"rules", idList({userDelete})}}), me.token);
    EXPECT_EQ(denied.status, 403);
    EXPECT_EQ(denied.msg(), "You don't have the rule (user, Scope.GLOBAL, Operation.DELETE)");
    auto ok = s.patch(path(homeRole), json({{"name", "Renamed"}, {"rules", idList({})}}), me.token);
    ASSERT_EQ(ok.status, 200) << ok.body;
    EXPECT_EQ(ok.object()->getValue<std::string>("name"), "Renamed");
    EXPECT_TRUE(ok.object()->isNull("rules"));
}

class RoleDelete : public RolePermissions {
protected:
    void check(const std::string& scope, Expect expect) {
        build(scope, "DELETE");
        auto& s = server();
        auto home = s.del(path(homeRole), me.token);
        EXPECT_EQ(home.status, expect.home) << scope;
        if (home.status == 200) {
            EXPECT_EQ(home.msg(), "Role removed from the database.");
        }
        EXPECT_EQ(s.del(path(awayRole), me.token).status, expect.away) << scope;
    }
};

TEST_P(RoleDelete, NoDeleteRuleDeletesNothing) {
    check("", {403, 403});
}
TEST_P(RoleDelete, OrganizationDeleteDeletesOwnOrganizationRoles) {
    check("ORGANIZATION", {200, 403});
}
TEST_P(RoleDelete, GlobalDeleteDeletesAnyRole) {
    check("GLOBAL", {200, 200});
}

// ---- rules of a role ----

class RoleRules : public RolePermissions {};

TEST_P(RoleRules, AddNeedsEditScopeAndTheRuleHeld) {
    build("ORGANIZATION", "EDIT", {ruleId(server(), "user", "GLOBAL", "VIEW")});
    auto& s = server();
    auto userOrgView = ruleId(s, "user", "ORGANIZATION", "VIEW");
    EXPECT_EQ(s.post(path(awayRole, "/rule/" + std::to_string(userView)), json({}), me.token).status, 403);
    auto notHeld = s.post(path(homeRole, "/rule/" + std::to_string(userOrgView)), json({}), me.token);
    EXPECT_EQ(notHeld.status, 403);
    EXPECT_EQ(notHeld.msg(), "You don't have the rule (user, Scope.ORGANIZATION, Operation.VIEW)");
    // root holds every rule
    auto added = s.post(path(homeRole, "/rule/" + std::to_string(userOrgView)), json({}), s.rootToken());
    EXPECT_EQ(added.status, 201) << added.body;
    EXPECT_EQ(sizeOf(s.get(path(homeRole, "/rule"), s.rootToken())), 2u);
}

TEST_P(RoleRules, RemovalNeedsDeleteScopeAndIsSaved) {
    build("ORGANIZATION", "DELETE", {ruleId(server(), "user", "GLOBAL", "VIEW")});
    auto& s = server();
    auto rule = "/rule/" + std::to_string(userView);
    EXPECT_EQ(s.del(path(awayRole, rule), me.token).status, 403);
    EXPECT_EQ(s.del(path(homeRole, "/rule/" + std::to_string(userDelete)), s.rootToken()).status, 404);
    auto removed = s.del(path(homeRole, rule), me.token);
    EXPECT_EQ(removed.status, 200) << removed.body;
    EXPECT_EQ(sizeOf(s.get(path(homeRole, "/rule"), s.rootToken())), 0u);
    EXPECT_EQ(s.del(path(homeRole, rule), me.token).status, 404);
}

TEST_P(RoleRules, NoEditOrDeleteRuleChangesNothing) {
    build("", "", {ruleId(server(), "user", "GLOBAL", "VIEW")});
    auto& s = server();
    auto rule = "/rule/" + std::to_string(userView);
    EXPECT_EQ(s.post(path(homeRole, rule), json({}), me.token).status, 403);
    EXPECT_EQ(s.del(path(homeRole, rule), me.token).status, 403);
}

TEST_P(RoleRules, GlobalEditAddsToAnyRole) {
    build("GLOBAL", "EDIT", {ruleId(server(), "user", "GLOBAL", "DELETE")});
    auto& s = server();
    EXPECT_EQ(s.post(path(awayRole, "/rule/" + std::to_string(userDelete)), json({}), me.token).status, 201);
    EXPECT_EQ(sizeOf(s.get(path(awayRole, "/rule"), s.rootToken())), 2u);
}

TEST_P(RoleRules, RolesAreForUsersOnly) {
    build("", "");
    auto& s = server();
    EXPECT_EQ(s.get("/role").status, 401);
    EXPECT_EQ(s.get("/rule").status, 401);
}

DQ_ON_BOTH_DATABASES(RolePermissions);
DQ_ON_BOTH_DATABASES(RoleCreate);
DQ_ON_BOTH_DATABASES(RoleEdit);
DQ_ON_BOTH_DATABASES(RoleDelete);
DQ_ON_BOTH_DATABASES(RoleRules);

} // namespace
