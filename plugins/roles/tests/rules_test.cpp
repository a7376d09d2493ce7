// Rules come from the loaded plugins and keep their ids across restarts; the fixed roles (Root,
// node, container) and the default roles hold the rules vantage6 gives them, as far as they exist.
#include "identity_fixture.h"

#include <algorithm>
#include <gtest/gtest.h>
#include <set>

using namespace dq::test;
using namespace dq::test::identity;

namespace {

std::set<std::string> namesOf(const HttpResult& r) {
    std::set<std::string> names;
    for (std::size_t i = 0; r.array() && i < r.array()->size(); ++i)
        names.insert(r.array()->getObject(i)->getValue<std::string>("name"));
    return names;
}

std::set<std::string> keysOf(const HttpResult& r) {
    std::set<std::string> keys;
    for (std::size_t i = 0; r.array() && i < r.array()->size(); ++i) {
        auto rule = r.array()->getObject(i);
        keys.insert(rule->getValue<std::string>("name") + ":" + rule->getValue<std::string>("scope") + ":" +
                    rule->getValue<std::string>("operation"));
    }
    return keys;
}

class Rules : public BothDatabases {};

TEST_P(Rules, ListShowsTheRulesOfEveryLoadedPlugin) {
    auto& s = server();
    auto r = s.get("/rule", s.rootToken());
    ASSERT_EQ(r.status, 200) << r.body;
    auto names = namesOf(r);
    for (const char* resource : {"organization", "user", "role"})
        EXPECT_TRUE(names.count(resource)) << resource << " rules missing: " << r.body;
    EXPECT_FALSE(names.count("rule")) << "the rule resource has no rules";
    // Each (resource, scope, operation) once.
    EXPECT_EQ(keysOf(r).size(), r.array()->size());
    auto roleRules = s.get("/rule?name=role", s.rootToken());
    EXPECT_EQ(sizeOf(roleRules), 8u);
    auto userRules = s.get("/rule?name=user", s.rootToken());
    EXPECT_EQ(sizeOf(userRules), 10u);
}

TEST_P(Rules, FreshDatabaseNumbersRulesInVantage6ResourceOrder) {
    auto& s = server();
    auto all = s.get("/rule", s.rootToken());
    ASSERT_EQ(all.status, 200);
    // vantage6 §5: ... organization, task, result, user (28-37), role (38-45), port, event.
    auto rank = [](const std::string& resource) {
        static const std::vector<std::string> order = {
            "node", "collaboration", "organization", "task", "result", "user", "role", "port", "event"};
        return std::find(order.begin(), order.end(), resource) - order.begin();
    };
    long previousRank = -1;
    for (std::size_t i = 0; i < all.array()->size(); ++i) {
        auto rule = all.array()->getObject(i);
        EXPECT_EQ(rule->getValue<Poco::Int64>("id"), static_cast<Poco::Int64>(i + 1)) << "ids have no gaps";
        long r = rank(rule->getValue<std::string>("name"));
        EXPECT_GE(r, previousRank) << rule->getValue<std::string>("name") << " out of vantage6 order";
        previousRank = r;
    }
    auto userView = ruleId(s, "user", "GLOBAL", "VIEW");
    EXPECT_EQ(ruleId(s, "user", "ORGANIZATION", "VIEW"), userView + 1);
    EXPECT_EQ(ruleId(s, "user", "OWN", "DELETE"), userView + 9);
    EXPECT_EQ(ruleId(s, "role", "GLOBAL", "VIEW"), userView + 10);
    EXPECT_EQ(ruleId(s, "role", "ORGANIZATION", "DELETE"), userView + 17);
}

TEST_P(Rules, RuleJsonHasScopeAndOperationNames) {
    auto& s = server();
    auto id = ruleId(s, "user", "OWN", "EDIT");
    auto r = s.get("/rule/" + std::to_string(id), s.rootToken());
    ASSERT_EQ(r.status, 200);
    auto rule = r.object();
    EXPECT_EQ(rule->getValue<std::string>("name"), "user");
    EXPECT_EQ(rule->getValue<std::string>("scope"), "OWN");
    EXPECT_EQ(rule->getValue<std::string>("operation"), "EDIT");
    EXPECT_EQ(rule->getValue<std::string>("description"), "Edit your own user account");
    EXPECT_TRUE(rule->has("users"));
    EXPECT_FALSE(rule->has("roles"));
    auto missing = s.get("/rule/9999", s.rootToken());
    EXPECT_EQ(missing.status, 404);
    EXPECT_EQ(missing.msg(), "Rule id=9999 not found!");
}

TEST_P(Rules, AnyUserMayListRules) {
    auto& s = server();
    auto nobody = caller(s, "nobody", createOrganization(s, "Home"));
    auto r = s.get("/rule?scope=GLOBAL&operation=VIEW&name=user", nobody.token);
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(sizeOf(r), 1u);
    EXPECT_EQ(sizeOf(s.get("/rule?scope=global", nobody.token)), 0u) << "values are the enum names";
}

TEST_P(Rules, ServerWithoutNodesPluginHasNoNodeRules) {
    auto& s = server({.plugins = {"organizations", "roles", "users"}});
    auto all = s.get("/rule", s.rootToken());
    ASSERT_EQ(all.status, 200) << all.body;
    EXPECT_EQ(namesOf(all), (std::set<std::string>{"organization", "role", "user"}));
    EXPECT_EQ(sizeOf(s.get("/rule?name=node", s.rootToken())), 0u);
    // Root holds exactly the rules that exist.
    auto root = s.get("/role/" + std::to_string(roleIdByName(s, "Root")) + "/rule", s.rootToken());
    EXPECT_EQ(sizeOf(root), all.array()->size());
    // Viewer keeps only the rules of loaded plugins (vantage6 §5).
    auto viewer = s.get("/role/" + std::to_string(roleIdByName(s, "Viewer")) + "/rule", s.rootToken());
    EXPECT_EQ(keysOf(viewer),
              (std::set<std::string>{"user:OWN:EDIT", "user:OWN:DELETE", "user:ORGANIZATION:VIEW",
                                     "organization:ORGANIZATION:VIEW", "organization:COLLABORATION:VIEW",
                                     "role:ORGANIZATION:VIEW"}));
}

TEST_P(Rules, FixedAndDefaultRolesExistWithTheirRules) {
    auto& s = server();
    auto roles = s.get("/role", s.rootToken());
    EXPECT_EQ(namesOf(roles), (std::set<std::string>{"Root", "container", "node", "Viewer", "Researcher",
                                                     "Organization Admin", "Collaboration Admin"}));
    auto root = s.get("/role/" + std::to_string(roleIdByName(s, "Root")), s.rootToken()).object();
    EXPECT_EQ(root->getValue<std::string>("description"), "Root role");
    EXPECT_TRUE(root->isNull("organization"));
    auto rulesOf = [&](const std::string& role) {
        return keysOf(s.get("/role/" + std::to_string(roleIdByName(s, role)) + "/rule", s.rootToken()));
    };
    auto researcher = rulesOf("Researcher");
    auto viewer = rulesOf("Viewer");
    EXPECT_TRUE(researcher.count("user:OWN:EDIT"));
    for (const auto& key : viewer)
        EXPECT_TRUE(researcher.count(key)) << key;
    auto orgAdmin = rulesOf("Organization Admin");
    EXPECT_TRUE(orgAdmin.count("user:ORGANIZATION:CREATE"));
    EXPECT_TRUE(orgAdmin.count("role:ORGANIZATION:DELETE"));
    EXPECT_FALSE(orgAdmin.count("user:GLOBAL:VIEW"));
    auto collabAdmin = rulesOf("Collaboration Admin");
    EXPECT_TRUE(collabAdmin.count("user:GLOBAL:EDIT"));
    EXPECT_TRUE(collabAdmin.count("role:GLOBAL:VIEW"));
    EXPECT_FALSE(collabAdmin.count("user:GLOBAL:DELETE"));
    // The node role holds what plugins flag for nodes: e.g. organization ORGANIZATION VIEW.
    auto node = rulesOf("node");
    EXPECT_TRUE(node.count("organization:ORGANIZATION:VIEW"));
    EXPECT_FALSE(node.count("user:GLOBAL:VIEW"));
}

TEST_P(Rules, RestartKeepsRuleIdsAndAddsNothing) {
    auto& s = server();
    auto before = s.get("/rule", s.rootToken()).body;
    auto rolesBefore = sizeOf(s.get("/role", s.rootToken()));
    auto usersBefore = sizeOf(s.get("/user", s.rootToken()));
    s.startAnotherKernel(); // a second start on the same database, as after a restart
    EXPECT_EQ(s.get("/rule", s.rootToken()).body, before);
    EXPECT_EQ(sizeOf(s.get("/role", s.rootToken())), rolesBefore);
    EXPECT_EQ(sizeOf(s.get("/user", s.rootToken())), usersBefore);
}

DQ_ON_BOTH_DATABASES(Rules);

} // namespace
