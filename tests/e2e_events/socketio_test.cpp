// The event channel as vantage6 nodes use it: python-socketio connects to /socket.io/ (polling then
// WebSocket, or WebSocket only), hears `new_task` when a user creates a task, sends `ping` and
// `node_info_update`, and is seen offline after it leaves. Abusive clients do not disturb others.
#include "kernel/app/kernel.h"
#include "tests/support/test_server.h"

#include <Poco/JSON/Parser.h>
#include <chrono>
#include <cstdio>
#include <thread>

using dq::test::ids;
using dq::test::json;
using dq::test::TestServer;

namespace {

const char* kPython = "/usr/bin/python3";

struct ClientRun {
    int exitCode = -1;
    std::string output;
    Poco::JSON::Object::Ptr result; ///< the last line of output, parsed
};

/// Runs the Python client with a scenario; its last output line is a JSON object.
ClientRun runClient(const std::vector<std::string>& args) {
    std::string command = std::string(kPython) + " " + DQ_EVENTS_CLIENT;
    for (const auto& a : args)
        command += " '" + a + "'";
    command += " 2>&1";
    ClientRun run;
    FILE* pipe = ::popen(command.c_str(), "r");
    if (!pipe)
        return run;
    char buffer[4096];
    while (auto n = std::fread(buffer, 1, sizeof(buffer), pipe))
        run.output.append(buffer, n);
    int status = ::pclose(pipe);
    run.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    auto end = run.output.find_last_not_of('\n');
    auto start = run.output.rfind('\n', end);
    auto last =
        run.output.substr(start == std::string::npos ? 0 : start + 1, end == std::string::npos ? 0 : end + 1);
    try {
        run.result = Poco::JSON::Parser().parse(last).extract<Poco::JSON::Object::Ptr>();
    } catch (const std::exception&) {
    }
    return run;
}

bool clientAvailable() {
    std::string command = std::string(kPython) + " -c 'import socketio, websocket, requests' 2>/dev/null";
    return std::system(command.c_str()) == 0;
}

/// A collaboration of one organization with one node; the node's access token.
struct Federation {
    long long organization = 0;
    long long collaboration = 0;
    long long node = 0;
    std::string nodeToken;
};

Federation makeFederation(TestServer& s) {
    Federation f;
    f.organization = dq::test::createOrganization(s, "events-org");
    // Root's own organization takes part too: only participants may create tasks.
    auto root = s.get("/user/1", s.rootToken());
    EXPECT_EQ(root.status, 200) << root.body;
    if (root.status != 200)
        return f;
    long long rootOrganization = root.object()->getObject("organization")->getValue<Poco::Int64>("id");
    auto collab = s.post(
        "/collaboration",
        json({{"name", "events-collab"}, {"organization_ids", ids({rootOrganization, f.organization})}}),
        s.rootToken());
    // vantage6 answers 200 here (not 201).
    EXPECT_TRUE(collab.status == 200 || collab.status == 201) << collab.body;
    if (collab.status != 200 && collab.status != 201)
        return f;
    f.collaboration = collab.object()->getValue<Poco::Int64>("id");
    auto node =
        s.post("/node", json({{"collaboration_id", f.collaboration}, {"organization_id", f.organization}}),
               s.rootToken());
    EXPECT_EQ(node.status, 201) << node.body;
    if (node.status != 201)
        return f;
    f.node = node.object()->getValue<Poco::Int64>("id");
    auto token = s.post("/token/node", json({{"api_key", node.object()->getValue<std::string>("api_key")}}));
    EXPECT_EQ(token.status, 200) << token.body;
    if (token.status == 200)
        f.nodeToken = token.object()->getValue<std::string>("access_token");
    return f;
}

/// The node's status as the API shows it, once it differs from `from` (or after ~10 s).
std::string statusAfterChange(TestServer& s, long long node, const std::string& from) {
    std::string status;
    for (int i = 0; i < 100; ++i) {
        auto r = s.get("/node/" + std::to_string(node), s.rootToken());
        status = r.status == 200 ? r.object()->optValue<std::string>("status", "") : "";
        if (status != from)
            return status;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return status;
}

class SocketIo : public ::testing::Test {
protected:
    void SetUp() override {
        if (!clientAvailable())
            GTEST_SKIP()
                << "python-socketio is missing: apt-get install -y python3-socketio python3-websocket "
                   "python3-requests";
    }

    ClientRun nodeScenario(TestServer& s, const Federation& f, const std::string& scenario) {
        return runClient({scenario, s.baseUrl(), f.nodeToken, s.rootToken(), std::to_string(f.collaboration),
                          std::to_string(f.organization)});
    }

    void expectNodeFlow(const std::string& scenario, const std::string& transport) {
        TestServer s;
        auto f = makeFederation(s);
        ASSERT_FALSE(f.nodeToken.empty());
        auto run = nodeScenario(s, f, scenario);
        ASSERT_EQ(run.exitCode, 0) << run.output;
        ASSERT_TRUE(run.result) << run.output;
        auto& r = *run.result;
        EXPECT_EQ(r.getValue<std::string>("transport"), transport);
        EXPECT_TRUE(r.getValue<bool>("sid"));
        EXPECT_EQ(r.get("new_task").toString(), r.get("created_task").toString()) << run.output;
        EXPECT_TRUE(r.getValue<bool>("task_created_has_task_id")) << run.output;
        EXPECT_EQ(r.getValue<std::string>("status_while_connected"), "online");
        EXPECT_TRUE(r.getValue<bool>("last_seen_set"));
        EXPECT_EQ(r.get("status_change_run_id").toString(), "42") << run.output;
        // node_info_update: one nodeconfig row per list item.
        auto config = r.get("config").toString();
        EXPECT_NE(config.find("algo/a"), std::string::npos) << config;
        EXPECT_NE(config.find("algo/b"), std::string::npos) << config;
        EXPECT_NE(config.find("encryption"), std::string::npos) << config;
        auto joined = r.get("joined_messages").toString();
        EXPECT_NE(joined.find("joined room collaboration_" + std::to_string(f.collaboration)),
                  std::string::npos)
            << joined;
        EXPECT_EQ(statusAfterChange(s, f.node, "online"), "offline");
        auto view = s.get("/node/" + std::to_string(f.node), s.rootToken());
        EXPECT_EQ(view.body.find("algo/a"), std::string::npos) << "node config is dropped on disconnect";
    }
};

TEST_F(SocketIo, NodeOverPollingUpgradedToWebSocketHearsNewTaskAndGoesOfflineOnDisconnect) {
    expectNodeFlow("polling-upgrade", "websocket");
}

TEST_F(SocketIo, NodeOverWebSocketOnlyHearsNewTaskAndGoesOfflineOnDisconnect) {
    expectNodeFlow("websocket", "websocket");
}

TEST_F(SocketIo, NodeOverLongPollingOnlyHearsNewTask) {
    expectNodeFlow("polling-only", "polling");
}

TEST_F(SocketIo, InvalidTokenGetsExpiredTokenAndIsDisconnected) {
    TestServer s;
    auto run = runClient({"expired", s.baseUrl()});
    ASSERT_EQ(run.exitCode, 0) << run.output;
    ASSERT_TRUE(run.result) << run.output;
    EXPECT_TRUE(run.result->getValue<bool>("expired_token"));
    EXPECT_TRUE(run.result->getValue<bool>("disconnected"));
}

TEST_F(SocketIo, ConnectWithoutTokenIsRefused) {
    TestServer s;
    auto run = runClient({"no-token", s.baseUrl()});
    ASSERT_EQ(run.exitCode, 0) << run.output;
    ASSERT_TRUE(run.result) << run.output;
    EXPECT_TRUE(run.result->getValue<bool>("refused"));
}

TEST_F(SocketIo, BadHandshakesGarbageAndOversizedFramesAreRefusedWithoutDisturbingOthers) {
    TestServer s;
    auto f = makeFederation(s);
    ASSERT_FALSE(f.nodeToken.empty());
    auto run = nodeScenario(s, f, "abuse");
    ASSERT_EQ(run.exitCode, 0) << run.output;
    ASSERT_TRUE(run.result) << run.output;
    auto& r = *run.result;
    EXPECT_EQ(r.getValue<std::string>("missing_key_status"), "400");
    EXPECT_EQ(r.getValue<int>("old_protocol_status"), 400);
    EXPECT_EQ(r.getValue<int>("unknown_sid_status"), 400);
    EXPECT_EQ(r.getValue<int>("unknown_transport_status"), 400);
    EXPECT_EQ(r.get("garbage_closed_with").toString(), "1002");
    EXPECT_EQ(r.get("oversized_closed_with").toString(), "1009");
    EXPECT_EQ(r.get("nonsense_closed_with").toString(), "1000");
    EXPECT_EQ(r.getValue<int>("oversized_post_status"), 413);
    EXPECT_TRUE(r.getValue<bool>("anonymous_refused"));
    EXPECT_TRUE(r.getValue<bool>("good_node_new_task")) << run.output;
}

TEST_F(SocketIo, ApiStillAnswersBesideTheChannel) {
    TestServer s;
    EXPECT_EQ(s.get("/version").status, 200);
    auto r = s.request("GET", "//socket.io/?EIO=4&transport=polling", "");
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.body.substr(0, 8), "0{\"sid\":");
    EXPECT_NE(r.body.find("\"upgrades\":[\"websocket\"]"), std::string::npos);
    EXPECT_EQ(s.request("GET", "//not-socket-io", "").status, 404);
}

} // namespace
