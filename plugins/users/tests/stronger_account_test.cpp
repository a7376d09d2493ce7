// Nobody acts on an account stronger than their own: editing (e-mail address, names, roles),
// deleting or re-assigning a user needs every rule that user holds, else 403 naming the rule. An
// Organization Admin who could change Root's e-mail address could take the account over through
// /recover/lost.
#include "../../roles/tests/identity_fixture.h"

#include <gtest/gtest.h>

using namespace dq::test;
using namespace dq::test::identity;

namespace {

class StrongerAccount : public BothDatabases {
protected:
    void SetUp() override {
        BothDatabases::SetUp();
        if (IsSkipped())
            return;
        auto& s = server();
        rootId = s.get("/user?username=root", s.rootToken()).array()->getObject(0)->getValue<Id>("id");
        rootOrganization = s.get("/user/" + std::to_string(rootId), s.rootToken())
                               .object()
                               ->getObject("organization")
                               ->getValue<Id>("id");
        admin = caller(s, "orgadmin", rootOrganization, {}, {roleIdByName(s, "Organization Admin")});
        weak = createUser(s, "weak", rootOrganization);
    }

    std::string path(Id id) { return "/user/" + std::to_string(id); }

    /// 403 naming a rule the target holds and the caller lacks, as for handing out rules.
    static void expectNamesMissingRule(const HttpResult& r) {
        EXPECT_EQ(r.status, 403) << r.body;
        EXPECT_EQ(r.msg().rfind("You don't have the rule (", 0), 0u) << r.body;
    }

    Id rootId = 0, rootOrganization = 0, weak = 0;
    Caller admin;
};

TEST_P(StrongerAccount, OrganizationAdminCannotChangeTheEmailOfRoot) {
    auto& s = server();
    auto r = s.patch(path(rootId), json({{"email", "attacker@example.org"}}), admin.token);
    expectNamesMissingRule(r);
    EXPECT_EQ(s.get(path(rootId), s.rootToken()).object()->getValue<std::string>("email"), "root@domain.ext");
}

TEST_P(StrongerAccount, OrganizationAdminCannotEditDeleteOrReassignRoot) {
    auto& s = server();
    expectNamesMissingRule(s.patch(path(rootId), json({{"firstname", "Mallory"}}), admin.token));
    expectNamesMissingRule(s.patch(path(rootId), json({{"roles", idList({})}}), admin.token));
    expectNamesMissingRule(
        s.patch(path(rootId), json({{"roles", idList({roleIdByName(s, "Root")})}}), admin.token));
    expectNamesMissingRule(s.del(path(rootId), admin.token));
    EXPECT_EQ(s.get(path(rootId), s.rootToken()).status, 200);
}

TEST_P(StrongerAccount, AUserWithOneRuleTheCallerLacksIsOutOfReach) {
    auto& s = server();
    auto special = createUser(s, "special", rootOrganization, {ruleId(s, "user", "GLOBAL", "DELETE")});
    auto r = s.patch(path(special), json({{"email", "x@example.org"}}), admin.token);
    expectNamesMissingRule(r);
    EXPECT_EQ(r.msg(), "You don't have the rule (user, Scope.GLOBAL, Operation.DELETE)");
    expectNamesMissingRule(s.del(path(special), admin.token));
}

TEST_P(StrongerAccount, UsersWhoseRulesTheCallerHoldsCanBeEditedAndDeleted) {
    auto& s = server();
    auto edited =
        s.patch(path(weak), json({{"email", "weak2@example.org"}, {"firstname", "W"}}), admin.token);
    ASSERT_EQ(edited.status, 200) << edited.body;
    EXPECT_EQ(edited.object()->getValue<std::string>("email"), "weak2@example.org");
    auto viewer = s.patch(path(weak), json({{"roles", idList({roleIdByName(s, "Viewer")})}}), admin.token);
    EXPECT_EQ(viewer.status, 200) << viewer.body;
    EXPECT_EQ(s.del(path(weak), admin.token).status, 200);
}

TEST_P(StrongerAccount, EveryoneMayStillEditThemself) {
    auto& s = server();
    auto r = s.patch(path(admin.id), json({{"firstname", "Me"}}), admin.token);
    EXPECT_EQ(r.status, 200) << r.body;
}

TEST_P(StrongerAccount, RootActsOnEveryone) {
    auto& s = server();
    EXPECT_EQ(s.patch(path(admin.id), json({{"email", "a2@example.org"}}), s.rootToken()).status, 200);
    EXPECT_EQ(s.del(path(admin.id), s.rootToken()).status, 200);
}

DQ_ON_BOTH_DATABASES(StrongerAccount);

} // namespace
