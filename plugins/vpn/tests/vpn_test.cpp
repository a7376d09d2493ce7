// The vpn plugin over HTTP: a node gets an OpenVPN config from a fake EduVPN portal on loopback
// (PKCE, cookie and client credentials checked by the fake), every failure mode gets a clear
// status, and containers see the addresses of their task family.
#include "tests/peers/peer_process.h"
#include "tests/support/test_server.h"

#include <algorithm>
#include <gtest/gtest.h>

namespace {

using dq::test::json;
using dq::test::TestServer;
using dq::test::peers::FakeEduVpn;
using Poco::JSON::Array;
using Poco::JSON::Object;

const std::string kProfile = "client\ndev tun\nremote vpn.example.org 1194 udp\n<ca>\nCA-TEXT\n</ca>\n";
const std::string kTlsCrypt = "<tls-crypt>\nTLS-CRYPT\n</tls-crypt>\n";

std::string withKeypair(int n) {
    auto i = std::to_string(n);
    return kProfile + "<cert>\nCERT-" + i + "\n</cert>\n<key>\nKEY-" + i + "\n</key>\n" + kTlsCrypt;
}

/// Two organizations in one collaboration, each with a node; node tokens on demand.
struct Federation {
    explicit Federation(TestServer& server) : s(server) {
        auto root = s.rootToken();
        for (const char* name : {"Alpha", "Beta"}) {
            auto r = s.post("/organization", json({{"name", std::string(name)}}), root);
            EXPECT_EQ(r.status, 201) << r.body;
            orgs.push_back(r.object()->getValue<long long>("id"));
        }
        Array::Ptr members = new Array;
        for (auto id : orgs)
            members->add(id);
        auto c = s.post(
            "/collaboration",
            json({{"name", std::string("Study")}, {"organization_ids", members}, {"encrypted", false}}),
            root);
        EXPECT_EQ(c.status, 200) << c.body;
        collaboration = c.object()->getValue<long long>("id");
        for (auto org : orgs) {
            auto n =
                s.post("/node", json({{"collaboration_id", collaboration}, {"organization_id", org}}), root);
            EXPECT_EQ(n.status, 201) << n.body;
            nodes.push_back(n.object()->getValue<long long>("id"));
            apiKeys.push_back(n.object()->getValue<std::string>("api_key"));
        }
    }

    std::string nodeToken(std::size_t index) {
        auto r = s.post("/token/node", json({{"api_key", apiKeys.at(index)}}));
        EXPECT_EQ(r.status, 200) << r.body;
        return r.status == 200 ? r.object()->getValue<std::string>("access_token") : "";
    }

    TestServer& s;
    std::vector<long long> orgs, nodes;
    std::vector<std::string> apiKeys;
    long long collaboration = 0;
};

class VpnConfig : public dq::test::BothDatabases {
protected:
    TestServer& start(const std::string& yaml) {
        TestServer::Options options;
        options.extraYaml = yaml;
        return server(options);
    }
    FakeEduVpn portal;
};

TEST_P(VpnConfig, NodeGetsTheProfileConfigWithAFreshKeypairBeforeTlsCrypt) {
    auto& s = start(portal.yaml());
    Federation f(s);
    auto r = s.get("/vpn", f.nodeToken(0));
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.object()->getValue<std::string>("ovpn_config"), withKeypair(1));
}

TEST_P(VpnConfig, UpdateReplacesTheKeypair) {
    auto& s = start(portal.yaml());
    Federation f(s);
    auto token = f.nodeToken(1);
    auto r = s.post("/vpn/update", json({{"vpn_config", withKeypair(7)}}), token);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.object()->getValue<std::string>("ovpn_config"), withKeypair(1));

    auto missing = s.post("/vpn/update", json({}), token);
    EXPECT_EQ(missing.status, 400);
    EXPECT_EQ(missing.msg(), "vpn_config is missing!");
}

TEST_P(VpnConfig, OnlyNodesMayAskForAConfig) {
    auto& s = start(portal.yaml());
    auto r = s.get("/vpn", s.rootToken());
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(s.get("/vpn").status, 401);
}

DQ_ON_BOTH_DATABASES(VpnConfig);

class VpnFailures : public ::testing::Test {
protected:
    /// A node token of a server configured with `yaml`, and GET /vpn with it.
    dq::test::HttpResult askConfig(const std::string& yaml) {
        TestServer::Options options;
        options.extraYaml = yaml;
        server = std::make_unique<TestServer>(options);
        federation = std::make_unique<Federation>(*server);
        return server->get("/vpn", federation->nodeToken(0));
    }
    FakeEduVpn portal;
    std::unique_ptr<TestServer> server;
    std::unique_ptr<Federation> federation;
};

TEST_F(VpnFailures, WithoutVpnServerTheRoutesAnswer501) {
    auto r = askConfig("");
    EXPECT_EQ(r.status, 501);
    EXPECT_EQ(r.msg(), "This server does not support VPN");
    auto update =
        server->post("/vpn/update", json({{"vpn_config", std::string("x")}}), federation->nodeToken(1));
    EXPECT_EQ(update.status, 501);
}

TEST_F(VpnFailures, UnreachableVpnServerIs503) {
    auto yaml = portal.yaml();
    auto from = yaml.find(portal.url());
    yaml.replace(from, portal.url().size(),
                 "http://127.0.0.1:" + std::to_string(dq::test::peers::closedPort()));
    auto r = askConfig(yaml);
    EXPECT_EQ(r.status, 503) << r.body;
    EXPECT_NE(r.msg().find("VPN server unreachable"), std::string::npos) << r.body;
}

TEST_F(VpnFailures, SlowVpnServerIs504NotAHang) {
    portal.setMode("slow");
    auto r = askConfig(portal.yaml() + "  plugins:\n    settings:\n      vpn:\n        timeout_seconds: 1\n");
    EXPECT_EQ(r.status, 504) << r.body;
    EXPECT_NE(r.msg().find("did not answer within 1 s"), std::string::npos) << r.body;
}

TEST_F(VpnFailures, WrongPortalPasswordIs502NamingTheSettings) {
    auto r = askConfig(portal.yaml("wrong"));
    EXPECT_EQ(r.status, 502) << r.body;
    EXPECT_NE(r.msg().find("authorization code"), std::string::npos) << r.body;
    EXPECT_NE(r.msg().find("portal_userpass"), std::string::npos) << r.body;
}

TEST_F(VpnFailures, RefusedTokenExchangeIs502) {
    portal.setMode("bad_token");
    auto r = askConfig(portal.yaml());
    EXPECT_EQ(r.status, 502) << r.body;
    EXPECT_NE(r.msg().find("invalid_grant"), std::string::npos) << r.body;
}

TEST_F(VpnFailures, GarbageProfileListIs502) {
    portal.setMode("bad_profiles");
    auto r = askConfig(portal.yaml());
    EXPECT_EQ(r.status, 502) << r.body;
    EXPECT_NE(r.msg().find("profile_list"), std::string::npos) << r.body;
}

TEST_F(VpnFailures, KeypairWithoutCertificateIs502) {
    portal.setMode("bad_keypair");
    auto r = askConfig(portal.yaml());
    EXPECT_EQ(r.status, 502) << r.body;
    EXPECT_NE(r.msg().find("create_keypair"), std::string::npos) << r.body;
}

TEST_F(VpnFailures, ServerErrorPagesAre502) {
    portal.setMode("error_status");
    auto r = askConfig(portal.yaml());
    EXPECT_EQ(r.status, 502) << r.body;
}

TEST(VpnSettings, IncompleteVpnServerBlockRefusesTheStart) {
    TestServer::Options options;
    options.extraYaml = "  vpn_server:\n    url: http://127.0.0.1:9/\n    client_id: vantage6\n";
    try {
        TestServer s(options);
        FAIL() << "started with an incomplete vpn_server block";
    } catch (const std::exception& e) {
        std::string what = e.what();
        EXPECT_NE(what.find("vpn_server.client_secret"), std::string::npos) << what;
        EXPECT_NE(what.find("vpn_server.portal_userpass"), std::string::npos) << what;
    }
}

// ---- /vpn/algorithm/addresses ----

class AlgorithmAddresses : public dq::test::BothDatabases {
protected:
    /// A task for both organizations with ports on both results, a child task with one port, and
    /// a container token of Alpha's node for the parent task.
    void SetUp() override {
        BothDatabases::SetUp();
        if (IsSkipped())
            return;
        auto& s = server();
        f = std::make_unique<Federation>(s);
        Array::Ptr targets = new Array;
        for (auto org : f->orgs) {
            Object::Ptr t = new Object;
            t->set("id", org);
            t->set("input", std::string("in"));
            targets->add(t);
        }
        auto task = s.post("/task",
                           json({{"collaboration_id", f->collaboration},
                                 {"organizations", targets},
                                 {"name", std::string("t")},
                                 {"image", std::string("algo")},
                                 {"description", std::string("d")},
                                 {"database", std::string("default")}}),
                           dq::test::userWithRules(s, f->orgs[0], {"task:ORGANIZATION:CREATE"}));
        ASSERT_EQ(task.status, 201) << task.body;
        parent = task.object()->getValue<long long>("id");
        s.transaction([&](dq::sdk::Store& store) {
            for (std::size_t i = 0; i < f->nodes.size(); ++i)
                store.update("node", f->nodes[i],
                             dq::sdk::Record().set("ip", "10.76.0." + std::to_string(i + 2)));
            auto results = store.query("SELECT id, organization_id FROM result WHERE task_id = ? ORDER BY id",
                                       {dq::sdk::Value(parent)});
            for (const auto& row : results.rows) {
                auto result = row[0].convert<long long>();
                store.insert("algorithmport", dq::sdk::Record()
                                                  .set("port", Poco::Int64(8000 + result))
                                                  .set("label", std::string("api"))
                                                  .set("result_id", Poco::Int64(result)));
                store.insert("algorithmport", dq::sdk::Record()
                                                  .set("port", Poco::Int64(9000 + result))
                                                  .set("label", std::string("metrics"))
                                                  .set("result_id", Poco::Int64(result)));
            }
            child = store.insert("task", dq::sdk::Record()
                                             .set("name", std::string("child"))
                                             .set("image", std::string("algo"))
                                             .set("collaboration_id", Poco::Int64(f->collaboration))
                                             .set("parent_id", Poco::Int64(parent)));
            childResult = store.insert("result", dq::sdk::Record()
                                                     .set("task_id", Poco::Int64(child))
                                                     .set("organization_id", Poco::Int64(f->orgs[1])));
            store.insert("algorithmport", dq::sdk::Record()
                                              .set("port", Poco::Int64(7000))
                                              .set("label", std::string("api"))
                                              .set("result_id", Poco::Int64(childResult)));
        });
        parentToken = containerToken(parent);
        childToken = containerToken(child);
    }

    std::string containerToken(long long task) {
        auto r = server().post("/token/container", json({{"task_id", task}, {"image", std::string("algo")}}),
                               f->nodeToken(0));
        EXPECT_EQ(r.status, 200) << r.body;
        return r.status == 200 ? r.object()->getValue<std::string>("container_token") : "";
    }

    /// "port@ip org task parent" per address, in answer order.
    std::vector<std::string> addresses(const std::string& query, const std::string& token) {
        auto r = server().get("/vpn/algorithm/addresses" + query, token);
        EXPECT_EQ(r.status, 200) << r.body;
        std::vector<std::string> out;
        if (r.status != 200)
            return out;
        for (const auto& item : *r.object()->getArray("addresses")) {
            auto a = item.extract<Object::Ptr>();
            out.push_back(a->get("port").toString() + "@" + a->get("ip").toString() + " " +
                          a->getValue<std::string>("label") + " org" + a->get("organization_id").toString() +
                          " task" + a->get("task_id").toString() + " parent" +
                          (a->isNull("parent_id") ? std::string("null") : a->get("parent_id").toString()));
        }
        return out;
    }

    std::string expected(long long port, int nodeIndex, const std::string& label, long long task,
                         const std::string& parentText) {
        return std::to_string(port) + "@10.76.0." + std::to_string(nodeIndex + 2) + " " + label + " org" +
               std::to_string(f->orgs[nodeIndex]) + " task" + std::to_string(task) + " parent" + parentText;
    }

    std::unique_ptr<Federation> f;
    long long parent = 0, child = 0, childResult = 0;
    std::string parentToken, childToken;
};

TEST_P(AlgorithmAddresses, ListsThePortsOfTheOwnTaskWithTheirNodesAddresses) {
    auto got = addresses("?label=api", parentToken);
    ASSERT_EQ(got.size(), 2u);
    auto results = server().get("/result?task_id=" + std::to_string(parent), server().rootToken()).array();
    ASSERT_EQ(results->size(), 2u);
    std::vector<long long> ids;
    for (const auto& r : *results)
        ids.push_back(r.extract<Object::Ptr>()->getValue<long long>("id"));
    std::sort(ids.begin(), ids.end());
    EXPECT_EQ(got[0], expected(8000 + ids[0], 0, "api", parent, "null"));
    EXPECT_EQ(got[1], expected(8000 + ids[1], 1, "api", parent, "null"));
    EXPECT_EQ(addresses("", parentToken).size(), 4u);
}

TEST_P(AlgorithmAddresses, IncludesOrSelectsChildrenAndParent) {
    auto onlyChildren = addresses("?only_children=1", parentToken);
    ASSERT_EQ(onlyChildren.size(), 1u);
    EXPECT_EQ(onlyChildren[0], expected(7000, 1, "api", child, std::to_string(parent)));
    EXPECT_EQ(addresses("?include_children=true&label=api", parentToken).size(), 3u);
    EXPECT_EQ(addresses("?include_children=false&label=api", parentToken).size(), 2u);

    EXPECT_EQ(addresses("", childToken).size(), 1u);
    EXPECT_EQ(addresses("?only_parent=1", childToken).size(), 4u);
    EXPECT_EQ(addresses("?include_parent=1&label=api", childToken).size(), 3u);
    EXPECT_TRUE(addresses("?only_parent=1", parentToken).empty());
}

TEST_P(AlgorithmAddresses, ConflictingOptionsAre400) {
    auto& s = server();
    for (const char* query : {"?only_children=1&only_parent=1", "?only_children=1&include_parent=1",
                              "?only_parent=1&include_children=1"}) {
        auto r = s.get(std::string("/vpn/algorithm/addresses") + query, parentToken);
        EXPECT_EQ(r.status, 400) << query << ": " << r.body;
        EXPECT_NE(r.msg().find("simultaneously is not possible"), std::string::npos) << r.body;
    }
}

TEST_P(AlgorithmAddresses, OnlyContainersMayAsk) {
    auto r = server().get("/vpn/algorithm/addresses", f->nodeToken(0));
    EXPECT_EQ(r.status, 400) << r.body;
}

DQ_ON_BOTH_DATABASES(AlgorithmAddresses);

} // namespace
