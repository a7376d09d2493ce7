// A real server for tests: the kernel with real plugin .so files, a real database (a SQLite file in
// a temporary folder, or a fresh PostgreSQL database), serving HTTP on a free loopback port.
#pragma once

#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <dq/sdk/plugin.h>
#include <functional>
#include <gtest/gtest.h>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace dq::kernel {
class Kernel;
}

namespace dq::test {

struct HttpResult {
    int status = 0;
    std::string body;
    std::map<std::string, std::string> headers; ///< lower-case names
    Poco::Dynamic::Var json;                    ///< empty when the body is not JSON

    Poco::JSON::Object::Ptr object() const; ///< fails the test when the body is not an object
    Poco::JSON::Array::Ptr array() const;   ///< fails the test when the body is not an array
    std::string msg() const;                ///< body["msg"] or ""
};

/// Builds JSON bodies tersely: json({{"name", "x"}, {"organization_ids", ids({1, 2})}}).
Poco::JSON::Object::Ptr json(std::initializer_list<std::pair<const std::string, Poco::Dynamic::Var>> fields);
Poco::JSON::Array::Ptr ids(std::initializer_list<long long> values);

class TestServer {
public:
    struct Options {
        /// "sqlite" or "postgresql" (needs DQ_TEST_POSTGRES_URI; the test is skipped otherwise).
        std::string database = "sqlite";
        /// Plugin names to enable; empty: all bundled plugins that were built.
        std::vector<std::string> plugins;
        /// Extra YAML appended under `application:` (indented by the caller with two spaces).
        std::string extraYaml;
        /// bcrypt cost of the server: the cheapest by default; realistic (12) for tests of hashing load.
        int bcryptRounds = 4;
        /// Rewrites the database URI the server is given (e.g. to reach PostgreSQL through a proxy).
        std::function<std::string(const std::string& uri)> databaseUri;
    };

    TestServer();
    explicit TestServer(Options options);
    ~TestServer();

    HttpResult get(const std::string& path, const std::string& token = "");
    HttpResult post(const std::string& path, const Poco::Dynamic::Var& body, const std::string& token = "");
    HttpResult patch(const std::string& path, const Poco::Dynamic::Var& body, const std::string& token = "");
    HttpResult del(const std::string& path, const std::string& token = "",
                   const Poco::Dynamic::Var& body = Poco::Dynamic::Var());
    /// Any request; `path` is below /api unless it starts with "//" (then it is taken as is, minus one '/').
    HttpResult request(const std::string& method, const std::string& path, const std::string& rawBody,
                       const std::string& token = "", const std::map<std::string, std::string>& headers = {});

    /// Logs in and returns the access token (asserts success).
    std::string login(const std::string& username, const std::string& password);
    std::string rootToken();

    int port() const;
    std::string baseUrl() const; ///< http://127.0.0.1:<port>
    std::string dataDir() const;
    std::string configFile() const;
    dq::kernel::Kernel& kernel();

    // What plugin tests need of the running kernel, in SDK terms (plugins/ includes only the SDK).
    dq::sdk::Events& events();
    /// Waits until the kernel has delivered every event committed so far to its subscribers (events
    /// travel through the outbox, after the commit); asserts that it did within 10 s.
    void settleEvents();
    dq::sdk::Services& services(const std::string& plugin);
    /// Runs `work` in one transaction on the server's database.
    void transaction(const std::function<void(dq::sdk::Store&)>& work);
    /// The command declared with this path, or nullptr.
    const dq::sdk::CommandDecl* command(const std::vector<std::string>& path);
    /// Starts a second kernel on the same configuration and database and stops it again, as a
    /// restart would (this server keeps serving).
    void startAnotherKernel();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// Another server process (`vserver start --foreground`, from this build) on a TestServer's
/// configuration and database, on a port of its own: servers scaled out as architecture.md runs
/// them, for what must hold across processes. Answers /health when constructed; SIGTERM when destroyed.
class ServerProcess {
public:
    explicit ServerProcess(const TestServer& first);
    ~ServerProcess();
    ServerProcess(const ServerProcess&) = delete;
    ServerProcess& operator=(const ServerProcess&) = delete;

    HttpResult request(const std::string& method, const std::string& path, const std::string& rawBody,
                       const std::string& token = "");
    HttpResult post(const std::string& path, const Poco::Dynamic::Var& body, const std::string& token = "");
    int port() const { return port_; }

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
    int port_ = 0;
};

// ---- Seeding through the API (as root), shared by every plugin's tests ----

/// The id of rule (resource, SCOPE, OPERATION), e.g. ruleId(s, "organization", "GLOBAL", "VIEW").
long long ruleId(TestServer& server, const std::string& resource, const std::string& scope,
                 const std::string& operation);
/// Root's access token straight from the users plugin's token service, without a login (which
/// two-factor authentication would interrupt).
std::string mintedRootToken(TestServer& server);
/// User `name` (e-mail name@example.org, password "Welkom01!") in a new organization "Org of
/// <name>", created with `token`; returns its id, or 0 after failing the test.
long long createUserWithEmail(TestServer& server, const std::string& name, const std::string& token);
/// A new organization; returns its id.
long long createOrganization(TestServer& server, const std::string& name);
/// A new user of organization `organization` holding exactly `rules` ("resource:SCOPE:OPERATION"),
/// logged in; returns the access token. Usernames are unique per call.
std::string userWithRules(TestServer& server, long long organization, const std::vector<std::string>& rules);

/// Parameterised fixture: each TEST_P runs once against SQLite and once against PostgreSQL.
///     class OrganizationApi : public dq::test::BothDatabases {};
///     TEST_P(OrganizationApi, CreatesOrganization) { auto& s = server(); ... }
///     DQ_ON_BOTH_DATABASES(OrganizationApi);
class BothDatabases : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override;
    void TearDown() override;
    /// The server for this test, started lazily with `options` (database set from the parameter).
    TestServer& server();
    TestServer& server(TestServer::Options options);

private:
    std::unique_ptr<TestServer> server_;
};

#define DQ_ON_BOTH_DATABASES(Suite)                                                                          \
    INSTANTIATE_TEST_SUITE_P(Db, Suite, ::testing::Values(std::string("sqlite"), std::string("postgresql")), \
                             [](const auto& info) { return info.param; })

} // namespace dq::test
