// TestServer: writes a config file into a temporary folder, starts the kernel in-process with the
// real plugin libraries, and talks to it over real HTTP on loopback.
#include "tests/support/test_server.h"

#include "kernel/app/kernel.h"

#include <Poco/Data/PostgreSQL/Connector.h>
#include <Poco/Data/Session.h>
#include <Poco/File.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Path.h>
#include <Poco/Process.h>
#include <Poco/StreamCopier.h>
#include <Poco/String.h>
#include <Poco/TemporaryFile.h>
#include <Poco/UUIDGenerator.h>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

namespace dq::test {

namespace {

std::string stringify(const Poco::Dynamic::Var& body) {
    if (body.isEmpty())
        return "";
    if (body.isString())
        return body.extract<std::string>();
    std::ostringstream out;
    Poco::JSON::Stringifier::condense(body, out);
    return out.str();
}

/// A fresh PostgreSQL database per server, dropped afterwards.
class PostgresDatabase {
public:
    explicit PostgresDatabase(const std::string& adminUri) : adminUri_(adminUri) {
        name_ = "dq_t_" +
                Poco::replace(Poco::UUIDGenerator::defaultGenerator().createRandom().toString(), "-", "");
        admin().execute("CREATE DATABASE " + name_);
    }
    ~PostgresDatabase() {
        try {
            admin().execute("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
        } catch (...) {
        }
    }
    /// The admin URI with the database name replaced.
    std::string uri() const { return adminUri_.substr(0, adminUri_.rfind('/') + 1) + name_; }

private:
    struct Admin {
        std::string connection;
        void execute(const std::string& sql) {
            Poco::Data::PostgreSQL::Connector::registerConnector();
            Poco::Data::Session session("PostgreSQL", connection);
            session << sql, Poco::Data::Keywords::now;
        }
    };
    Admin admin() const {
        // postgresql://user[:pass]@host:port/db → libpq keywords.
        std::string rest = adminUri_.substr(adminUri_.find("://") + 3);
        std::string credentials, hostPart = rest;
        if (auto at = rest.find('@'); at != std::string::npos) {
            credentials = rest.substr(0, at);
            hostPart = rest.substr(at + 1);
        }
        std::string user = credentials.substr(0, credentials.find(':'));
        std::string password =
            credentials.find(':') == std::string::npos ? "" : credentials.substr(credentials.find(':') + 1);
        std::string hostPort = hostPart.substr(0, hostPart.find('/'));
        std::string db = hostPart.substr(hostPart.find('/') + 1);
        std::string host = hostPort.substr(0, hostPort.find(':'));
        std::string port =
            hostPort.find(':') == std::string::npos ? "5432" : hostPort.substr(hostPort.find(':') + 1);
        std::string conn = "host=" + host + " port=" + port + " dbname=" + db;
        if (!user.empty())
            conn += " user=" + user;
        if (!password.empty())
            conn += " password=" + password;
        return Admin{conn};
    }

    std::string adminUri_;
    std::string name_;
};

/// A port that was free a moment ago (configs need a real port: 0 is not a valid `port`).
int freePort() {
    Poco::Net::ServerSocket probe(Poco::Net::SocketAddress("127.0.0.1", 0));
    return probe.address().port();
}

} // namespace

Poco::JSON::Object::Ptr HttpResult::object() const {
    if (json.type() != typeid(Poco::JSON::Object::Ptr)) {
        ADD_FAILURE() << "expected a JSON object, got status " << status << " body: " << body;
        return new Poco::JSON::Object;
    }
    return json.extract<Poco::JSON::Object::Ptr>();
}

Poco::JSON::Array::Ptr HttpResult::array() const {
    if (json.type() != typeid(Poco::JSON::Array::Ptr)) {
        ADD_FAILURE() << "expected a JSON array, got status " << status << " body: " << body;
        return new Poco::JSON::Array;
    }
    return json.extract<Poco::JSON::Array::Ptr>();
}

std::string HttpResult::msg() const {
    if (json.type() != typeid(Poco::JSON::Object::Ptr))
        return "";
    return json.extract<Poco::JSON::Object::Ptr>()->optValue<std::string>("msg", "");
}

Poco::JSON::Object::Ptr json(std::initializer_list<std::pair<const std::string, Poco::Dynamic::Var>> fields) {
    Poco::JSON::Object::Ptr obj = new Poco::JSON::Object;
    for (const auto& [k, v] : fields)
        obj->set(k, v);
    return obj;
}

Poco::JSON::Array::Ptr ids(std::initializer_list<long long> values) {
    Poco::JSON::Array::Ptr arr = new Poco::JSON::Array;
    for (auto v : values)
        arr->add(static_cast<Poco::Int64>(v));
    return arr;
}

struct TestServer::Impl {
    Poco::TemporaryFile folder;
    std::unique_ptr<PostgresDatabase> postgres;
    std::unique_ptr<kernel::Kernel> kernel;
    std::string configFile;
    std::string rootToken;
};

TestServer::TestServer() : TestServer(Options()) {}

TestServer::TestServer(Options options) : impl_(std::make_unique<Impl>()) {
    Poco::File(impl_->folder.path()).createDirectories();
    std::string uri = "sqlite:///test.sqlite";
    if (options.database == "postgresql") {
        const char* admin = std::getenv("DQ_TEST_POSTGRES_URI");
        if (!admin)
            throw std::runtime_error("DQ_TEST_POSTGRES_URI is not set");
        impl_->postgres = std::make_unique<PostgresDatabase>(admin);
        uri = impl_->postgres->uri();
    }
    if (options.databaseUri)
        uri = options.databaseUri(uri);
    std::ostringstream yaml;
    yaml << "application:\n"
         << "  description: test server\n"
         << "  type: test\n"
         << "  ip: 127.0.0.1\n"
         << "  port: " << freePort() << "\n"
         << "  api_path: /api\n"
         << "  uri: " << uri << "\n"
         << "  jwt_secret_key: test-secret\n"
         << "  bcrypt_rounds: " << options.bcryptRounds << "\n"
         << "  logging:\n"
         << "    level: WARNING\n"
         << "    use_console: false\n";
    if (!options.plugins.empty()) {
        yaml << "  plugins:\n    enabled:\n";
        for (const auto& p : options.plugins)
            yaml << "      - " << p << "\n";
    }
    yaml << options.extraYaml;
    impl_->configFile = Poco::Path(impl_->folder.path(), "server.yaml").toString();
    std::ofstream(impl_->configFile) << yaml.str();

    auto config = kernel::ServerConfig::load(impl_->configFile);
    config.plugins.folders.push_back(DQ_PLUGIN_BUILD_DIR);
    impl_->kernel = std::make_unique<kernel::Kernel>(config, impl_->folder.path());
    impl_->kernel->load();
    impl_->kernel->start();
    impl_->kernel->serve();
}

TestServer::~TestServer() {
    if (impl_->kernel)
        impl_->kernel->shutdown();
    impl_->kernel.reset();
    impl_->postgres.reset();
}

namespace {

HttpResult requestTo(int port, const std::string& method, const std::string& path, const std::string& rawBody,
                     const std::string& token, const std::map<std::string, std::string>& headers) {
    Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(port));
    session.setTimeout(Poco::Timespan(30, 0));
    std::string target = path.rfind("//", 0) == 0 ? path.substr(1) : "/api" + path;
    Poco::Net::HTTPRequest req(method, target, Poco::Net::HTTPMessage::HTTP_1_1);
    if (!token.empty())
        req.set("Authorization", "Bearer " + token);
    for (const auto& [k, v] : headers)
        req.set(k, v);
    if (!rawBody.empty() || method == "POST" || method == "PATCH") {
        if (!req.has("Content-Type"))
            req.setContentType("application/json");
        req.setContentLength(static_cast<std::streamsize>(rawBody.size()));
    }
    session.sendRequest(req) << rawBody;
    Poco::Net::HTTPResponse res;
    auto& in = session.receiveResponse(res);
    HttpResult result;
    result.status = res.getStatus();
    Poco::StreamCopier::copyToString(in, result.body);
    for (const auto& [k, v] : res)
        result.headers[Poco::toLower(k)] = v;
    if (!result.body.empty()) {
        try {
            result.json = Poco::JSON::Parser().parse(result.body);
        } catch (const Poco::Exception&) {
        }
    }
    return result;
}

} // namespace

HttpResult TestServer::request(const std::string& method, const std::string& path, const std::string& rawBody,
                               const std::string& token, const std::map<std::string, std::string>& headers) {
    return requestTo(port(), method, path, rawBody, token, headers);
}

HttpResult TestServer::get(const std::string& path, const std::string& token) {
    return request("GET", path, "", token);
}
HttpResult TestServer::post(const std::string& path, const Poco::Dynamic::Var& body,
                            const std::string& token) {
    return request("POST", path, stringify(body), token);
}
HttpResult TestServer::patch(const std::string& path, const Poco::Dynamic::Var& body,
                             const std::string& token) {
    return request("PATCH", path, stringify(body), token);
}
HttpResult TestServer::del(const std::string& path, const std::string& token,
                           const Poco::Dynamic::Var& body) {
    return request("DELETE", path, stringify(body), token);
}

std::string TestServer::login(const std::string& username, const std::string& password) {
    auto r = post("/token/user", json({{"username", username}, {"password", password}}));
    EXPECT_EQ(r.status, 200) << "login of " << username << " failed: " << r.body;
    if (r.status != 200)
        return "";
    return r.object()->getValue<std::string>("access_token");
}

std::string TestServer::rootToken() {
    if (impl_->rootToken.empty())
        impl_->rootToken = login("root", "root");
    return impl_->rootToken;
}

int TestServer::port() const {
    return impl_->kernel->port();
}
std::string TestServer::baseUrl() const {
    return "http://127.0.0.1:" + std::to_string(port());
}
std::string TestServer::dataDir() const {
    return impl_->folder.path();
}
std::string TestServer::configFile() const {
    return impl_->configFile;
}
kernel::Kernel& TestServer::kernel() {
    return *impl_->kernel;
}
sdk::Events& TestServer::events() {
    return impl_->kernel->events();
}
void TestServer::settleEvents() {
    EXPECT_TRUE(impl_->kernel->settleEvents()) << "events committed were not delivered within 10 s";
}
sdk::Services& TestServer::services(const std::string& plugin) {
    return impl_->kernel->servicesOf(plugin);
}

void TestServer::transaction(const std::function<void(sdk::Store&)>& work) {
    impl_->kernel->database().transaction(work);
}

const sdk::CommandDecl* TestServer::command(const std::vector<std::string>& path) {
    for (const auto& c : impl_->kernel->catalog().commands())
        if (c.decl.path == path)
            return &c.decl;
    return nullptr;
}

void TestServer::startAnotherKernel() {
    auto config = kernel::ServerConfig::load(impl_->configFile);
    config.plugins.folders.push_back(DQ_PLUGIN_BUILD_DIR);
    kernel::Kernel again(config, impl_->folder.path());
    again.load();
    again.start();
    again.shutdown();
}

struct ServerProcess::Impl {
    std::string configFile;
    std::unique_ptr<Poco::ProcessHandle> handle;
};

ServerProcess::ServerProcess(const TestServer& first) : impl_(std::make_unique<Impl>()), port_(freePort()) {
    std::ifstream in(first.configFile());
    std::ostringstream text;
    text << in.rdbuf();
    auto yaml = std::regex_replace(text.str(), std::regex("\n  port: [0-9]+\n"),
                                   "\n  port: " + std::to_string(port_) + "\n");
    impl_->configFile = Poco::Path(first.dataDir(), "process-" + std::to_string(port_) + ".yaml").toString();
    std::ofstream(impl_->configFile) << yaml;
    impl_->handle = std::make_unique<Poco::ProcessHandle>(
        Poco::Process::launch(std::string(DQ_BINARY_DIR) + "/cli/vserver",
                              {"start", "--foreground", "--config", impl_->configFile, "--data-dir", first.dataDir()}));
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < until) {
        try {
            if (request("GET", "/health", "").status == 200)
                return;
        } catch (const Poco::Exception&) {
        }
        if (!Poco::Process::isRunning(*impl_->handle))
            throw std::runtime_error("the second server process (" + impl_->configFile + ") exited at start");
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    throw std::runtime_error("the second server process did not answer /health within 60 s");
}

ServerProcess::~ServerProcess() {
    try {
        Poco::Process::requestTermination(impl_->handle->id());
        impl_->handle->wait();
    } catch (...) {
    }
}

HttpResult ServerProcess::request(const std::string& method, const std::string& path, const std::string& rawBody,
                                  const std::string& token) {
    return requestTo(port_, method, path, rawBody, token, {});
}

HttpResult ServerProcess::post(const std::string& path, const Poco::Dynamic::Var& body, const std::string& token) {
    return request("POST", path, stringify(body), token);
}

long long ruleId(TestServer& server, const std::string& resource, const std::string& scope,
                 const std::string& operation) {
    auto r = server.get("/rule?name=" + resource + "&scope=" + scope + "&operation=" + operation,
                        server.rootToken());
    EXPECT_EQ(r.status, 200) << r.body;
    auto rules = r.array();
    EXPECT_EQ(rules->size(), 1u) << "rule " << resource << ":" << scope << ":" << operation << ": " << r.body;
    if (rules->size() != 1)
        return -1;
    return rules->getObject(0)->getValue<Poco::Int64>("id");
}

long long createOrganization(TestServer& server, const std::string& name) {
    auto r = server.post("/organization", json({{"name", name}, {"country", "NL"}}), server.rootToken());
    EXPECT_EQ(r.status, 201) << r.body;
    return r.status == 201 ? r.object()->getValue<Poco::Int64>("id") : -1;
}

std::string mintedRootToken(TestServer& server) {
    dq::sdk::Id rootId = 0;
    server.transaction([&](dq::sdk::Store& store) {
        auto roots =
            store.select("user", dq::sdk::Query().add(dq::sdk::Condition::equal("username", "root")));
        if (roots.empty())
            throw std::runtime_error("mintedRootToken: there is no user 'root'");
        rootId = roots.front().id;
    });
    return server.services("users")
        .tokens()
        .issue(dq::sdk::ClientKind::User, rootId, {"Root"}, 0)
        .accessToken;
}

long long createUserWithEmail(TestServer& server, const std::string& name, const std::string& token) {
    auto created = server.post("/organization", json({{"name", "Org of " + name}}), token);
    EXPECT_EQ(created.status, 201) << created.body;
    if (created.status != 201)
        return 0;
    auto r = server.post("/user",
                         json({{"username", name},
                               {"firstname", std::string("Ada")},
                               {"lastname", std::string("L")},
                               {"email", name + "@example.org"},
                               {"password", std::string("Welkom01!")},
                               {"organization_id", created.object()->getValue<long long>("id")}}),
                         token);
    EXPECT_EQ(r.status, 201) << r.body;
    return r.status == 201 ? r.object()->getValue<long long>("id") : 0;
}

std::string userWithRules(TestServer& server, long long organization, const std::vector<std::string>& rules) {
    static int counter = 0;
    Poco::JSON::Array::Ptr ruleIds = new Poco::JSON::Array;
    for (const auto& rule : rules) {
        auto first = rule.find(':'), second = rule.rfind(':');
        ruleIds->add(static_cast<Poco::Int64>(ruleId(server, rule.substr(0, first),
                                                     rule.substr(first + 1, second - first - 1),
                                                     rule.substr(second + 1))));
    }
    std::string username = "user" + std::to_string(++counter) + "_" + std::to_string(organization);
    auto r = server.post("/user",
                         json({{"username", username},
                               {"password", "Welkom01!"},
                               {"email", username + "@example.org"},
                               {"firstname", "Test"},
                               {"lastname", "User"},
                               {"organization_id", static_cast<Poco::Int64>(organization)},
                               {"rules", ruleIds}}),
                         server.rootToken());
    EXPECT_EQ(r.status, 201) << r.body;
    return server.login(username, "Welkom01!");
}

void BothDatabases::SetUp() {
    if (GetParam() == "postgresql" && !std::getenv("DQ_TEST_POSTGRES_URI"))
        GTEST_SKIP() << "DQ_TEST_POSTGRES_URI is not set: no PostgreSQL server for this run (./scripts/test "
                        "starts one)";
}

void BothDatabases::TearDown() {
    server_.reset();
}

TestServer& BothDatabases::server() {
    return server(TestServer::Options());
}

TestServer& BothDatabases::server(TestServer::Options options) {
    if (!server_) {
        options.database = GetParam();
        server_ = std::make_unique<TestServer>(options);
    }
    return *server_;
}

} // namespace dq::test
