// /collaboration and /organization/<id>/collaboration over HTTP: who may see and change what, on
// SQLite and PostgreSQL.
#include "federation.h"

#include <algorithm>

namespace dq::test {
namespace {

std::vector<Id> sorted(std::vector<Id> ids) {
    std::sort(ids.begin(), ids.end());
    return ids;
}

/// Organizations A, B, C; collaboration X = {A, B} (encrypted), Y = {C}.
struct World {
    explicit World(TestServer& server) : f(server) {
        a = f.organization("Org A");
        b = f.organization("Org B");
        c = f.organization("Org C");
        x = f.collaboration("X-ray", {a, b}, true);
        y = f.collaboration("Yankee", {c}, false);
    }
    Federation f;
    Id a = 0, b = 0, c = 0, x = 0, y = 0;
};

std::string path(Id collaboration, const std::string& tail = "") {
    return "/collaboration/" + std::to_string(collaboration) + tail;
}

class CollaborationApi : public BothDatabases {};

TEST_P(CollaborationApi, ListShowsOnlyOwnCollaborationsWithoutGlobalView) {
    World w(server());
    auto& s = w.f.s;
    auto none = w.f.user(w.a, {});
    auto orgView = w.f.user(w.a, {"collaboration:org:v"});
    auto globalView = w.f.user(w.a, {"collaboration:glo:v"});

    EXPECT_EQ(s.get("/collaboration", none).status, 403);
    auto own = s.get("/collaboration", orgView);
    ASSERT_EQ(own.status, 200) << own.body;
    EXPECT_EQ(idsOf(own), std::vector<Id>{w.x});
    auto all = s.get("/collaboration", globalView);
    ASSERT_EQ(all.status, 200) << all.body;
    EXPECT_EQ(sorted(idsOf(all)), sorted({w.x, w.y}));
}

TEST_P(CollaborationApi, ListFiltersByOrganizationOnlyForOwnOrganizationWithoutGlobalView) {
    World w(server());
    auto& s = w.f.s;
    auto orgView = w.f.user(w.a, {"collaboration:org:v"});
    auto globalView = w.f.user(w.a, {"collaboration:glo:v"});

    auto other = s.get("/collaboration?organization_id=" + std::to_string(w.c), orgView);
    EXPECT_EQ(other.status, 403);
    EXPECT_EQ(other.msg(), "You lack the permission to request collaborations for this organization!");
    EXPECT_EQ(idsOf(s.get("/collaboration?organization_id=" + std::to_string(w.a), orgView)),
              std::vector<Id>{w.x});
    EXPECT_EQ(idsOf(s.get("/collaboration?organization_id=" + std::to_string(w.c), globalView)),
              std::vector<Id>{w.y});
    EXPECT_EQ(idsOf(s.get("/collaboration?name=Yan%25", globalView)), std::vector<Id>{w.y});
}

TEST_P(CollaborationApi, EncryptedFilterAcceptsBooleansAndDigitsAndRejectsOtherValues) {
    World w(server());
    auto& s = w.f.s;
    EXPECT_EQ(idsOf(s.get("/collaboration?encrypted=true", s.rootToken())), std::vector<Id>{w.x});
    EXPECT_EQ(idsOf(s.get("/collaboration?encrypted=1", s.rootToken())), std::vector<Id>{w.x});
    EXPECT_EQ(idsOf(s.get("/collaboration?encrypted=false", s.rootToken())), std::vector<Id>{w.y});
    EXPECT_EQ(idsOf(s.get("/collaboration?encrypted=0", s.rootToken())), std::vector<Id>{w.y});
    EXPECT_EQ(s.get("/collaboration?encrypted=maybe", s.rootToken()).status, 400);
}

TEST_P(CollaborationApi, ShowNeedsMembershipWithoutGlobalView) {
    World w(server());
    auto& s = w.f.s;
    auto none = w.f.user(w.a, {});
    auto orgView = w.f.user(w.a, {"collaboration:org:v"});
    auto globalView = w.f.user(w.a, {"collaboration:glo:v"});

    EXPECT_EQ(s.get(path(9999), orgView).status, 404);
    EXPECT_EQ(s.get(path(w.x), none).status, 403);
    EXPECT_EQ(s.get(path(w.y), orgView).status, 403);
    EXPECT_EQ(s.get(path(w.y), globalView).status, 200);

    auto shown = s.get(path(w.x), orgView);
    ASSERT_EQ(shown.status, 200) << shown.body;
    auto body = shown.object();
    EXPECT_EQ(idOf(body), w.x);
    EXPECT_EQ(body->getValue<std::string>("name"), "X-ray");
    EXPECT_TRUE(body->get("encrypted").isBoolean());
    EXPECT_TRUE(body->getValue<bool>("encrypted"));
    auto organizations = body->getArray("organizations");
    ASSERT_TRUE(organizations);
    ASSERT_EQ(organizations->size(), 2u);
    EXPECT_EQ(organizations->getObject(0)->getValue<std::string>("link"),
              "/api/organization/" + std::to_string(idOf(organizations->getObject(0))));
    EXPECT_FALSE(body->has("organization_ids"));
}

TEST_P(CollaborationApi, CreateAnswers200AndNeedsGlobalCreate) {
    World w(server());
    auto& s = w.f.s;
    auto orgView = w.f.user(w.a, {"collaboration:org:v"});
    auto creator = w.f.user(w.a, {"collaboration:glo:c"});

    auto body = json({{"name", "Zulu"}, {"organization_ids", idList({w.a, w.a})}});
    EXPECT_EQ(s.post("/collaboration", body, orgView).status, 403);
    auto created = s.post("/collaboration", body, creator);
    ASSERT_EQ(created.status, 200) << created.body;
    // vantage6 reads `encrypted == 1`: without the field a new collaboration is not encrypted.
    EXPECT_FALSE(created.object()->getValue<bool>("encrypted"));
    auto organizations = created.object()->getArray("organizations");
    ASSERT_TRUE(organizations);
    ASSERT_EQ(organizations->size(), 1u);
    EXPECT_EQ(idOf(organizations->getObject(0)), w.a);
}

// vantage6 drops unknown organization ids silently, so a typo leaves an organization out unnoticed.
TEST_P(CollaborationApi, UnknownOrganizationIsA400NamingItAndNothingIsCreated) {
    World w(server());
    auto& s = w.f.s;
    auto creator = w.f.user(w.a, {"collaboration:glo:c", "collaboration:glo:e"});
    auto refused = s.post("/collaboration", json({{"name", "Zulu"}, {"organization_ids", idList({w.a, 9999})}}),
                          creator);
    ASSERT_EQ(refused.status, 400) << refused.body;
    EXPECT_NE(refused.msg().find("9999"), std::string::npos) << refused.body;
    EXPECT_NE(refused.object()->getObject("errors")->getValue<std::string>("organization_ids").find("9999"),
              std::string::npos);
    EXPECT_EQ(s.get("/collaboration?name=Zulu", s.rootToken()).array()->size(), 0u);

    auto patched = s.patch(path(w.x), json({{"organization_ids", idList({w.a, 8888})}}), creator);
    ASSERT_EQ(patched.status, 400) << patched.body;
    EXPECT_NE(patched.msg().find("8888"), std::string::npos) << patched.body;
}

// An id beyond 64 bits among good ones was a 500 (the JSON parser keeps it as unsigned).
TEST_P(CollaborationApi, OutOfRangeOrganizationIdIsA400NamingTheField) {
    World w(server());
    auto& s = w.f.s;
    for (const char* bad : {"18446744073709551615", "9223372036854775808", "-1", "0", "1.5", "\"1\"", "null"}) {
        auto body = std::string(R"({"name": "Victor", "organization_ids": [)") + std::to_string(w.a) + ", " +
                    bad + "]}";
        auto r = s.request("POST", "/collaboration", body, s.rootToken(),
                           {{"Content-Type", "application/json"}});
        ASSERT_EQ(r.status, 400) << bad << ": " << r.body;
        ASSERT_TRUE(r.object()->getObject("errors")) << r.body;
        EXPECT_TRUE(r.object()->getObject("errors")->has("organization_ids")) << r.body;
    }
    EXPECT_EQ(s.post("/collaboration", json({{"name", "Victor"}, {"organization_ids", idList({w.a})}}),
                     s.rootToken())
                  .status,
              200);
}

TEST_P(CollaborationApi, CreateRejectsDuplicateNameBeforeCheckingPermission) {
    World w(server());
    auto& s = w.f.s;
    auto none = w.f.user(w.a, {});
    auto duplicate =
        s.post("/collaboration", json({{"name", "X-ray"}, {"organization_ids", idList({w.a})}}), none);
    EXPECT_EQ(duplicate.status, 400);
    EXPECT_EQ(duplicate.msg(), "Collaboration name 'X-ray' already exists!");
    EXPECT_EQ(s.post("/collaboration", json({{"organization_ids", idList({w.a})}}), s.rootToken()).status,
              400);
    EXPECT_EQ(s.post("/collaboration",
                     json({{"name", "Q"}, {"organization_ids", idList({w.a})}, {"color", 1}}), s.rootToken())
                  .status,
              400);
}

TEST_P(CollaborationApi, PatchNeedsGlobalEditAndReplacesOrganizations) {
    World w(server());
    auto& s = w.f.s;
    auto orgView = w.f.user(w.a, {"collaboration:org:v"});
    auto editor = w.f.user(w.a, {"collaboration:glo:e"});

    EXPECT_EQ(s.patch(path(9999), json({{"name", "n"}}), editor).status, 404);
    EXPECT_EQ(s.patch(path(w.x), json({{"name", "n"}}), orgView).status, 403);
    EXPECT_EQ(s.patch(path(w.x), json({{"name", "Yankee"}}), editor).status, 400);

    auto patched = s.patch(
        path(w.x), json({{"name", "X-ray 2"}, {"organization_ids", idList({w.c})}, {"encrypted", false}}),
        editor);
    ASSERT_EQ(patched.status, 200) << patched.body;
    EXPECT_EQ(patched.object()->getValue<std::string>("name"), "X-ray 2");
    EXPECT_FALSE(patched.object()->getValue<bool>("encrypted"));
    EXPECT_EQ(idsOf(s.get(path(w.x, "/organization"), s.rootToken())), std::vector<Id>{w.c});
}

TEST_P(CollaborationApi, DeleteNeedsGlobalDelete) {
    World w(server());
    auto& s = w.f.s;
    auto editor = w.f.user(w.a, {"collaboration:glo:e", "collaboration:glo:v"});
    auto deleter = w.f.user(w.a, {"collaboration:glo:d"});

    EXPECT_EQ(s.del(path(9999), deleter).status, 404);
    EXPECT_EQ(s.del(path(w.x), editor).status, 403);
    auto deleted = s.del(path(w.x), deleter);
    ASSERT_EQ(deleted.status, 200) << deleted.body;
    EXPECT_EQ(deleted.msg(), "Collaboration id=" + std::to_string(w.x) + " successfully deleted");
    EXPECT_EQ(s.get(path(w.x), s.rootToken()).status, 404);
    // The member rows went with it: the organization no longer lists the collaboration.
    EXPECT_EQ(idsOf(s.get("/organization?collaboration_id=" + std::to_string(w.x), s.rootToken())),
              std::vector<Id>{});
}

TEST_P(CollaborationApi, MemberOrganizationsNeedMembershipToViewAndGlobalRulesToChange) {
    World w(server());
    auto& s = w.f.s;
    auto orgView = w.f.user(w.a, {"collaboration:org:v"});
    auto globalView = w.f.user(w.a, {"collaboration:glo:v"});
    auto editor = w.f.user(w.a, {"collaboration:glo:e"});
    auto deleter = w.f.user(w.a, {"collaboration:glo:d"});

    EXPECT_EQ(s.get(path(9999, "/organization"), globalView).status, 404);
    EXPECT_EQ(sorted(idsOf(s.get(path(w.x, "/organization"), orgView))), sorted({w.a, w.b}));
    EXPECT_EQ(s.get(path(w.y, "/organization"), orgView).status, 403);
    auto paged = s.get(path(w.y, "/organization?page=1&per_page=20&include=metadata"), globalView);
    ASSERT_EQ(paged.status, 200) << paged.body;
    EXPECT_EQ(idsOf(paged), std::vector<Id>{w.c});
    EXPECT_EQ(paged.headers["total-count"], "1");

    EXPECT_EQ(s.post(path(w.x, "/organization"), json({{"id", w.c}}), orgView).status, 403);
    EXPECT_EQ(s.post(path(9999, "/organization"), json({{"id", w.c}}), editor).status, 404);
    EXPECT_EQ(s.post(path(w.x, "/organization"), json({{"id", 9999}}), editor).status, 404);
    auto added = s.post(path(w.x, "/organization"), json({{"id", w.c}}), editor);
    ASSERT_EQ(added.status, 200) << added.body;
    EXPECT_EQ(sorted(idsOf(added)), sorted({w.a, w.b, w.c}));

    EXPECT_EQ(s.del(path(w.x, "/organization"), editor, json({{"id", w.c}})).status, 403);
    EXPECT_EQ(s.del(path(w.x, "/organization"), deleter, json({{"id", 9999}})).status, 404);
    auto removed = s.del(path(w.x, "/organization"), deleter, json({{"id", w.c}}));
    ASSERT_EQ(removed.status, 200) << removed.body;
    EXPECT_EQ(sorted(idsOf(removed)), sorted({w.a, w.b}));
    auto emptied = s.del(path(w.y, "/organization"), deleter, json({{"id", w.c}}));
    ASSERT_EQ(emptied.status, 200) << emptied.body;
    EXPECT_EQ(emptied.body, "[]");
}

TEST_P(CollaborationApi, OrganizationListFiltersByCollaboration) {
    World w(server());
    auto& s = w.f.s;
    EXPECT_EQ(sorted(idsOf(s.get("/organization?collaboration_id=" + std::to_string(w.x), s.rootToken()))),
              sorted({w.a, w.b}));
    EXPECT_EQ(idsOf(s.get("/organization?collaboration_id=" + std::to_string(w.y), s.rootToken())),
              std::vector<Id>{w.c});
}

TEST_P(CollaborationApi, OrganizationCollaborationsNeedOwnOrganizationWithoutGlobalView) {
    World w(server());
    auto& s = w.f.s;
    auto none = w.f.user(w.a, {});
    auto orgView = w.f.user(w.a, {"collaboration:org:v"});
    auto globalView = w.f.user(w.a, {"collaboration:glo:v"});
    auto organization = [](Id id) { return "/organization/" + std::to_string(id) + "/collaboration"; };

    EXPECT_EQ(s.get(organization(9999), globalView).status, 404);
    EXPECT_EQ(s.get(organization(w.a), none).status, 403);
    EXPECT_EQ(s.get(organization(w.c), orgView).status, 403);
    auto own = s.get(organization(w.a), orgView);
    ASSERT_EQ(own.status, 200) << own.body;
    EXPECT_EQ(idsOf(own), std::vector<Id>{w.x});
    EXPECT_EQ(idsOf(s.get(organization(w.c), globalView)), std::vector<Id>{w.y});
}

TEST_P(CollaborationApi, CollaborationNodesNeedMembershipToViewAndGlobalEditToChange) {
    World w(server());
    auto& s = w.f.s;
    auto nodeA = w.f.node(w.a, w.x);
    auto nodeC = w.f.node(w.c, w.y);
    auto orgView = w.f.user(w.a, {"collaboration:org:v"});
    auto globalView = w.f.user(w.a, {"collaboration:glo:v"});
    auto editor = w.f.user(w.a, {"collaboration:glo:e"});

    EXPECT_EQ(s.get(path(9999, "/node"), globalView).status, 404);
    EXPECT_EQ(s.get(path(w.y, "/node"), orgView).status, 403);
    auto listed = s.get(path(w.x, "/node"), orgView);
    ASSERT_EQ(listed.status, 200) << listed.body;
    ASSERT_EQ(idsOf(listed), std::vector<Id>{nodeA.id});
    // NodeSchemaSimple: no collaboration, no type, never the key.
    auto simple = listed.array()->getObject(0);
    EXPECT_FALSE(simple->has("collaboration"));
    EXPECT_FALSE(simple->has("api_key"));
    EXPECT_EQ(idOf(simple, "organization"), w.a);
    EXPECT_EQ(idsOf(s.get(path(w.y, "/node"), globalView)), std::vector<Id>{nodeC.id});

    EXPECT_EQ(s.del(path(w.y, "/node"), globalView, json({{"id", nodeC.id}})).status, 403);
    EXPECT_EQ(s.del(path(w.y, "/node"), editor, json({{"id", 9999}})).status, 404);
    EXPECT_EQ(s.del(path(w.x, "/node"), editor, json({{"id", nodeC.id}})).status, 400);
    auto removed = s.del(path(w.y, "/node"), editor, json({{"id", nodeC.id}}));
    ASSERT_EQ(removed.status, 200) << removed.body;
    EXPECT_EQ(removed.msg(), "node id=" + std::to_string(nodeC.id) +
                                 " removed from collaboration id=" + std::to_string(w.y));
    EXPECT_EQ(idsOf(s.get(path(w.y, "/node"), globalView)), std::vector<Id>{});

    EXPECT_EQ(s.post(path(w.x, "/node"), json({{"id", nodeC.id}}), globalView).status, 403);
    EXPECT_EQ(s.post(path(w.x, "/node"), json({{"id", 9999}}), editor).status, 404);
    auto added = s.post(path(w.x, "/node"), json({{"id", nodeC.id}}), editor);
    ASSERT_EQ(added.status, 201) << added.body;
    EXPECT_EQ(sorted(idsOf(added)), sorted({nodeA.id, nodeC.id}));
    EXPECT_EQ(s.post(path(w.x, "/node"), json({{"id", nodeC.id}}), editor).status, 400);
}

TEST_P(CollaborationApi, AddingNodeRefusesSecondNodeOfOrganization) {
    World w(server());
    auto& s = w.f.s;
    auto first = w.f.node(w.a, w.x);
    ASSERT_EQ(s.del(path(w.x, "/node"), s.rootToken(), json({{"id", first.id}})).status, 200);
    auto second = w.f.node(w.a, w.x);
    auto refused = s.post(path(w.x, "/node"), json({{"id", first.id}}), s.rootToken());
    EXPECT_EQ(refused.status, 400) << refused.body;
    EXPECT_EQ(idsOf(s.get(path(w.x, "/node"), s.rootToken())), std::vector<Id>{second.id});
}

TEST_P(CollaborationApi, CollaborationTasksUseTaskRules) {
    World w(server());
    auto& s = w.f.s;
    auto collaborationView = w.f.user(w.a, {"collaboration:glo:v"});
    auto orgView = w.f.user(w.a, {"task:org:v"});
    auto globalView = w.f.user(w.a, {"task:glo:v"});

    EXPECT_EQ(s.get(path(9999, "/task"), globalView).status, 404);
    EXPECT_EQ(s.get(path(w.x, "/task"), collaborationView).status, 403);
    EXPECT_EQ(s.get(path(w.y, "/task"), orgView).status, 403);
    auto own = s.get(path(w.x, "/task"), orgView);
    ASSERT_EQ(own.status, 200) << own.body;
    EXPECT_EQ(own.body, "[]");
    EXPECT_EQ(s.get(path(w.y, "/task"), globalView).status, 200);
}

TEST_P(CollaborationApi, CollaborationTasksShowTheirStatus) {
    World w(server());
    auto& s = w.f.s;
    auto node = w.f.node(w.a, w.x);
    // Only members create tasks in a collaboration; root's organization is not one.
    auto researcher = w.f.user(w.a, {"task:org:c"});
    Poco::JSON::Array::Ptr organizations = new Poco::JSON::Array;
    organizations->add(json({{"id", w.a}, {"input", "data"}}));
    auto task =
        s.post("/task",
               json({{"collaboration_id", w.x}, {"organizations", organizations}, {"image", "hello-world"}}),
               researcher);
    ASSERT_EQ(task.status, 201) << task.body;

    auto tasks = s.get(path(w.x, "/task?page=1&per_page=20&include=metadata"), w.f.root);
    ASSERT_EQ(tasks.status, 200) << tasks.body;
    ASSERT_EQ(idsOf(tasks), std::vector<Id>{idOf(task.object())});
    auto shown = tasks.object()->getArray("data")->getObject(0);
    EXPECT_EQ(shown->getValue<std::string>("status"), "pending");
    EXPECT_FALSE(shown->getValue<bool>("complete"));
    EXPECT_TRUE(shown->isNull("finished_at"));
    EXPECT_EQ(idOf(shown, "collaboration"), w.x);

    auto collaboration = s.get(path(w.x), w.f.root).object();
    ASSERT_TRUE(collaboration->getArray("tasks"));
    EXPECT_EQ(idOf(collaboration->getArray("tasks")->getObject(0)), idOf(task.object()));
    ASSERT_TRUE(collaboration->getArray("nodes"));
    EXPECT_EQ(idOf(collaboration->getArray("nodes")->getObject(0)), node.id);
}

TEST_P(CollaborationApi, NodeSeesOnlyItsOwnCollaboration) {
    World w(server());
    auto& s = w.f.s;
    auto node = w.f.node(w.a, w.x);
    auto token = w.f.nodeToken(node.apiKey);
    ASSERT_FALSE(token.empty());

    EXPECT_EQ(s.get(path(w.x), token).status, 200);
    EXPECT_EQ(s.get(path(w.y), token).status, 403);
    EXPECT_EQ(sorted(idsOf(s.get(path(w.x, "/organization"), token))), sorted({w.a, w.b}));
    EXPECT_EQ(s.get(path(w.x, "/task"), token).status, 200);
    // The list is for users only; the kernel refuses other kinds of caller.
    EXPECT_EQ(s.get("/collaboration", token).status, 400);
    EXPECT_EQ(
        s.post("/collaboration", json({{"name", "N"}, {"organization_ids", idList({w.a})}}), token).status,
        400);
}

TEST_P(CollaborationApi, DeletingCollaborationLeavesItsNodesUsable) {
    World w(server());
    auto& s = w.f.s;
    auto node = w.f.node(w.a, w.x);
    ASSERT_EQ(s.del(path(w.x), s.rootToken()).status, 200);

    auto token = w.f.nodeToken(node.apiKey);
    ASSERT_FALSE(token.empty());
    auto self = s.get("/node/" + std::to_string(node.id), token);
    ASSERT_EQ(self.status, 200) << self.body;
    EXPECT_TRUE(self.object()->isNull("collaboration"));
    EXPECT_EQ(s.get(path(w.x), token).status, 404);
    EXPECT_EQ(s.get("/node", s.rootToken()).status, 200);
    EXPECT_EQ(s.get("/organization/" + std::to_string(w.a), s.rootToken()).status, 200);
    // The organization may get a node in a new collaboration.
    auto z = w.f.collaboration("Zulu", {w.a});
    EXPECT_NE(w.f.node(w.a, z).id, 0);
}

DQ_ON_BOTH_DATABASES(CollaborationApi);

class CollaborationWithoutNodes : public BothDatabases {};

TEST_P(CollaborationWithoutNodes, NodeRoutesAnswer404AndTheRestWorks) {
    TestServer::Options options;
    options.plugins = {"organizations", "roles", "users", "collaborations"};
    Federation f(server(options));
    auto a = f.organization("Org A");
    auto x = f.collaboration("X-ray", {a});
    auto nodes = f.s.get(path(x, "/node"), f.root);
    EXPECT_EQ(nodes.status, 404);
    EXPECT_NE(nodes.msg().find("nodes plugin"), std::string::npos) << nodes.body;
    EXPECT_EQ(f.s.post(path(x, "/node"), json({{"id", 1}}), f.root).status, 404);
    EXPECT_EQ(f.s.get(path(x, "/task"), f.root).status, 404);
    auto shown = f.s.get(path(x), f.root);
    ASSERT_EQ(shown.status, 200) << shown.body;
    EXPECT_FALSE(shown.object()->has("nodes"));
    EXPECT_EQ(idsOf(f.s.get("/organization?collaboration_id=" + std::to_string(x), f.root)),
              std::vector<Id>{a});
}

DQ_ON_BOTH_DATABASES(CollaborationWithoutNodes);

} // namespace
} // namespace dq::test
