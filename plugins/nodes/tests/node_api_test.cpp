// /node, /organization/<id>/node, node login and API key recovery over HTTP, on SQLite and
// PostgreSQL: permissions per scope, node creation rules, and keys that are shown once.
#include "../../collaborations/tests/federation.h"

#include <algorithm>

namespace dq::test {
namespace {

std::vector<Id> sorted(std::vector<Id> ids) {
    std::sort(ids.begin(), ids.end());
    return ids;
}

/// Organizations A, B, C; collaboration X = {A, B}, Y = {C}; node nodeA (A in X), nodeC (C in Y).
struct World {
    explicit World(TestServer& server) : f(server) {
        a = f.organization("Org A");
        b = f.organization("Org B");
        c = f.organization("Org C");
        x = f.collaboration("X-ray", {a, b});
        y = f.collaboration("Yankee", {c});
        nodeA = f.node(a, x);
        nodeC = f.node(c, y);
    }
    Federation f;
    Id a = 0, b = 0, c = 0, x = 0, y = 0;
    Federation::Node nodeA, nodeC;
};

std::string nodePath(Id id) {
    return "/node/" + std::to_string(id);
}

class NodeApi : public BothDatabases {};

TEST_P(NodeApi, CreateAnswers404ForUnknownCollaboration) {
    World w(server());
    auto creator = w.f.user(w.a, {"node:org:c"});
    auto r = w.f.s.post("/node", json({{"collaboration_id", 99999}}), creator);
    EXPECT_EQ(r.status, 404);
    EXPECT_FALSE(r.msg().empty());
}

TEST_P(NodeApi, CreateForOwnOrganizationNeedsOrganizationCreate) {
    World w(server());
    auto& s = w.f.s;
    auto none = w.f.user(w.b, {"node:glo:v"});
    auto creator = w.f.user(w.b, {"node:org:c"});

    EXPECT_EQ(s.post("/node", json({{"collaboration_id", w.x}}), none).status, 403);
    auto created = s.post("/node", json({{"collaboration_id", w.x}}), creator);
    ASSERT_EQ(created.status, 201) << created.body;
    auto body = created.object();
    EXPECT_EQ(idOf(body, "organization"), w.b);
    EXPECT_EQ(idOf(body, "collaboration"), w.x);
    EXPECT_EQ(body->getValue<std::string>("name"), "Org B - X-ray Node");
    EXPECT_EQ(body->getValue<std::string>("type"), "node");
    EXPECT_EQ(body->getValue<std::string>("api_key").size(), 36u);
    EXPECT_FALSE(body->has("api_key_index"));
}

TEST_P(NodeApi, CreateForOtherOrganizationNeedsGlobalCreate) {
    World w(server());
    auto& s = w.f.s;
    auto creator = w.f.user(w.a, {"node:org:c"});
    auto global = w.f.user(w.a, {"node:glo:c"});

    auto body = json({{"collaboration_id", w.x}, {"organization_id", w.b}, {"name", "b-node"}});
    EXPECT_EQ(s.post("/node", body, creator).status, 403);
    auto created = s.post("/node", body, global);
    ASSERT_EQ(created.status, 201) << created.body;
    EXPECT_EQ(idOf(created.object(), "organization"), w.b);
    EXPECT_EQ(created.object()->getValue<std::string>("name"), "b-node");
}

TEST_P(NodeApi, CreateRefusesOrganizationOutsideCollaborationAndSecondNode) {
    World w(server());
    auto& s = w.f.s;
    auto creatorA = w.f.user(w.a, {"node:org:c"});
    auto outside = s.post("/node", json({{"collaboration_id", w.y}}), creatorA);
    EXPECT_EQ(outside.status, 400);
    auto duplicate = s.post("/node", json({{"collaboration_id", w.x}}), creatorA);
    EXPECT_EQ(duplicate.status, 400);
    EXPECT_EQ(
        s.post("/node", json({{"collaboration_id", w.x}, {"organization_id", w.a}}), s.rootToken()).status,
        400);
    EXPECT_EQ(s.post("/node", json({{"organization_id", w.a}}), s.rootToken()).status, 400);
}

TEST_P(NodeApi, ApiKeyIsShownOnlyOnCreation) {
    World w(server());
    auto& s = w.f.s;
    auto one = s.get(nodePath(w.nodeA.id), s.rootToken());
    ASSERT_EQ(one.status, 200) << one.body;
    EXPECT_FALSE(one.object()->has("api_key"));
    EXPECT_FALSE(one.object()->has("api_key_index"));
    auto all = s.get("/node", s.rootToken());
    ASSERT_EQ(all.status, 200);
    EXPECT_EQ(all.body.find("api_key"), std::string::npos);
    EXPECT_EQ(all.body.find(w.nodeA.apiKey), std::string::npos);
}

TEST_P(NodeApi, NodeJsonHasTypeLinksAndConfigObjects) {
    World w(server());
    auto shown = w.f.s.get(nodePath(w.nodeA.id), w.f.s.rootToken());
    ASSERT_EQ(shown.status, 200) << shown.body;
    auto body = shown.object();
    EXPECT_EQ(body->getValue<std::string>("type"), "node");
    EXPECT_EQ(body->getObject("organization")->getValue<std::string>("link"),
              "/api/organization/" + std::to_string(w.a));
    EXPECT_EQ(body->getObject("collaboration")->getValue<std::string>("link"),
              "/api/collaboration/" + std::to_string(w.x));
    ASSERT_TRUE(body->getArray("config"));
    EXPECT_EQ(body->getArray("config")->size(), 0u);
    for (const char* key : {"ip", "last_seen", "status", "name"})
        EXPECT_TRUE(body->has(key)) << key;
}

TEST_P(NodeApi, ListShowsOwnOrganizationsNodesWithoutGlobalView) {
    World w(server());
    auto& s = w.f.s;
    auto none = w.f.user(w.a, {});
    auto orgView = w.f.user(w.a, {"node:org:v"});
    auto globalView = w.f.user(w.a, {"node:glo:v"});

    EXPECT_EQ(s.get("/node", none).status, 403);
    EXPECT_EQ(idsOf(s.get("/node", orgView)), std::vector<Id>{w.nodeA.id});
    EXPECT_EQ(sorted(idsOf(s.get("/node", globalView))), sorted({w.nodeA.id, w.nodeC.id}));
    EXPECT_EQ(idsOf(s.get("/node?organization_id=" + std::to_string(w.c), globalView)),
              std::vector<Id>{w.nodeC.id});
    EXPECT_EQ(idsOf(s.get("/node?collaboration_id=" + std::to_string(w.x), globalView)),
              std::vector<Id>{w.nodeA.id});
    EXPECT_EQ(idsOf(s.get("/node?name=Org%20C%25", globalView)), std::vector<Id>{w.nodeC.id});
    EXPECT_EQ(s.get("/node?last_seen_from=yesterday", globalView).status, 400);
    EXPECT_EQ(s.get("/node?last_seen_till=2999-01-01", globalView).status, 200);
}

TEST_P(NodeApi, ShowNeedsOwnOrganizationWithoutGlobalView) {
    World w(server());
    auto& s = w.f.s;
    auto none = w.f.user(w.a, {});
    auto orgView = w.f.user(w.a, {"node:org:v"});
    auto globalView = w.f.user(w.a, {"node:glo:v"});

    EXPECT_EQ(s.get(nodePath(9999), globalView).status, 404);
    EXPECT_EQ(s.get(nodePath(w.nodeA.id), none).status, 403);
    EXPECT_EQ(s.get(nodePath(w.nodeA.id), orgView).status, 200);
    EXPECT_EQ(s.get(nodePath(w.nodeC.id), orgView).status, 403);
    EXPECT_EQ(s.get(nodePath(w.nodeC.id), globalView).status, 200);
}

TEST_P(NodeApi, PatchNeedsOwnOrganizationWithoutGlobalEdit) {
    World w(server());
    auto& s = w.f.s;
    auto orgView = w.f.user(w.a, {"node:org:v"});
    auto orgEdit = w.f.user(w.a, {"node:org:e"});
    auto globalEdit = w.f.user(w.a, {"node:glo:e"});

    EXPECT_EQ(s.patch(nodePath(9999), json({{"name", "n"}}), globalEdit).status, 404);
    EXPECT_EQ(s.patch(nodePath(w.nodeA.id), json({{"name", "n"}}), orgView).status, 403);
    EXPECT_EQ(s.patch(nodePath(w.nodeC.id), json({{"name", "n"}}), orgEdit).status, 403);
    auto renamed = s.patch(nodePath(w.nodeA.id), json({{"name", "renamed"}, {"ip", "10.0.0.7"}}), orgEdit);
    ASSERT_EQ(renamed.status, 200) << renamed.body;
    EXPECT_EQ(renamed.object()->getValue<std::string>("name"), "renamed");
    EXPECT_EQ(renamed.object()->getValue<std::string>("ip"), "10.0.0.7");
    auto cleared = s.patch(nodePath(w.nodeA.id), json({{"clear_ip", true}}), orgEdit);
    ASSERT_EQ(cleared.status, 200) << cleared.body;
    EXPECT_TRUE(cleared.object()->isNull("ip"));
    EXPECT_EQ(s.patch(nodePath(w.nodeC.id), json({{"name", "c"}}), globalEdit).status, 200);
}

TEST_P(NodeApi, PatchMovingNodesNeedsGlobalEditAndKeepsOneNodePerPair) {
    World w(server());
    auto& s = w.f.s;
    auto orgEdit = w.f.user(w.a, {"node:org:e"});
    auto globalEdit = w.f.user(w.a, {"node:glo:e"});
    auto nodeB = w.f.node(w.b, w.x);

    EXPECT_EQ(s.patch(nodePath(w.nodeA.id), json({{"organization_id", w.b}}), orgEdit).status, 403);
    EXPECT_EQ(s.patch(nodePath(w.nodeA.id), json({{"organization_id", 9999}}), globalEdit).status, 404);
    EXPECT_EQ(s.patch(nodePath(w.nodeA.id), json({{"collaboration_id", 9999}}), globalEdit).status, 404);
    // Organization A is not in collaboration Y.
    EXPECT_EQ(s.patch(nodePath(w.nodeA.id), json({{"collaboration_id", w.y}}), orgEdit).status, 400);
    // B already has a node in X.
    EXPECT_EQ(s.patch(nodePath(w.nodeA.id), json({{"organization_id", w.b}}), globalEdit).status, 400);
    auto moved = s.patch(nodePath(nodeB.id), json({{"collaboration_id", w.y}}), globalEdit);
    ASSERT_EQ(moved.status, 200) << moved.body;
    EXPECT_EQ(idOf(moved.object(), "collaboration"), w.y);
}

TEST_P(NodeApi, NodeEditsItsOwnAddress) {
    World w(server());
    auto& s = w.f.s;
    auto token = w.f.nodeToken(w.nodeA.apiKey);
    ASSERT_FALSE(token.empty());
    auto patched = s.patch(nodePath(w.nodeA.id), json({{"ip", "10.76.0.2"}}), token);
    ASSERT_EQ(patched.status, 200) << patched.body;
    EXPECT_EQ(patched.object()->getValue<std::string>("ip"), "10.76.0.2");
    EXPECT_EQ(s.patch(nodePath(w.nodeC.id), json({{"ip", "10.76.0.3"}}), token).status, 403);
    auto self = s.get(nodePath(w.nodeA.id), token);
    ASSERT_EQ(self.status, 200);
    EXPECT_FALSE(self.object()->isNull("last_seen"));
    EXPECT_EQ(s.get(nodePath(w.nodeC.id), token).status, 403);
}

TEST_P(NodeApi, DeleteNeedsOwnOrganizationWithoutGlobalDelete) {
    World w(server());
    auto& s = w.f.s;
    auto orgEdit = w.f.user(w.a, {"node:org:e"});
    auto orgDelete = w.f.user(w.a, {"node:org:d"});
    auto globalDelete = w.f.user(w.a, {"node:glo:d"});

    EXPECT_EQ(s.del(nodePath(9999), globalDelete).status, 404);
    EXPECT_EQ(s.del(nodePath(w.nodeA.id), orgEdit).status, 403);
    EXPECT_EQ(s.del(nodePath(w.nodeC.id), orgDelete).status, 403);
    auto deleted = s.del(nodePath(w.nodeA.id), orgDelete);
    ASSERT_EQ(deleted.status, 200) << deleted.body;
    EXPECT_EQ(deleted.msg(), "Successfully deleted node id=" + std::to_string(w.nodeA.id));
    EXPECT_EQ(s.get(nodePath(w.nodeA.id), s.rootToken()).status, 404);
    EXPECT_EQ(w.f.nodeToken(w.nodeA.apiKey), "");
    EXPECT_EQ(s.del(nodePath(w.nodeC.id), globalDelete).status, 200);
}

TEST_P(NodeApi, OrganizationNodesNeedOwnOrganizationWithoutGlobalView) {
    World w(server());
    auto& s = w.f.s;
    auto none = w.f.user(w.a, {});
    auto orgView = w.f.user(w.a, {"node:org:v"});
    auto globalView = w.f.user(w.a, {"node:glo:v"});
    auto organization = [](Id id) { return "/organization/" + std::to_string(id) + "/node"; };

    EXPECT_EQ(s.get(organization(9999), globalView).status, 404);
    EXPECT_EQ(s.get(organization(w.a), none).status, 403);
    EXPECT_EQ(s.get(organization(w.c), orgView).status, 403);
    auto own = s.get(organization(w.a), orgView);
    ASSERT_EQ(own.status, 200) << own.body;
    EXPECT_EQ(idsOf(own), std::vector<Id>{w.nodeA.id});
    EXPECT_EQ(own.array()->getObject(0)->getValue<std::string>("type"), "node");
    EXPECT_EQ(idsOf(s.get(organization(w.c), globalView)), std::vector<Id>{w.nodeC.id});
}

TEST_P(NodeApi, NodeLogsInWithItsApiKey) {
    World w(server());
    auto& s = w.f.s;
    auto login = s.post("/token/node", json({{"api_key", w.nodeA.apiKey}}));
    ASSERT_EQ(login.status, 200) << login.body;
    auto body = login.object();
    EXPECT_FALSE(body->getValue<std::string>("access_token").empty());
    EXPECT_FALSE(body->getValue<std::string>("refresh_token").empty());
    EXPECT_EQ(body->getValue<std::string>("refresh_url"), "/api/token/refresh");
    EXPECT_EQ(body->getValue<std::string>("node_url"), "/api/node/" + std::to_string(w.nodeA.id));
    EXPECT_EQ(login.headers["jwt-token"], body->getValue<std::string>("access_token"));
    auto self = s.get(nodePath(w.nodeA.id), body->getValue<std::string>("access_token"));
    ASSERT_EQ(self.status, 200) << self.body;
    EXPECT_EQ(idOf(self.object(), "collaboration"), w.x);
}

TEST_P(NodeApi, NodeLoginRefusesWrongOrMissingKey) {
    World w(server());
    auto& s = w.f.s;
    auto wrong = s.post("/token/node", json({{"api_key", "00000000-0000-4000-8000-000000000000"}}));
    EXPECT_EQ(wrong.status, 401);
    EXPECT_EQ(wrong.msg(), "Api key is not recognized!");
    EXPECT_EQ(s.post("/token/node", json({{"api_key", w.nodeA.apiKey + "x"}})).status, 401);
    EXPECT_EQ(s.post("/token/node", json({})).status, 400);
    EXPECT_EQ(s.request("POST", "/token/node", "not json").status, 400);
}

TEST_P(NodeApi, KeyStoredWithoutLookupIndexIsFoundOnceByItsHashThenByItsIndex) {
    // Rows written by vantage6 hold only the bcrypt hash of the key. A login finds such a node by
    // checking the hashes of the rows without an index, then stores the index: later logins look
    // it up directly, however many nodes there are.
    World w(server());
    auto& s = w.f.s;
    s.transaction([](sdk::Store& store) { store.execute("UPDATE node SET api_key_index = NULL"); });
    auto indexOf = [&](Id node) {
        std::optional<std::string> index;
        s.transaction([&](sdk::Store& store) {
            auto row = store.find("node", node);
            if (row && !row->isNull("api_key_index"))
                index = row->text("api_key_index");
        });
        return index;
    };
    EXPECT_EQ(s.post("/token/node", json({{"api_key", "00000000-0000-4000-8000-000000000000"}})).status, 401);
    EXPECT_FALSE(indexOf(w.nodeA.id));
    ASSERT_EQ(s.post("/token/node", json({{"api_key", w.nodeA.apiKey}})).status, 200);
    ASSERT_TRUE(indexOf(w.nodeA.id));
    EXPECT_EQ(indexOf(w.nodeA.id)->size(), 16u);
    EXPECT_FALSE(indexOf(w.nodeC.id)) << "only the node whose key matched gets its index";
    EXPECT_EQ(s.post("/token/node", json({{"api_key", w.nodeA.apiKey}})).status, 200);
    EXPECT_EQ(s.post("/token/node", json({{"api_key", w.nodeC.apiKey}})).status, 200);
    EXPECT_TRUE(indexOf(w.nodeC.id));
}

TEST_P(NodeApi, RecoverGivesNewKeyAndRetiresTheOld) {
    World w(server());
    auto& s = w.f.s;
    auto orgEdit = w.f.user(w.a, {"node:org:e"});
    auto orgView = w.f.user(w.a, {"node:org:v"});

    EXPECT_EQ(s.post("/recover/node", json({{"id", 9999}}), orgEdit).status, 404);
    EXPECT_EQ(s.post("/recover/node", json({}), orgEdit).status, 400);
    EXPECT_EQ(s.post("/recover/node", json({{"id", w.nodeA.id}}), orgView).status, 403);
    EXPECT_EQ(s.post("/recover/node", json({{"id", w.nodeC.id}}), orgEdit).status, 403);
    auto reset = s.post("/recover/node", json({{"id", w.nodeA.id}}), orgEdit);
    ASSERT_EQ(reset.status, 200) << reset.body;
    auto fresh = reset.object()->getValue<std::string>("api_key");
    EXPECT_NE(fresh, w.nodeA.apiKey);
    EXPECT_EQ(w.f.nodeToken(w.nodeA.apiKey), "");
    EXPECT_NE(w.f.nodeToken(fresh), "");
    // Other nodes keep their keys.
    EXPECT_NE(w.f.nodeToken(w.nodeC.apiKey), "");
}

/// The ids of every rule a node holds (the fixed role "node").
std::vector<Id> nodeRuleIds(TestServer& s) {
    auto roles = s.get("/role?name=node", s.rootToken());
    EXPECT_EQ(roles.status, 200) << roles.body;
    auto rules =
        s.get("/rule?per_page=100&role_id=" + std::to_string(roles.array()->getObject(0)->getValue<Id>("id")),
              s.rootToken());
    EXPECT_EQ(rules.status, 200) << rules.body;
    auto ids = idsOf(rules);
    EXPECT_FALSE(ids.empty());
    return ids;
}

TEST_P(NodeApi, RecoverForNodeOfAnotherOrganizationNeedsEveryRuleTheNodeHolds) {
    // A new key makes its holder the node: of another organization only for who holds what it holds.
    World w(server());
    auto& s = w.f.s;
    auto globalEdit = w.f.user(w.a, {"node:glo:e"});
    auto refused = s.post("/recover/node", json({{"id", w.nodeC.id}}), globalEdit);
    EXPECT_EQ(refused.status, 403) << refused.body;
    EXPECT_EQ(refused.msg().rfind("You don't have the rule (", 0), 0u) << refused.body;
    EXPECT_NE(refused.msg().find("that node '"), std::string::npos) << refused.body;
    EXPECT_NE(w.f.nodeToken(w.nodeC.apiKey), "") << "the refused reset changed the key";
    // Own organization's node: the organization's node editor may.
    EXPECT_EQ(s.post("/recover/node", json({{"id", w.nodeA.id}}), globalEdit).status, 200);

    auto rules = nodeRuleIds(s);
    rules.push_back(w.f.rule("node:glo:e"));
    auto created = s.post("/user",
                          json({{"username", std::string("strong")},
                                {"firstname", std::string("S")},
                                {"lastname", std::string("T")},
                                {"password", std::string("Welkom01!")},
                                {"email", std::string("strong@example.org")},
                                {"organization_id", w.a},
                                {"rules", idList(rules)}}),
                          s.rootToken());
    ASSERT_EQ(created.status, 201) << created.body;
    auto strong = s.login("strong", "Welkom01!");
    auto reset = s.post("/recover/node", json({{"id", w.nodeC.id}}), strong);
    ASSERT_EQ(reset.status, 200) << reset.body;
    EXPECT_NE(w.f.nodeToken(reset.object()->getValue<std::string>("api_key")), "");
}

TEST_P(NodeApi, NodeTokensIssuedBeforeAKeyResetAreRefused) {
    World w(server());
    auto& s = w.f.s;
    auto login = s.post("/token/node", json({{"api_key", w.nodeA.apiKey}}));
    ASSERT_EQ(login.status, 200) << login.body;
    auto access = login.object()->getValue<std::string>("access_token");
    auto refresh = login.object()->getValue<std::string>("refresh_token");
    ASSERT_EQ(s.get(nodePath(w.nodeA.id), access).status, 200);
    ASSERT_EQ(s.post("/recover/node", json({{"id", w.nodeA.id}}), s.rootToken()).status, 200);
    auto old = s.get(nodePath(w.nodeA.id), access);
    EXPECT_EQ(old.status, 401) << old.body;
    EXPECT_EQ(s.request("POST", "/token/refresh", "", refresh).status, 401);
}

TEST_P(NodeApi, UserOnlyRoutesRefuseNodes) {
    World w(server());
    auto& s = w.f.s;
    auto token = w.f.nodeToken(w.nodeA.apiKey);
    ASSERT_FALSE(token.empty());
    EXPECT_EQ(s.post("/node", json({{"collaboration_id", w.x}}), token).status, 400);
    EXPECT_EQ(s.del(nodePath(w.nodeA.id), token).status, 400);
    EXPECT_EQ(s.post("/recover/node", json({{"id", w.nodeA.id}}), token).status, 400);
    auto list = s.get("/node", token);
    ASSERT_EQ(list.status, 200) << list.body;
    EXPECT_EQ(idsOf(list), std::vector<Id>{w.nodeA.id});
}

TEST_P(NodeApi, NodeOfDeletedCollaborationStillWorks) {
    World w(server());
    auto& s = w.f.s;
    ASSERT_EQ(s.del("/collaboration/" + std::to_string(w.x), s.rootToken()).status, 200);
    auto token = w.f.nodeToken(w.nodeA.apiKey);
    ASSERT_FALSE(token.empty());
    auto self = s.get(nodePath(w.nodeA.id), token);
    ASSERT_EQ(self.status, 200) << self.body;
    EXPECT_TRUE(self.object()->isNull("collaboration"));
    EXPECT_EQ(s.patch(nodePath(w.nodeA.id), json({{"ip", "10.0.0.1"}}), token).status, 200);
    EXPECT_EQ(idsOf(s.get("/node?organization_id=" + std::to_string(w.a), s.rootToken())),
              std::vector<Id>{w.nodeA.id});
    auto reset = s.post("/recover/node", json({{"id", w.nodeA.id}}), s.rootToken());
    ASSERT_EQ(reset.status, 200);
    EXPECT_NE(w.f.nodeToken(reset.object()->getValue<std::string>("api_key")), "");
}

DQ_ON_BOTH_DATABASES(NodeApi);

} // namespace
} // namespace dq::test
