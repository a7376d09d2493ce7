// The event channel behind a real Poco HTTPServer, with fake identity services and short ping
// intervals: rooms from event rules, bus delivery, and sessions that stop answering pings.
#include "kernel/events/event_channel.h"

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/WebSocket.h>
#include <atomic>
#include <chrono>
#include <dq/sdk/http.h>
#include <gtest/gtest.h>
#include <thread>

using namespace dq;
using dq::kernel::EventBus;
using dq::kernel::EventChannel;

namespace {

/// Identity services never touch the store here.
class NoStore : public sdk::Store {
public:
    std::optional<sdk::Record> find(const std::string&, sdk::Id) override { return std::nullopt; }
    std::vector<sdk::Record> select(const std::string&, const sdk::Query&) override { return {}; }
    std::int64_t count(const std::string&, const sdk::Query&) override { return 0; }
    sdk::Id insert(const std::string&, const sdk::Record&) override { return 0; }
    void update(const std::string&, sdk::Id, const sdk::Record&) override {}
    void remove(const std::string&, sdk::Id) override {}
    std::vector<sdk::Id> associated(const std::string&, sdk::Id, const std::string&) override { return {}; }
    void setAssociated(const std::string&, sdk::Id, const std::string&,
                       const std::vector<sdk::Id>&) override {}
    sdk::Rows query(const std::string&, const std::vector<sdk::Value>&) override { return {}; }
    void execute(const std::string&, const std::vector<sdk::Value>&) override {}
    std::string dialect() const override { return "sqlite"; }
};

class Users : public sdk::IdentityProvider {
public:
    std::optional<sdk::Identity> resolve(sdk::Store&, sdk::Id id) override {
        sdk::Identity who;
        who.kind = sdk::ClientKind::User;
        who.id = id;
        who.organizationId = 3;
        who.name = "alice";
        return who;
    }
};

class Rules : public sdk::RuleSource {
public:
    std::vector<sdk::RuleKey> rulesOf(sdk::Store&, const sdk::Identity&) override {
        return {{"event", sdk::Scope::Collaboration, sdk::Operation::View}};
    }
};

class Collaborations : public sdk::Membership {
public:
    std::vector<sdk::Id> collaborationsOf(sdk::Store&, sdk::Id) override { return {7}; }
    std::vector<sdk::Id> organizationsOf(sdk::Store&, sdk::Id) override { return {3}; }
};

class Handler : public Poco::Net::HTTPRequestHandler {
public:
    explicit Handler(EventChannel& channel) : channel_(channel) {}
    void handleRequest(Poco::Net::HTTPServerRequest& request,
                       Poco::Net::HTTPServerResponse& response) override {
        if (!channel_.handle(request, response)) {
            response.setStatus(Poco::Net::HTTPResponse::HTTP_NOT_FOUND);
            response.send();
        }
    }

private:
    EventChannel& channel_;
};

class Factory : public Poco::Net::HTTPRequestHandlerFactory {
public:
    explicit Factory(EventChannel& channel) : channel_(channel) {}
    Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
        return new Handler(channel_);
    }

private:
    EventChannel& channel_;
};

class EventChannelTest : public ::testing::Test {
protected:
    void SetUp() override {
        kernel::EventChannelEnvironment env;
        env.bus = &bus_;
        env.verify = [](const std::string& token) {
            if (token != "good")
                throw sdk::Unauthorized("Token has expired");
            kernel::VerifiedToken verified;
            verified.claims = new Poco::JSON::Object;
            verified.claims->set("sub", 11);
            verified.type = "access";
            verified.clientType = "user";
            return verified;
        };
        env.identify = [this](const kernel::VerifiedToken& token) {
            return *Users().resolve(store_, token.claims->getValue<sdk::Id>("sub"));
        };
        env.transaction = [this](const std::function<void(sdk::Store&)>& work) { work(store_); };
        env.service = [](const std::string& name) -> std::shared_ptr<sdk::Service> {
            if (name == sdk::kUserIdentityService)
                return std::make_shared<Users>();
            if (name == sdk::kRuleSourceService)
                return std::make_shared<Rules>();
            if (name == sdk::kMembershipService)
                return std::make_shared<Collaborations>();
            return nullptr;
        };
        env.workersScarce = [this] { return workersScarce_.load(); };
        channel_ = std::make_unique<EventChannel>(env, settings());
        channel_->start();
        Poco::Net::ServerSocket socket(Poco::Net::SocketAddress("127.0.0.1", 0));
        server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory(*channel_), socket,
                                                          new Poco::Net::HTTPServerParams);
        server_->start();
        port_ = socket.address().port();
    }

    void TearDown() override {
        channel_->stop();
        server_->stopAll(true);
    }

    virtual kernel::EventChannelSettings settings() const {
        kernel::EventChannelSettings settings;
        settings.pingIntervalMs = 300;
        settings.pingTimeoutMs = 300;
        return settings;
    }

    std::unique_ptr<Poco::Net::WebSocket> connect() {
        Poco::Net::HTTPClientSession session("127.0.0.1", port_);
        Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_GET,
                                       "/socket.io/?EIO=4&transport=websocket",
                                       Poco::Net::HTTPMessage::HTTP_1_1);
        Poco::Net::HTTPResponse response;
        auto ws = std::make_unique<Poco::Net::WebSocket>(session, request, response);
        ws->setReceiveTimeout(Poco::Timespan(5, 0));
        return ws;
    }

    static std::string receive(Poco::Net::WebSocket& ws) {
        char buffer[4096];
        int flags = 0;
        int n = ws.receiveFrame(buffer, sizeof(buffer), flags);
        if ((flags & Poco::Net::WebSocket::FRAME_OP_BITMASK) == Poco::Net::WebSocket::FRAME_OP_CLOSE)
            return "<close>";
        return std::string(buffer, n > 0 ? n : 0);
    }

    /// The next message that is not an Engine.IO ping (pings are answered) nor a `message` event.
    static std::string receiveSkipping(Poco::Net::WebSocket& ws) {
        for (;;) {
            auto text = receive(ws);
            if (text == "2") {
                ws.sendFrame("3", 1);
                continue;
            }
            if (text.rfind("42/tasks,[\"message\"", 0) == 0)
                continue;
            return text;
        }
    }

    static void send(Poco::Net::WebSocket& ws, const std::string& text) {
        ws.sendFrame(text.data(), static_cast<int>(text.size()));
    }

    /// Waits (up to 10 s) for the channel to hold `n` sessions.
    bool sessionsBecome(std::size_t n) {
        for (int i = 0; i < 200 && channel_->sessions() != n; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        return channel_->sessions() == n;
    }

    std::atomic<bool> workersScarce_{false};
    EventBus bus_;
    NoStore store_;
    std::unique_ptr<EventChannel> channel_;
    std::unique_ptr<Poco::Net::HTTPServer> server_;
    int port_ = 0;
};

TEST_F(EventChannelTest, WebSocketClientGetsOpenPacketWithoutUpgrades) {
    auto ws = connect();
    auto open = receive(*ws);
    EXPECT_EQ(open.substr(0, 8), "0{\"sid\":");
    EXPECT_NE(open.find("\"upgrades\":[]"), std::string::npos);
    EXPECT_NE(open.find("\"pingInterval\":300"), std::string::npos);
}

TEST_F(EventChannelTest, UserJoinsRoomsOfItsEventRulesAndHearsOnlyThose) {
    auto ws = connect();
    receive(*ws);
    send(*ws, "40/tasks,{\"token\":\"good\"}");
    EXPECT_EQ(receiveSkipping(*ws).substr(0, 17), "40/tasks,{\"sid\":\"");
    ASSERT_TRUE([&] {
        for (int i = 0; i < 100 && channel_->connectedSockets() != 1; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        return channel_->connectedSockets() == 1;
    }());
    bus_.emit("collaboration_8", "new_task", 1);
    bus_.emit("collaboration_7_organization_3", "new_task", 2);
    bus_.emit("collaboration_7", "new_task", 3);
    EXPECT_EQ(receiveSkipping(*ws), "42/tasks,[\"new_task\",3]");
}

TEST_F(EventChannelTest, ExpiredTokenIsToldAndDisconnected) {
    auto ws = connect();
    receive(*ws);
    send(*ws, "40/tasks,{\"token\":\"stale\"}");
    EXPECT_EQ(receiveSkipping(*ws).substr(0, 9), "40/tasks,");
    EXPECT_EQ(receiveSkipping(*ws), "42/tasks,[\"expired_token\"]");
    EXPECT_EQ(receiveSkipping(*ws), "41/tasks,");
    EXPECT_EQ(channel_->connectedSockets(), 0u);
}

TEST_F(EventChannelTest, ConnectWithoutTokenGetsConnectError) {
    auto ws = connect();
    receive(*ws);
    send(*ws, "40/tasks,");
    EXPECT_EQ(receiveSkipping(*ws).substr(0, 21), "44/tasks,{\"message\":\"");
    send(*ws, "40/elsewhere,");
    EXPECT_EQ(receiveSkipping(*ws), "44/elsewhere,{\"message\":\"Invalid namespace\"}");
}

TEST_F(EventChannelTest, SessionThatDoesNotAnswerPingsIsClosed) {
    auto ws = connect();
    receive(*ws);
    EXPECT_EQ(receive(*ws), "2");
    EXPECT_TRUE(sessionsBecome(0)) << "the session outlived its ping timeout";
    EXPECT_EQ(receive(*ws), "<close>");
}

TEST_F(EventChannelTest, AnsweredPingsKeepTheSessionOpen) {
    auto ws = connect();
    receive(*ws);
    send(*ws, "40/tasks,{\"token\":\"good\"}");
    for (int pings = 0; pings < 4;) {
        auto text = receive(*ws);
        if (text == "2") {
            send(*ws, "3");
            ++pings;
        }
    }
    EXPECT_EQ(channel_->sessions(), 1u);
}

TEST_F(EventChannelTest, LongPollingUpgradesToWebSocket) {
    Poco::Net::HTTPClientSession http("127.0.0.1", port_);
    auto exchange = [&](const std::string& method, const std::string& uri, const std::string& body = "") {
        Poco::Net::HTTPRequest request(method, uri, Poco::Net::HTTPMessage::HTTP_1_1);
        request.setContentLength(static_cast<std::streamsize>(body.size()));
        http.sendRequest(request) << body;
        Poco::Net::HTTPResponse response;
        std::string text(std::istreambuf_iterator<char>(http.receiveResponse(response)), {});
        return std::make_pair(static_cast<int>(response.getStatus()), text);
    };
    auto [status, open] = exchange("GET", "/socket.io/?EIO=4&transport=polling");
    ASSERT_EQ(status, 200);
    auto sid = open.substr(9, open.find('"', 9) - 9);
    const auto base = "/socket.io/?EIO=4&transport=polling&sid=" + sid;
    EXPECT_EQ(exchange("POST", base, "40/tasks,{\"token\":\"good\"}").second, "ok");
    std::string polled;
    for (int i = 0; i < 10 && polled.find("40/tasks,{\"sid\":\"") == std::string::npos; ++i)
        polled += exchange("GET", base).second;
    EXPECT_NE(polled.find("40/tasks,{\"sid\":\""), std::string::npos) << polled;

    Poco::Net::HTTPClientSession upgrade("127.0.0.1", port_);
    Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_GET,
                                   "/socket.io/?EIO=4&transport=websocket&sid=" + sid,
                                   Poco::Net::HTTPMessage::HTTP_1_1);
    Poco::Net::HTTPResponse response;
    Poco::Net::WebSocket ws(upgrade, request, response);
    ws.setReceiveTimeout(Poco::Timespan(5, 0));
    send(ws, "2probe");
    EXPECT_EQ(receive(ws), "3probe");
    send(ws, "5");
    bus_.emit("collaboration_7", "status_update", 9);
    EXPECT_EQ(receiveSkipping(ws), "42/tasks,[\"status_update\",9]");
    EXPECT_EQ(exchange("GET", "/socket.io/?EIO=4&transport=polling&sid=unknown").first, 400);
}

// A long poll holds an HTTP worker thread for up to a ping interval. While connections wait for a
// worker, a poll answers at once (a noop, with Connection: close) instead of sitting on its worker.
class EventChannelSlowPingTest : public EventChannelTest {
protected:
    kernel::EventChannelSettings settings() const override {
        kernel::EventChannelSettings settings;
        settings.pingIntervalMs = 60000;
        settings.pingTimeoutMs = 60000;
        return settings;
    }
};

TEST_F(EventChannelSlowPingTest, WaitingPollGivesUpItsWorkerWhenConnectionsQueue) {
    Poco::Net::HTTPClientSession http("127.0.0.1", port_);
    http.setTimeout(Poco::Timespan(20, 0)); // far below the 60 s a poll would otherwise wait
    auto get = [&](const std::string& uri, Poco::Net::HTTPResponse& response) {
        Poco::Net::HTTPRequest request("GET", uri, Poco::Net::HTTPMessage::HTTP_1_1);
        http.sendRequest(request);
        return std::string(std::istreambuf_iterator<char>(http.receiveResponse(response)), {});
    };
    Poco::Net::HTTPResponse handshake;
    auto open = get("/socket.io/?EIO=4&transport=polling", handshake);
    ASSERT_EQ(handshake.getStatus(), Poco::Net::HTTPResponse::HTTP_OK);
    auto sid = open.substr(9, open.find('"', 9) - 9);

    // Nothing is queued for this session, so the poll waits; workers become scarce meanwhile.
    std::thread scarcity([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        workersScarce_ = true;
    });
    Poco::Net::HTTPResponse polled;
    std::string body;
    try {
        body = get("/socket.io/?EIO=4&transport=polling&sid=" + sid, polled);
    } catch (const Poco::TimeoutException&) {
        ADD_FAILURE() << "the poll kept waiting while workers were scarce";
    }
    scarcity.join();
    EXPECT_EQ(polled.getStatus(), Poco::Net::HTTPResponse::HTTP_OK);
    EXPECT_EQ(body, "6") << "a noop packet, so the client polls again";
    EXPECT_FALSE(polled.getKeepAlive());
    EXPECT_EQ(channel_->sessions(), 1u) << "the session stays open";
}

} // namespace
