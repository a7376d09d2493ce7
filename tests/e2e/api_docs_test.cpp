// The API description and Swagger UI over real HTTP (/apispec_1.json, /api/openapi.json, /apidocs/),
// the document checked by a standard validator, and CORS as a browser exercises it.
#include "kernel/app/kernel.h"
#include "tests/support/test_server.h"

#include <Poco/Channel.h>
#include <Poco/Logger.h>
#include <Poco/Message.h>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <unistd.h>

using dq::test::TestServer;
using Object = Poco::JSON::Object::Ptr;

namespace {

/// "/organization/<id>" as OpenAPI writes it: "/organization/{id}".
std::string openApiPath(const std::string& pattern) {
    std::string out;
    for (char c : pattern)
        out += c == '<' ? '{' : c == '>' ? '}' : c;
    return out;
}

std::string lower(std::string text) {
    for (char& c : text)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return text;
}

std::vector<std::string> ruleNames(const Object& operation) {
    std::vector<std::string> out;
    auto rules = operation->getArray("x-rules");
    for (std::size_t i = 0; rules && i < rules->size(); ++i) {
        auto r = rules->getObject(static_cast<unsigned>(i));
        out.push_back(r->getValue<std::string>("resource") + ":" + r->getValue<std::string>("scope") + ":" +
                      r->getValue<std::string>("operation"));
    }
    return out;
}

std::vector<std::string> parameterNames(const Object& operation) {
    std::vector<std::string> out;
    auto params = operation->getArray("parameters");
    for (std::size_t i = 0; params && i < params->size(); ++i)
        out.push_back(params->getObject(static_cast<unsigned>(i))->getValue<std::string>("name"));
    return out;
}

bool contains(const std::vector<std::string>& list, const std::string& item) {
    return std::find(list.begin(), list.end(), item) != list.end();
}

class OpenApi : public dq::test::BothDatabases {};

TEST_P(OpenApi, DescribesEveryDeclaredRouteWithItsCallersRulesAndSchemas) {
    auto& s = server();
    auto r = s.request("GET", "//apispec_1.json", "");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.headers["content-type"], "application/json");
    auto doc = r.object();
    EXPECT_EQ(doc->getValue<std::string>("openapi"), "3.0.3");
    EXPECT_EQ(doc->getObject("info")->getValue<std::string>("version"), "3.11.1");
    EXPECT_EQ(doc->getArray("servers")->getObject(0)->getValue<std::string>("url"), "/api");
    auto bearer = doc->getObject("components")->getObject("securitySchemes")->getObject("bearerAuth");
    EXPECT_EQ(bearer->getValue<std::string>("scheme"), "bearer");
    EXPECT_EQ(bearer->getValue<std::string>("bearerFormat"), "JWT");

    auto paths = doc->getObject("paths");
    for (const auto& route : s.kernel().catalog().routes()) {
        auto path = paths->getObject(openApiPath(route.decl.path));
        ASSERT_TRUE(path) << route.decl.path << " is missing";
        auto operation = path->getObject(lower(dq::sdk::toString(route.decl.method)));
        ASSERT_TRUE(operation) << dq::sdk::toString(route.decl.method) << " " << route.decl.path
                               << " is missing";
        EXPECT_EQ(operation->getValue<std::string>("x-plugin"), route.plugin);
        if (route.decl.summary.empty())
            EXPECT_FALSE(operation->has("summary"));
        else
            EXPECT_EQ(operation->getValue<std::string>("summary"), route.decl.summary);
        bool secured = operation->getArray("security")->size() > 0;
        EXPECT_EQ(secured, !route.decl.allowed.empty() || route.decl.refreshToken) << route.decl.path;
        // Every parameter of the path is declared, required, in the path (swagger-cli does not check
        // this for OpenAPI 3).
        auto names = parameterNames(operation);
        for (std::size_t open = route.decl.path.find('<'); open != std::string::npos;
             open = route.decl.path.find('<', open + 1)) {
            auto name = route.decl.path.substr(open + 1, route.decl.path.find('>', open) - open - 1);
            EXPECT_TRUE(contains(names, name)) << route.decl.path << " lacks the parameter " << name;
        }
    }
    for (const char* kernelRoute : {"/version", "/health", "/openapi.json"})
        EXPECT_TRUE(paths->getObject(kernelRoute)) << kernelRoute;

    // A list: the model's filters and pagination, the rules of viewing organizations, a token.
    auto list = paths->getObject("/organization")->getObject("get");
    auto params = parameterNames(list);
    for (const char* name : {"name", "country", "page", "per_page", "sort", "include"})
        EXPECT_TRUE(contains(params, name)) << name;
    auto rules = ruleNames(list);
    for (const char* rule :
         {"organization:GLOBAL:VIEW", "organization:ORGANIZATION:VIEW", "organization:COLLABORATION:VIEW"})
        EXPECT_TRUE(contains(rules, rule)) << rule;
    EXPECT_FALSE(contains(rules, "organization:GLOBAL:CREATE"));
    EXPECT_TRUE(list->getValue<bool>("x-rules-inferred"));
    EXPECT_EQ(list->getArray("security")->getObject(0)->getArray("bearerAuth")->size(), 0u);
    auto listed = list->getObject("responses")
                      ->getObject("200")
                      ->getObject("content")
                      ->getObject("application/json")
                      ->getObject("schema");
    EXPECT_EQ(listed->getArray("oneOf")->getObject(0)->getObject("items")->getValue<std::string>("$ref"),
              "#/components/schemas/organization");

    // A create: the body the plugin described, 201 with the model.
    auto create = paths->getObject("/organization")->getObject("post");
    EXPECT_EQ(ruleNames(create), std::vector<std::string>{"organization:GLOBAL:CREATE"});
    auto body = create->getObject("requestBody")
                    ->getObject("content")
                    ->getObject("application/json")
                    ->getObject("schema");
    EXPECT_EQ(body->getObject("properties")->getObject("name")->getValue<std::string>("type"), "string");
    EXPECT_TRUE(create->getObject("responses")->has("201"));

    // The model: no secret fields, relations as links.
    auto schemas = doc->getObject("components")->getObject("schemas");
    auto user = schemas->getObject("user")->getObject("properties");
    EXPECT_TRUE(user->has("username"));
    EXPECT_FALSE(user->has("password"));
    EXPECT_TRUE(schemas->getObject("organization")->getObject("properties")->has("id"));

    // A public route with a described body: no token, no rule.
    auto login = paths->getObject("/token/user")->getObject("post");
    EXPECT_EQ(login->getArray("security")->size(), 0u);
    EXPECT_TRUE(ruleNames(login).empty());
    auto loginBody = login->getObject("requestBody");
    EXPECT_TRUE(loginBody->getValue<bool>("required"));
    auto required = loginBody->getObject("content")
                        ->getObject("application/json")
                        ->getObject("schema")
                        ->getArray("required");
    ASSERT_TRUE(required);
    EXPECT_EQ(required->size(), 2u);

    // Below a resource, rules are what the plugin names, never guessed from the path.
    auto addRule = paths->getObject("/role/{id}/rule/{rule_id}")->getObject("post");
    EXPECT_EQ(ruleNames(addRule), (std::vector<std::string>{"role:GLOBAL:EDIT", "role:ORGANIZATION:EDIT"}));
    EXPECT_FALSE(addRule->getValue<bool>("x-rules-inferred"));
    auto addNode = paths->getObject("/collaboration/{id}/node")->getObject("post");
    EXPECT_EQ(ruleNames(addNode), std::vector<std::string>{"collaboration:GLOBAL:EDIT"});

    // A path parameter is an id.
    auto view = paths->getObject("/organization/{id}")->getObject("get");
    auto id = view->getArray("parameters")->getObject(0);
    EXPECT_EQ(id->getValue<std::string>("in"), "path");
    EXPECT_TRUE(id->getValue<bool>("required"));
    EXPECT_EQ(id->getObject("schema")->getValue<std::string>("type"), "integer");
}

TEST_P(OpenApi, IsAlsoServedUnderTheApiPath) {
    auto& s = server();
    auto spec = s.request("GET", "//apispec_1.json", "");
    auto alias = s.get("/openapi.json");
    ASSERT_EQ(alias.status, 200);
    EXPECT_EQ(alias.body, spec.body);
}

DQ_ON_BOTH_DATABASES(OpenApi);

// swagger-cli (the npm package @apidevtools/swagger-cli, which scripts/test installs into a cache
// folder and names in DQ_TEST_OPENAPI_VALIDATOR) validates the document against the OpenAPI 3.0
// schema and resolves every reference.
TEST(OpenApiValidation, DocumentPassesAStandardValidator) {
    const char* validator = std::getenv("DQ_TEST_OPENAPI_VALIDATOR");
    if (!validator || !*validator)
        GTEST_SKIP() << "DQ_TEST_OPENAPI_VALIDATOR is not set: scripts/test installs swagger-cli and sets it";
    TestServer s;
    auto r = s.request("GET", "//apispec_1.json", "");
    ASSERT_EQ(r.status, 200);
    const auto file = s.dataDir() + "/apispec_1.json";
    std::ofstream(file) << r.body;
    std::string command = std::string(validator) + " validate '" + file + "' 2>&1";
    std::string output;
    FILE* pipe = ::popen(command.c_str(), "r");
    ASSERT_NE(pipe, nullptr);
    char buffer[4096];
    while (auto n = std::fread(buffer, 1, sizeof buffer, pipe))
        output.append(buffer, n);
    int status = ::pclose(pipe);
    EXPECT_EQ(status, 0) << output;
    EXPECT_NE(output.find("is valid"), std::string::npos) << output;
}

// ---- Swagger UI ----

TEST(SwaggerUi, ServesThePageAndTheFilesOfTheInstalledPackage) {
    const std::string folder = "/usr/lib/python3/dist-packages/flasgger/ui3/static";
    ASSERT_TRUE(std::filesystem::exists(folder + "/swagger-ui-bundle.js"))
        << "Swagger UI's files are missing: install the Debian package python3-flasgger "
           "(scripts/lib/setup.sh)";
    TestServer s;
    auto page = s.request("GET", "//apidocs/", "");
    ASSERT_EQ(page.status, 200) << page.body;
    EXPECT_EQ(page.headers["content-type"], "text/html; charset=UTF-8");
    EXPECT_NE(page.body.find("swagger-ui-bundle.js"), std::string::npos);
    EXPECT_NE(page.body.find("../apispec_1.json"), std::string::npos);
    // Everything the page loads comes from this server: nothing from the internet.
    EXPECT_EQ(page.body.find("http"), std::string::npos) << page.body;
    EXPECT_NE(page.body.find("validatorUrl: null"), std::string::npos);

    auto bundle = s.request("GET", "//apidocs/swagger-ui-bundle.js", "");
    ASSERT_EQ(bundle.status, 200);
    EXPECT_EQ(bundle.headers["content-type"], "application/javascript; charset=UTF-8");
    std::ifstream in(folder + "/swagger-ui-bundle.js", std::ios::binary);
    std::stringstream file;
    file << in.rdbuf();
    EXPECT_EQ(bundle.body.size(), file.str().size());
    EXPECT_TRUE(bundle.body == file.str());
    EXPECT_EQ(s.request("GET", "//apidocs/swagger-ui.css", "").headers["content-type"],
              "text/css; charset=UTF-8");

    auto bare = s.request("GET", "//apidocs", "");
    EXPECT_EQ(bare.status, 301);
    EXPECT_EQ(bare.headers["location"], "apidocs/");
    // Only Swagger UI's own files are served from the folder.
    EXPECT_EQ(s.request("GET", "//apidocs/../../../../etc/passwd", "").status, 404);
    EXPECT_EQ(s.request("GET", "//apidocs/swagger-ui.js.map", "").status, 404);
    EXPECT_EQ(s.request("POST", "//apispec_1.json", "{}").status, 405);
}

/// Collects the warnings of the kernel's logger while it exists.
class KernelWarnings {
public:
    KernelWarnings() : previous_(logger().getChannel()) { logger().setChannel(channel_); }
    ~KernelWarnings() { logger().setChannel(previous_); }
    std::string text() { return channel_->text(); }

private:
    class Collector : public Poco::Channel {
    public:
        void log(const Poco::Message& message) override {
            std::lock_guard lock(mutex_);
            if (message.getPriority() <= Poco::Message::PRIO_WARNING)
                text_ += message.getText() + "\n";
        }
        std::string text() {
            std::lock_guard lock(mutex_);
            return text_;
        }

    private:
        std::mutex mutex_;
        std::string text_;
    };
    static Poco::Logger& logger() { return Poco::Logger::get("kernel"); }

    Poco::AutoPtr<Collector> channel_ = new Collector;
    Poco::Channel::Ptr previous_;
};

TEST(SwaggerUi, MissingFilesAre404NamingTheFolderAndThePackageWhileTheDocumentStillServes) {
    KernelWarnings warnings;
    TestServer::Options options;
    options.extraYaml = "  swagger_ui_folder: /nonexistent/swagger-ui\n";
    TestServer s(options);
    EXPECT_NE(warnings.text().find("/apidocs/: Swagger UI is not installed: "
                                   "/nonexistent/swagger-ui/swagger-ui-bundle.js is missing"),
              std::string::npos)
        << warnings.text();
    auto page = s.request("GET", "//apidocs/", "");
    EXPECT_EQ(page.status, 404);
    EXPECT_NE(page.msg().find("/nonexistent/swagger-ui/swagger-ui-bundle.js is missing"), std::string::npos)
        << page.body;
    EXPECT_NE(page.msg().find("python3-flasgger"), std::string::npos) << page.body;
    EXPECT_EQ(s.request("GET", "//apidocs/swagger-ui-bundle.js", "").status, 404);
    EXPECT_EQ(s.request("GET", "//apispec_1.json", "").status, 200);
}

TEST(SwaggerUi, ServesTheFilesOfTheConfiguredFolder) {
    auto folder = std::filesystem::temp_directory_path() / ("dq-swagger-" + std::to_string(::getpid()));
    std::filesystem::create_directories(folder);
    for (const char* name : {"swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css"})
        std::ofstream(folder / name) << "/* " << name << " of swagger-ui-dist */";
    TestServer::Options options;
    options.extraYaml = "  swagger_ui_folder: " + folder.string() + "\n";
    TestServer s(options);
    auto preset = s.request("GET", "//apidocs/swagger-ui-standalone-preset.js", "");
    EXPECT_EQ(preset.status, 200);
    EXPECT_EQ(preset.body, "/* swagger-ui-standalone-preset.js of swagger-ui-dist */");
    std::filesystem::remove_all(folder);
}

// ---- CORS, as a browser on another origin exercises it ----

class Cors : public dq::test::BothDatabases {};

TEST_P(Cors, PreflightAllowsTheMethodAndHeadersTheBrowserAsksFor) {
    auto& s = server();
    auto r = s.request("OPTIONS", "/organization/1", "", "",
                       {{"Origin", "http://ui.example.org"},
                        {"Access-Control-Request-Method", "PATCH"},
                        {"Access-Control-Request-Headers", "authorization, content-type, x-requested-with"}});
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.headers["access-control-allow-origin"], "*");
    EXPECT_EQ(r.headers["access-control-allow-methods"], "PATCH");
    EXPECT_EQ(r.headers["access-control-allow-headers"], "authorization, content-type, x-requested-with");

    // The request that follows carries the CORS headers too, and exposes the pagination headers.
    auto list = s.request("GET", "/organization?per_page=1", "", s.rootToken(),
                          {{"Origin", "http://ui.example.org"}});
    EXPECT_EQ(list.status, 200);
    EXPECT_EQ(list.headers["access-control-allow-origin"], "*");
    EXPECT_NE(list.headers["access-control-expose-headers"].find("total-count"), std::string::npos);
}

TEST_P(Cors, OnlyConfiguredOriginsAreAllowed) {
    TestServer::Options options;
    options.extraYaml = "  cors_allowed_origins: [https://ui.example.org, 'http://localhost:7600']\n";
    auto& s = server(options);
    auto allowed = s.request("OPTIONS", "/organization", "", "",
                             {{"Origin", "http://localhost:7600"},
                              {"Access-Control-Request-Method", "POST"},
                              {"Access-Control-Request-Headers", "authorization"}});
    EXPECT_EQ(allowed.status, 200);
    EXPECT_EQ(allowed.headers["access-control-allow-origin"], "http://localhost:7600");
    EXPECT_EQ(allowed.headers["access-control-allow-methods"], "POST");
    EXPECT_EQ(allowed.headers["access-control-allow-headers"], "authorization");
    EXPECT_EQ(allowed.headers["vary"], "Origin");

    auto get = s.request("GET", "/organization", "", s.rootToken(), {{"Origin", "https://ui.example.org"}});
    EXPECT_EQ(get.status, 200);
    EXPECT_EQ(get.headers["access-control-allow-origin"], "https://ui.example.org");

    // Another origin gets no CORS headers: its browser refuses the answer.
    auto refused = s.request("OPTIONS", "/organization", "", "",
                             {{"Origin", "https://evil.example"}, {"Access-Control-Request-Method", "GET"}});
    EXPECT_EQ(refused.headers.count("access-control-allow-origin"), 0u);
    EXPECT_EQ(refused.headers.count("access-control-allow-methods"), 0u);
    auto other = s.request("GET", "/organization", "", s.rootToken(), {{"Origin", "https://evil.example"}});
    EXPECT_EQ(other.headers.count("access-control-allow-origin"), 0u);
    auto spec = s.request("GET", "//apispec_1.json", "", "", {{"Origin", "https://evil.example"}});
    EXPECT_EQ(spec.status, 200);
    EXPECT_EQ(spec.headers.count("access-control-allow-origin"), 0u);
    auto specAllowed = s.request("GET", "//apispec_1.json", "", "", {{"Origin", "https://ui.example.org"}});
    EXPECT_EQ(specAllowed.headers["access-control-allow-origin"], "https://ui.example.org");

    // The event channel's long-polling follows the same policy.
    const std::string polling = "//socket.io/?EIO=4&transport=polling";
    auto pollAllowed =
        s.request("OPTIONS", polling, "", "",
                  {{"Origin", "https://ui.example.org"}, {"Access-Control-Request-Method", "POST"}});
    EXPECT_EQ(pollAllowed.status, 204);
    EXPECT_EQ(pollAllowed.headers["access-control-allow-origin"], "https://ui.example.org");
    EXPECT_EQ(pollAllowed.headers["access-control-allow-methods"], "POST");
    auto pollRefused = s.request("GET", polling, "", "", {{"Origin", "https://evil.example"}});
    EXPECT_EQ(pollRefused.status, 200);
    EXPECT_EQ(pollRefused.headers.count("access-control-allow-origin"), 0u);
}

DQ_ON_BOTH_DATABASES(Cors);

} // namespace
