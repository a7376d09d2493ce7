// The organizations plugin over real HTTP, on SQLite and PostgreSQL: fields, pagination, filters,
// links, and who may see and change which organization.
#include "tests/support/test_server.h"

#include <Poco/JSON/Object.h>

using dq::test::BothDatabases;
using dq::test::createOrganization;
using dq::test::json;
using dq::test::TestServer;
using dq::test::userWithRules;

namespace {

class OrganizationApi : public BothDatabases {};

std::vector<long long> idsOf(const Poco::JSON::Array::Ptr& items) {
    std::vector<long long> out;
    for (std::size_t i = 0; i < items->size(); ++i)
        out.push_back(items->getObject(static_cast<unsigned>(i))->getValue<Poco::Int64>("id"));
    return out;
}

TEST_P(OrganizationApi, CreatesOrganizationWith201AndShowsEveryField) {
    auto& s = server();
    auto r = s.post("/organization",
                    json({{"name", "North"},
                          {"domain", "north.example"},
                          {"address1", "Road 1"},
                          {"address2", "B"},
                          {"zipcode", "1011AB"},
                          {"country", "Netherlands"},
                          {"public_key", "LS0tLS1CRUdJTg=="}}),
                    s.rootToken());
    ASSERT_EQ(r.status, 201) << r.body;
    auto org = r.object();
    EXPECT_EQ(org->getValue<std::string>("name"), "North");
    EXPECT_EQ(org->getValue<std::string>("domain"), "north.example");
    EXPECT_EQ(org->getValue<std::string>("zipcode"), "1011AB");
    EXPECT_EQ(org->getValue<std::string>("public_key"), "LS0tLS1CRUdJTg==");
    EXPECT_FALSE(org->has("created_tasks"));

    auto id = org->getValue<Poco::Int64>("id");
    auto again = s.get("/organization/" + std::to_string(id), s.rootToken());
    ASSERT_EQ(again.status, 200);
    EXPECT_EQ(again.object()->getValue<std::string>("address1"), "Road 1");
}

TEST_P(OrganizationApi, MissingFieldsDefaultToEmptyText) {
    auto& s = server();
    auto r = s.post("/organization", json({{"name", "Bare"}}), s.rootToken());
    ASSERT_EQ(r.status, 201) << r.body;
    EXPECT_EQ(r.object()->getValue<std::string>("country"), "");
    EXPECT_EQ(r.object()->getValue<std::string>("public_key"), "");
}

TEST_P(OrganizationApi, ShowsUsersOfTheOrganizationAsLinks) {
    auto& s = server();
    auto id = createOrganization(s, "With users");
    userWithRules(s, id, {});
    auto org = s.get("/organization/" + std::to_string(id), s.rootToken()).object();
    auto users = org->getArray("users");
    ASSERT_TRUE(users) << "users should be a list of links";
    ASSERT_EQ(users->size(), 1u);
    auto link = users->getObject(0);
    EXPECT_EQ(link->getValue<std::string>("link"),
              "/api/user/" + std::to_string(link->getValue<Poco::Int64>("id")));
    EXPECT_TRUE(link->getArray("methods")->size() >= 1);
}

TEST_P(OrganizationApi, RejectsUnknownFieldsAndWrongTypesNamingThem) {
    auto& s = server();
    auto r = s.post("/organization", json({{"name", 5}, {"colour", "red"}}), s.rootToken());
    EXPECT_EQ(r.status, 400);
    auto errors = r.object()->getObject("errors");
    ASSERT_TRUE(errors) << r.body;
    EXPECT_EQ(errors->getValue<std::string>("name"), "expected a string");
    EXPECT_EQ(errors->getValue<std::string>("colour"), "unknown field");
}

TEST_P(OrganizationApi, RejectsMalformedJsonWith400AndKeepsServing) {
    auto& s = server();
    auto r = s.request("POST", "/organization", "{\"name\": ", s.rootToken());
    EXPECT_EQ(r.status, 400);
    EXPECT_NE(r.msg().find("not valid JSON"), std::string::npos) << r.body;
    EXPECT_EQ(s.get("/organization", s.rootToken()).status, 200);
}

TEST_P(OrganizationApi, RejectsBodiesOverTheLimitWith413) {
    auto& s = server();
    std::string huge = "{\"name\": \"" + std::string(2 * 1024 * 1024, 'x') + "\"}";
    auto r = s.request("POST", "/organization", huge, s.rootToken());
    EXPECT_EQ(r.status, 413);
    auto list = s.get("/organization?name=xx%25", s.rootToken());
    EXPECT_EQ(list.array()->size(), 0u);
}

TEST_P(OrganizationApi, UnknownIdIs404) {
    auto& s = server();
    auto r = s.get("/organization/9999", s.rootToken());
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(r.msg(), "Organization id=9999 not found!");
    EXPECT_EQ(s.patch("/organization/9999", json({{"name", "x"}}), s.rootToken()).status, 404);
}

TEST_P(OrganizationApi, PaginatesLikeVantage6) {
    auto& s = server();
    for (int i = 0; i < 5; ++i)
        createOrganization(s, "page-org-" + std::to_string(i));
    auto all = s.get("/organization", s.rootToken());
    ASSERT_EQ(all.status, 200);
    auto total = all.array()->size();
    EXPECT_EQ(all.headers["total-count"], std::to_string(total));

    auto page = s.get("/organization?page=2&per_page=2&include=metadata", s.rootToken());
    ASSERT_EQ(page.status, 200) << page.body;
    auto body = page.object();
    EXPECT_EQ(body->getArray("data")->size(), 2u);
    auto links = body->getObject("links");
    EXPECT_EQ(links->getValue<std::string>("self"), "/api/organization?include=metadata&page=2&per_page=2");
    EXPECT_EQ(links->getValue<std::string>("previous"),
              "/api/organization?include=metadata&page=1&per_page=2");
    EXPECT_TRUE(links->has("first") && links->has("last"));
    EXPECT_EQ(page.headers["total-count"], std::to_string(total));
    EXPECT_NE(page.headers["link"].find("rel=next"), std::string::npos);

    EXPECT_EQ(s.get("/organization?page=1", s.rootToken()).array()->size(), std::min<std::size_t>(10, total));
}

TEST_P(OrganizationApi, BadPageNumbersAre400NotCrashes) {
    auto& s = server();
    EXPECT_EQ(s.get("/organization?page=0", s.rootToken()).status, 400);
    EXPECT_EQ(s.get("/organization?page=abc", s.rootToken()).status, 400);
    EXPECT_EQ(s.get("/organization?per_page=-1", s.rootToken()).status, 400);
}

TEST_P(OrganizationApi, FiltersByNameLikeAndCountryAndSorts) {
    auto& s = server();
    s.post("/organization", json({{"name", "Alpha clinic"}, {"country", "Belgium"}}), s.rootToken());
    s.post("/organization", json({{"name", "Beta clinic"}, {"country", "Germany"}}), s.rootToken());
    s.post("/organization", json({{"name", "Gamma lab"}, {"country", "Belgium"}}), s.rootToken());

    auto clinics = s.get("/organization?name=%25clinic&sort=-name", s.rootToken()).array();
    ASSERT_EQ(clinics->size(), 2u);
    EXPECT_EQ(clinics->getObject(0)->getValue<std::string>("name"), "Beta clinic");
    EXPECT_EQ(clinics->getObject(1)->getValue<std::string>("name"), "Alpha clinic");

    auto belgian = s.get("/organization?country=Belgium", s.rootToken()).array();
    EXPECT_EQ(belgian->size(), 2u);
    EXPECT_EQ(s.get("/organization?sort=password", s.rootToken()).status, 400);
}

TEST_P(OrganizationApi, CallerWithoutRulesIsRefusedWith403) {
    auto& s = server();
    auto org = createOrganization(s, "Nobody's");
    auto token = userWithRules(s, org, {});
    EXPECT_EQ(s.get("/organization", token).status, 403);
    EXPECT_EQ(s.get("/organization/" + std::to_string(org), token).status, 403);
    EXPECT_EQ(s.patch("/organization/" + std::to_string(org), json({{"name", "x"}}), token).status, 403);
    EXPECT_EQ(s.post("/organization", json({{"name", "x"}}), token).status, 403);
}

TEST_P(OrganizationApi, OrganizationScopeSeesOnlyItsOwnOrganization) {
    auto& s = server();
    auto mine = createOrganization(s, "Mine");
    auto other = createOrganization(s, "Other");
    auto token = userWithRules(s, mine, {"organization:ORGANIZATION:VIEW"});
    auto list = s.get("/organization", token);
    ASSERT_EQ(list.status, 200);
    EXPECT_EQ(idsOf(list.array()), std::vector<long long>{mine});
    EXPECT_EQ(s.get("/organization/" + std::to_string(mine), token).status, 200);
    EXPECT_EQ(s.get("/organization/" + std::to_string(other), token).status, 403);
    EXPECT_EQ(s.get("/organization/99999", token).status, 404);
}

TEST_P(OrganizationApi, GlobalScopeSeesEveryOrganization) {
    auto& s = server();
    auto mine = createOrganization(s, "Mine");
    auto other = createOrganization(s, "Other");
    auto token = userWithRules(s, mine, {"organization:GLOBAL:VIEW"});
    auto list = s.get("/organization", token);
    ASSERT_EQ(list.status, 200);
    auto ids = idsOf(list.array());
    EXPECT_NE(std::find(ids.begin(), ids.end(), other), ids.end());
    EXPECT_EQ(s.get("/organization/" + std::to_string(other), token).status, 200);
}

TEST_P(OrganizationApi, CollaborationScopeSeesCollaboratingOrganizationsOnly) {
    auto& s = server();
    auto mine = createOrganization(s, "Mine");
    auto partner = createOrganization(s, "Partner");
    auto stranger = createOrganization(s, "Stranger");
    auto c = s.post("/collaboration",
                    json({{"name", "shared"}, {"organization_ids", dq::test::ids({mine, partner})}}),
                    s.rootToken());
    ASSERT_EQ(c.status, 200) << c.body;
    auto token = userWithRules(s, mine, {"organization:COLLABORATION:VIEW"});
    auto ids = idsOf(s.get("/organization", token).array());
    std::sort(ids.begin(), ids.end());
    EXPECT_EQ(ids, (std::vector<long long>{mine, partner}));
    EXPECT_EQ(s.get("/organization/" + std::to_string(partner), token).status, 200);
    EXPECT_EQ(s.get("/organization/" + std::to_string(stranger), token).status, 403);
}

TEST_P(OrganizationApi, OrganizationEditScopeChangesOnlyItsOwnOrganization) {
    auto& s = server();
    auto mine = createOrganization(s, "Mine");
    auto other = createOrganization(s, "Other");
    auto token = userWithRules(s, mine, {"organization:ORGANIZATION:EDIT"});
    auto own = s.patch("/organization/" + std::to_string(mine), json({{"name", "Renamed"}}), token);
    ASSERT_EQ(own.status, 200) << own.body;
    EXPECT_EQ(own.object()->getValue<std::string>("name"), "Renamed");
    EXPECT_EQ(own.object()->getValue<std::string>("country"), "NL") << "fields not sent stay as they were";
    EXPECT_EQ(s.patch("/organization/" + std::to_string(other), json({{"name", "Taken"}}), token).status,
              403);
}

TEST_P(OrganizationApi, GlobalEditScopeChangesAnyOrganization) {
    auto& s = server();
    auto mine = createOrganization(s, "Mine");
    auto other = createOrganization(s, "Other");
    auto token = userWithRules(s, mine, {"organization:GLOBAL:EDIT"});
    auto r = s.patch("/organization/" + std::to_string(other), json({{"name", "Renamed"}}), token);
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.object()->getValue<std::string>("name"), "Renamed");
}

TEST_P(OrganizationApi, CreateNeedsTheGlobalCreateRule) {
    auto& s = server();
    auto mine = createOrganization(s, "Mine");
    auto creator = userWithRules(s, mine, {"organization:GLOBAL:CREATE"});
    EXPECT_EQ(s.post("/organization", json({{"name", "New"}}), creator).status, 201);
    auto viewer = userWithRules(s, mine, {"organization:GLOBAL:VIEW"});
    EXPECT_EQ(s.post("/organization", json({{"name", "New"}}), viewer).status, 403);
}

DQ_ON_BOTH_DATABASES(OrganizationApi);

// A server with only this plugin still serves it, and the routes of disabled plugins do not exist.
TEST(OrganizationsAlone, ServesWithoutOtherPluginsAndTheirRoutesAre404) {
    TestServer::Options options;
    options.plugins = {"organizations"};
    TestServer s(options);
    EXPECT_EQ(s.get("/organization").status, 401);
    EXPECT_EQ(s.get("/organization").msg(), "Missing Authorization Header");
    EXPECT_EQ(s.get("/user").status, 404);
}

} // namespace
