// The kernel's HTTP behaviour over real HTTP: its own routes, JSON errors, CORS, and every way a
// token can be wrong.
#include "kernel/app/kernel.h"
#include "tests/peers/peer_process.h"
#include "tests/support/test_server.h"

#include <Poco/InflatingStream.h>
#include <Poco/JSON/Stringifier.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <Poco/Thread.h>
#include <Poco/URI.h>
#include <cstdlib>
#include <filesystem>
#include <dq/sdk/version.h>
#include <sstream>

using dq::test::json;
using dq::test::TestServer;

namespace {

TEST(KernelRoutes, VersionReportsServerKernelAbiAndPlugins) {
    TestServer s;
    auto r = s.get("/version");
    ASSERT_EQ(r.status, 200);
    auto body = r.object();
    EXPECT_EQ(body->getValue<std::string>("version"), "3.11.1");
    EXPECT_EQ(body->getValue<std::string>("sdk_abi"),
              std::to_string(dq::sdk::kAbiMajor) + "." + std::to_string(dq::sdk::kAbiMinor));
    EXPECT_TRUE(body->getObject("plugins")->has("organizations"));
}

TEST(KernelRoutes, HealthChecksTheDatabase) {
    TestServer s;
    auto r = s.get("/health");
    ASSERT_EQ(r.status, 200);
    EXPECT_TRUE(r.object()->getValue<bool>("database"));
}

// Poco gives each open connection a worker thread. With every worker held by a keep-alive client,
// a new client waits; the server then closes a busy connection after its next answer, so the new
// client is served instead of waiting for the keep-alive clients to go idle.
TEST(Connections, KeepAliveClientsDoNotStarveANewClient) {
    TestServer::Options options;
    options.extraYaml = "  threads: 2\n";
    TestServer s(options);
    auto versionOn = [](Poco::Net::HTTPClientSession& session, Poco::Net::HTTPResponse& response) {
        Poco::Net::HTTPRequest request("GET", "/api/version", Poco::Net::HTTPMessage::HTTP_1_1);
        request.setKeepAlive(true);
        session.sendRequest(request);
        std::string body;
        Poco::StreamCopier::copyToString(session.receiveResponse(response), body);
        return body;
    };
    auto open = [&] {
        auto session = std::make_unique<Poco::Net::HTTPClientSession>("127.0.0.1", s.port());
        session->setKeepAlive(true);
        session->setTimeout(Poco::Timespan(30, 0));
        return session;
    };
    // Both workers now hold a keep-alive connection.
    auto first = open();
    auto second = open();
    Poco::Net::HTTPResponse answer;
    versionOn(*first, answer);
    ASSERT_TRUE(answer.getKeepAlive());
    versionOn(*second, answer);
    ASSERT_TRUE(answer.getKeepAlive());

    auto newcomer = open();
    Poco::Net::HTTPRequest waiting("GET", "/api/health", Poco::Net::HTTPMessage::HTTP_1_1);
    newcomer->sendRequest(waiting);

    // The busy client keeps asking; once the server has queued the newcomer (it accepts in its own
    // thread), the next answer closes the connection.
    bool closed = false;
    for (int attempt = 0; attempt < 500 && !closed; ++attempt) {
        Poco::Net::HTTPResponse busy;
        EXPECT_NE(versionOn(*first, busy).find("version"), std::string::npos);
        closed = !busy.getKeepAlive();
        if (!closed)
            Poco::Thread::sleep(10);
    }
    EXPECT_TRUE(closed) << "the server kept a busy connection open while another client waited";

    Poco::Net::HTTPResponse served;
    std::string body;
    Poco::StreamCopier::copyToString(newcomer->receiveResponse(served), body);
    EXPECT_EQ(served.getStatus(), Poco::Net::HTTPResponse::HTTP_OK);
    EXPECT_NE(body.find("database"), std::string::npos) << body;
}

/// Asks `path` until it answers `status` (the server notices a lost or returned database on its
/// next use of a connection); at most 10 s.
dq::test::HttpResult awaitStatus(TestServer& s, const std::string& path, const std::string& token,
                                 int status) {
    dq::test::HttpResult r;
    for (int attempt = 0; attempt < 200; ++attempt) {
        r = s.get(path, token);
        if (r.status == status)
            break;
        Poco::Thread::sleep(50);
    }
    return r;
}

// PostgreSQL goes away under a running server (a restart, a network cut): requests get 503 with a
// clear message instead of 500, nothing is half-written, /version still answers and /health says
// false; once the database is back, the pool reconnects and requests succeed again.
TEST(DatabaseOutage, Answers503WhilePostgresqlIsGoneAndRecoversWhenItIsBack) {
    const char* admin = std::getenv("DQ_TEST_POSTGRES_URI");
    if (!admin)
        GTEST_SKIP() << "DQ_TEST_POSTGRES_URI is not set: no PostgreSQL server for this run";
    Poco::URI postgres(admin);
    dq::test::peers::TcpProxy proxy(postgres.getHost(), postgres.getPort());
    TestServer::Options options;
    options.database = "postgresql";
    options.databaseUri = [&proxy](const std::string& uri) {
        Poco::URI throughProxy(uri);
        throughProxy.setPort(static_cast<Poco::UInt16>(proxy.port()));
        return throughProxy.toString();
    };
    TestServer s(options);
    auto token = s.rootToken();
    ASSERT_EQ(s.get("/organization", token).status, 200);

    proxy.cut();
    auto lost = awaitStatus(s, "/organization", token, 503);
    EXPECT_EQ(lost.status, 503) << lost.body;
    EXPECT_EQ(lost.msg(), "The database is not available at the moment; please try again later.");
    EXPECT_EQ(lost.headers["retry-after"], "5");
    auto write = s.post("/organization", json({{"name", std::string("Made during the outage")}}), token);
    EXPECT_EQ(write.status, 503) << write.body;
    auto version = s.get("/version");
    EXPECT_EQ(version.status, 200) << version.body;
    auto health = s.get("/health");
    EXPECT_EQ(health.status, 503) << health.body;
    EXPECT_FALSE(health.object()->getValue<bool>("database"));

    proxy.restore();
    auto back = awaitStatus(s, "/organization", token, 200);
    EXPECT_EQ(back.status, 200) << back.body;
    EXPECT_TRUE(s.get("/health").object()->getValue<bool>("database"));
    EXPECT_EQ(s.get("/organization?name=Made%20during%20the%20outage", token).array()->size(), 0u);
}

// A list loads the relation ids of its whole page in a few queries (in chunks of 500 rows); each
// item must still be exactly what GET of that one row answers, empty relations included.
class ListsAndItems : public dq::test::BothDatabases {};

TEST_P(ListsAndItems, EveryListedItemEqualsItsOwnGet) {
    auto& s = server();
    auto token = s.rootToken();
    s.transaction([](dq::sdk::Store& store) {
        for (int i = 0; i < 520; ++i) {
            dq::sdk::Record organization;
            organization.set("name", "Filler " + std::to_string(i));
            store.insert("organization", organization);
        }
    });
    auto a = dq::test::createOrganization(s, "Alpha");
    auto b = dq::test::createOrganization(s, "Bravo");
    auto collaboration =
        s.post("/collaboration",
               json({{"name", std::string("Both")}, {"organization_ids", dq::test::ids({a, b})}}), token);
    ASSERT_EQ(collaboration.status, 200) << collaboration.body; // 200, not 201, as vantage6
    dq::test::userWithRules(s, a, {});

    auto list = s.get("/organization", token);
    ASSERT_EQ(list.status, 200);
    auto items = list.array();
    ASSERT_GT(items->size(), 522u);
    auto render = [](const Poco::Dynamic::Var& value) {
        std::ostringstream out;
        Poco::JSON::Stringifier::condense(value, out);
        return out.str();
    };
    int withCollaborations = 0;
    for (std::size_t i = 0; i < items->size(); ++i) {
        auto item = items->getObject(static_cast<unsigned>(i));
        auto id = item->getValue<long long>("id");
        if (id != a && id != b && i % 50 != 0 && i + 1 != items->size())
            continue; // every 50th, the last, and the two with relations
        auto own = s.get("/organization/" + std::to_string(id), token);
        ASSERT_EQ(own.status, 200);
        EXPECT_EQ(render(item), render(own.json)) << "organization " << id;
        if (!item->isNull("collaborations"))
            ++withCollaborations;
    }
    EXPECT_EQ(withCollaborations, 2) << "the relations of Alpha and Bravo are in the list";
}

DQ_ON_BOTH_DATABASES(ListsAndItems);

TEST(HttpErrors, UnknownRouteIsJson404) {
    TestServer s;
    auto r = s.get("/no-such-thing");
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(r.headers["content-type"], "application/json");
    EXPECT_NE(r.msg().find("/api/no-such-thing"), std::string::npos);
    EXPECT_EQ(s.get("//robots-or-anything").status, 404);
    EXPECT_EQ(s.get("/organization/").status, 404) << "no trailing-slash routes, as vantage6";
}

TEST(HttpErrors, WrongMethodIsJson405WithAllowHeader) {
    TestServer s;
    auto r = s.request("DELETE", "/version", "");
    EXPECT_EQ(r.status, 405);
    EXPECT_EQ(r.headers["allow"], "GET");
    EXPECT_FALSE(r.msg().empty());
}

TEST(HttpErrors, NonJsonBodyIs415) {
    TestServer s;
    auto r = s.request("POST", "/organization", "name=x", s.rootToken(),
                       {{"Content-Type", "application/x-www-form-urlencoded"}});
    EXPECT_EQ(r.status, 415);
    EXPECT_NE(r.msg().find("application/json"), std::string::npos) << r.body;
}

TEST(HttpErrors, CorsPreflightIsAnswered) {
    TestServer s;
    auto r = s.request("OPTIONS", "/organization", "", "", {{"Origin", "http://ui.example"}});
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.headers["access-control-allow-origin"], "*");
    EXPECT_NE(r.headers["access-control-allow-headers"].find("Authorization"), std::string::npos);
}

std::string gunzip(const std::string& compressed) {
    std::istringstream in(compressed);
    Poco::InflatingInputStream inflater(in, Poco::InflatingStreamBuf::STREAM_GZIP);
    std::string out;
    Poco::StreamCopier::copyToString(inflater, out);
    return out;
}

TEST(ContentEncoding, GzipOnlyForClientsThatAcceptItAndBodiesWorthIt) {
    TestServer s;
    const auto token = s.rootToken();
    auto plain = s.request("GET", "/rule", "", token);
    ASSERT_EQ(plain.status, 200);
    ASSERT_GT(plain.body.size(), 1024u);
    EXPECT_EQ(plain.headers.count("content-encoding"), 0u);
    EXPECT_EQ(plain.headers["vary"], "Accept-Encoding");
    // As the vantage6 client (Python requests) asks.
    auto compressed = s.request("GET", "/rule", "", token, {{"Accept-Encoding", "gzip, deflate"}});
    ASSERT_EQ(compressed.status, 200);
    EXPECT_EQ(compressed.headers["content-encoding"], "gzip");
    EXPECT_EQ(compressed.headers["content-length"], std::to_string(compressed.body.size()));
    EXPECT_LT(compressed.body.size(), plain.body.size() / 4);
    EXPECT_EQ(gunzip(compressed.body), plain.body);
    // Refused with a zero weight; small bodies leave as they are.
    auto refused = s.request("GET", "/rule", "", token, {{"Accept-Encoding", "gzip;q=0, identity"}});
    EXPECT_EQ(refused.headers.count("content-encoding"), 0u);
    EXPECT_EQ(refused.body, plain.body);
    auto small = s.request("GET", "/version", "", "", {{"Accept-Encoding", "gzip"}});
    EXPECT_EQ(small.headers.count("content-encoding"), 0u);
    EXPECT_NO_THROW(small.object());
}

TEST(ContentEncoding, KeptAnswersAreCompressedAlike) {
    TestServer s;
    const auto token = s.rootToken();
    const std::map<std::string, std::string> gzip{{"Accept-Encoding", "gzip"}};
    auto plain = s.request("GET", "/rule?per_page=50", "", token);
    ASSERT_EQ(plain.status, 200);
    // Computed, then kept, then answered from memory (kernel/http/list_memo), compressed or not.
    for (int i = 0; i < 3; ++i) {
        auto compressed = s.request("GET", "/rule?per_page=50", "", token, gzip);
        ASSERT_EQ(compressed.headers["content-encoding"], "gzip") << i;
        EXPECT_EQ(gunzip(compressed.body), plain.body) << i;
        EXPECT_EQ(s.request("GET", "/rule?per_page=50", "", token).body, plain.body) << i;
    }
}

/// How many times this process has the server's SQLite file open (one per database connection).
int connectionsTo(TestServer& s) {
    const std::filesystem::path file = s.kernel().database().uri().path;
    int open = 0;
    for (const auto& fd : std::filesystem::directory_iterator("/proc/self/fd")) {
        std::error_code error;
        open += std::filesystem::read_symlink(fd.path(), error) == file && !error;
    }
    return open;
}

TEST(IdleServer, ClosesItsDatabaseConnectionsAndHealthProbesDoNotCountAsWork) {
    TestServer s;
    const auto token = s.rootToken();
    auto& api = s.kernel().api();
    ASSERT_EQ(s.get("/organization", token).status, 200);
    ASSERT_EQ(s.get("/health").status, 200);
    ASSERT_GE(connectionsTo(s), 2) << "a pooled connection and the health check's";
    // An API request between two ticks: not idle, the connections stay.
    api.releaseMemoryWhenIdle();
    ASSERT_EQ(s.get("/organization", token).status, 200);
    api.releaseMemoryWhenIdle();
    EXPECT_GE(connectionsTo(s), 1);
    // Only a health probe in between: idle, every connection is closed.
    ASSERT_EQ(s.get("/health").status, 200);
    api.releaseMemoryWhenIdle();
    EXPECT_EQ(connectionsTo(s), 0);
    // The next request opens one again.
    auto again = s.get("/organization", token);
    EXPECT_EQ(again.status, 200) << again.body;
    EXPECT_GE(connectionsTo(s), 1);
}

TEST(Authentication, MissingTokenIs401) {
    TestServer s;
    auto r = s.get("/organization");
    EXPECT_EQ(r.status, 401);
    EXPECT_EQ(r.msg(), "Missing Authorization Header");
}

TEST(Authentication, MalformedOrForgedTokensAre422) {
    TestServer s;
    EXPECT_EQ(s.request("GET", "/organization", "", "", {{"Authorization", "Token abc"}}).status, 422);
    EXPECT_EQ(s.get("/organization", "not.a.jwt").status, 422);
    auto token = s.rootToken();
    auto forged = token.substr(0, token.rfind('.') + 1) + "c2lnbmF0dXJl";
    auto r = s.get("/organization", forged);
    EXPECT_EQ(r.status, 422);
    EXPECT_EQ(r.msg(), "Signature verification failed");
}

TEST(Authentication, RefreshTokenIsRefusedOnNormalRoutes) {
    TestServer s;
    auto login = s.post("/token/user", json({{"username", "root"}, {"password", "root"}}));
    ASSERT_EQ(login.status, 200);
    auto refresh = login.object()->getValue<std::string>("refresh_token");
    auto r = s.get("/organization", refresh);
    EXPECT_EQ(r.status, 422);
    EXPECT_EQ(r.msg(), "Only non-refresh tokens are allowed");
}

TEST(Authentication, ExpiredTokenIs401) {
    TestServer::Options options;
    options.extraYaml = "  token_expires_seconds: 1\n";
    TestServer s(options);
    auto token = s.rootToken();
    EXPECT_EQ(s.get("/organization", token).status, 200);
    Poco::Thread::sleep(2100);
    auto r = s.get("/organization", token);
    EXPECT_EQ(r.status, 401);
    EXPECT_EQ(r.msg(), "Token has expired");
}

TEST(Authentication, TokensCarryIntegerTimesAndVantage6Claims) {
    TestServer s;
    auto token = s.rootToken();
    auto verified = s.kernel().tokens().verify(token);
    EXPECT_TRUE(verified.claims->get("iat").isInteger());
    EXPECT_TRUE(verified.claims->get("exp").isInteger());
    EXPECT_TRUE(verified.claims->get("nbf").isInteger());
    EXPECT_TRUE(verified.claims->get("sub").isInteger());
    EXPECT_EQ(verified.type, "access");
    EXPECT_EQ(verified.clientType, "user");
    EXPECT_TRUE(verified.claims->has("jti"));
    EXPECT_TRUE(verified.claims->has("roles"));
    // `type: test` servers issue day-long access tokens, as vantage6 does.
    EXPECT_EQ(verified.claims->getValue<Poco::Int64>("exp") - verified.claims->getValue<Poco::Int64>("iat"),
              86400);
}

TEST(Authentication, ContainerTokenHasIdentitySubjectAndNoExpiry) {
    TestServer s;
    dq::sdk::Identity container;
    container.kind = dq::sdk::ClientKind::Container;
    container.id = 3;
    container.organizationId = 2;
    container.collaborationId = 1;
    container.taskId = 7;
    container.image = "hello-world";
    auto verified = s.kernel().tokens().verify(s.kernel().tokens().issueContainer(container));
    EXPECT_FALSE(verified.claims->has("exp"));
    auto sub = verified.claims->getObject("sub");
    ASSERT_TRUE(sub);
    EXPECT_EQ(sub->getValue<std::string>("client_type"), "container");
    EXPECT_EQ(sub->getValue<Poco::Int64>("task_id"), 7);
    EXPECT_EQ(sub->getValue<std::string>("image"), "hello-world");
}

// Correctly signed, yet `exp`, `nbf` or `sub` of the wrong type or beyond 64 bits: that was a 500.
TEST(Authentication, SignedTokenWithClaimsOfTheWrongTypeIs401) {
    TestServer s;
    auto& tokens = s.kernel().tokens();
    auto signedWith = [&](const std::string& claim, const Poco::Dynamic::Var& value) {
        Poco::JSON::Object::Ptr claims = new Poco::JSON::Object;
        claims->set("type", std::string("access"));
        claims->set("client_type", std::string("user"));
        claims->set("sub", 1);
        claims->set(claim, value);
        return tokens.issuePurpose("probe", claims, 3600);
    };
    const std::vector<std::pair<std::string, Poco::Dynamic::Var>> values{
        {"a string", std::string("tomorrow")},
        {"2^64-1", Poco::UInt64(18446744073709551615ull)},
        {"null", Poco::Dynamic::Var()},
        {"true", true},
        {"1e300", 1e300}};
    for (const char* claim : {"exp", "nbf", "sub"})
        for (const auto& [label, value] : values) {
            auto r = s.get("/organization", signedWith(claim, value));
            EXPECT_EQ(r.status, 401) << claim << " = " << label << ": " << r.body;
        }
    // The same token with sane claims is accepted: the probe above fails for the claim alone.
    EXPECT_EQ(s.get("/organization", signedWith("jti", std::string("x"))).status, 200);
}

TEST(Authentication, TokenOfAnotherSecretIsRefused) {
    TestServer s;
    dq::kernel::TokenService other({"another-secret", 3600, 7200});
    auto foreign = other.issue(dq::sdk::ClientKind::User, 1, {"Root"}, 0).accessToken;
    EXPECT_EQ(s.get("/organization", foreign).status, 422);
}

} // namespace
