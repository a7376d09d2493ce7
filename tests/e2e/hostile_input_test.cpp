// A hostile client against the real server with every plugin, over HTTP, on SQLite and PostgreSQL:
// extreme integers (2^63, 2^64-1, -1, 0), strings, floats, nulls and 1 MB strings in every path
// parameter, query parameter and body field of every route. No answer may be a 5xx (501 is how
// a route says its optional feature, VPN or mail, is not configured), and an id beyond 64 bits in a
// body is a 400 naming the field.
#include "kernel/app/kernel.h"
#include "tests/support/test_server.h"

#include <Poco/JSON/Stringifier.h>
#include <Poco/URI.h>
#include <set>
#include <sstream>

using dq::test::HttpResult;
using dq::test::json;
using dq::test::TestServer;
using Poco::JSON::Array;
using Poco::JSON::Object;

namespace {

const std::string kMegabyte(1024 * 1024, 'x');

/// Values as raw JSON text, so that numbers beyond 64 bits reach the server as the client wrote them.
const std::vector<std::string> kBodyValues{"9223372036854775808",
                                           "18446744073709551615",
                                           "9223372036854775807",
                                           "-9223372036854775809",
                                           "-1",
                                           "0",
                                           "1.5",
                                           "1e400",
                                           "null",
                                           "true",
                                           "\"abc\"",
                                           "\"18446744073709551615\"",
                                           "[]",
                                           "[18446744073709551615]",
                                           "[1, 9223372036854775808]",
                                           "[{\"id\": 18446744073709551615}]",
                                           "{}",
                                           "\"" + kMegabyte + "\""};

/// Ids beyond 64 bits, negative, zero or fractional: each must be a 400 naming the field.
const std::vector<std::string> kBadIds{"9223372036854775808", "18446744073709551615", "-1", "0", "1.5"};

const std::vector<std::string> kQueryValues{"9223372036854775808",
                                            "18446744073709551615",
                                            "9223372036854775807",
                                            "-9223372036854775809",
                                            "-1",
                                            "0",
                                            "1.5",
                                            "abc",
                                            "",
                                            "organization",
                                            "-init_user",
                                            std::string(10000, '9')};

const std::vector<std::string> kPathValues{"9223372036854775808", "18446744073709551615", "9223372036854775807",
                                           "-1", "0", "1.5", "abc", std::string(10000, '7')};

std::string encode(const std::string& text) {
    std::string out;
    Poco::URI::encode(text, "&=+#?/ ", out);
    return out;
}

std::string stringify(const Object::Ptr& body) {
    std::ostringstream out;
    Poco::JSON::Stringifier::condense(body, out);
    return out.str();
}

/// `body` with `field` set to the raw JSON `value`.
std::string withField(const Object::Ptr& body, const std::string& field, const std::string& value) {
    Object::Ptr rest = new Object(*body);
    rest->remove(field);
    std::string text = stringify(rest);
    std::string member = "\"" + field + "\": " + value;
    return text == "{}" ? "{" + member + "}" : "{" + member + ", " + text.substr(1);
}

Array::Ptr list(std::initializer_list<Poco::Dynamic::Var> values) {
    Array::Ptr a = new Array;
    for (const auto& v : values)
        a->add(v);
    return a;
}

class HostileInput : public dq::test::BothDatabases {};

/// Everything the probes need: one of each resource, and a token for each kind of caller.
struct World {
    explicit World(TestServer& server) : s(server), root(server.rootToken()) {
        auto created = [&](const HttpResult& r) {
            EXPECT_LT(r.status, 300) << r.body;
            return r.status < 300 ? r.object()->getValue<long long>("id") : 0;
        };
        organization = created(s.post("/organization", json({{"name", std::string("Probe A")}}), root));
        other = created(s.post("/organization", json({{"name", std::string("Probe B")}}), root));
        // Root's own organization takes part, so that root may create tasks in it.
        auto rootOrganization =
            s.get("/organization?name=root", root).array()->getObject(0)->getValue<long long>("id");
        collaboration = created(s.post("/collaboration",
                                       json({{"name", std::string("Probe study")},
                                             {"organization_ids", list({organization, other, rootOrganization})}}),
                                       root));
        auto n = s.post("/node", json({{"collaboration_id", collaboration}, {"organization_id", organization}}),
                        root);
        node = created(n);
        auto login = s.post("/token/node", json({{"api_key", n.object()->getValue<std::string>("api_key")}}));
        nodeToken = login.object()->getValue<std::string>("access_token");
        Object::Ptr target = new Object;
        target->set("id", organization);
        target->set("input", std::string("in"));
        task = created(s.post("/task",
                              json({{"collaboration_id", collaboration},
                                    {"organizations", list({target})},
                                    {"image", std::string("hello-world")}}),
                              root));
        auto results = s.get("/result?task_id=" + std::to_string(task), root);
        result = results.array()->getObject(0)->getValue<long long>("id");
        auto container =
            s.post("/token/container", json({{"task_id", task}, {"image", std::string("hello-world")}}), nodeToken);
        containerToken = container.object()->getValue<std::string>("container_token");
        port = created(
            s.post("/port", json({{"port", 8080}, {"result_id", result}, {"label", std::string("web")}}), nodeToken));
        role = created(s.post("/role",
                              json({{"name", std::string("Probe role")},
                                    {"description", std::string("d")},
                                    {"organization_id", organization}}),
                              root));
        user = created(s.post("/user",
                              json({{"username", std::string("probe-victim")},
                                    {"firstname", std::string("P")},
                                    {"lastname", std::string("V")},
                                    {"email", std::string("victim@example.org")},
                                    {"password", std::string("Welkom01!")},
                                    {"organization_id", organization}}),
                              root));
        victimToken = s.login("probe-victim", "Welkom01!");
        rule = s.get("/rule", root).array()->getObject(0)->getValue<long long>("id");
    }

    /// A valid id for a path parameter of `pattern`.
    std::string validParam(const std::string& pattern, const std::string& param) const {
        if (param == "rule_id")
            return std::to_string(rule);
        static const std::map<std::string, long long World::*> byResource{
            {"organization", &World::organization}, {"collaboration", &World::collaboration},
            {"node", &World::node},                 {"task", &World::task},
            {"result", &World::result},             {"port", &World::port},
            {"role", &World::role},                 {"rule", &World::rule},
            {"user", &World::user}};
        auto resource = pattern.substr(1, pattern.find('/', 1) - 1);
        auto it = byResource.find(resource);
        return std::to_string(it == byResource.end() ? 1 : this->*(it->second));
    }

    /// The token a caller of this route would use: a user (root, or the throw-away user where a
    /// wrong value could lock root out), else a node, else a container.
    std::string tokenFor(const dq::sdk::RouteDecl& route) const {
        auto allows = [&](dq::sdk::ClientKind k) {
            return std::find(route.allowed.begin(), route.allowed.end(), k) != route.allowed.end();
        };
        if (route.path == "/password/change")
            return victimToken;
        if (allows(dq::sdk::ClientKind::User))
            return root;
        if (allows(dq::sdk::ClientKind::Node))
            return nodeToken;
        if (allows(dq::sdk::ClientKind::Container))
            return containerToken;
        return "";
    }

    TestServer& s;
    std::string root, nodeToken, containerToken, victimToken;
    long long organization = 0, other = 0, collaboration = 0, node = 0, task = 0, result = 0, port = 0,
              role = 0, user = 0, rule = 0;
};

/// A valid body of each route that takes one, and which of its fields are ids.
struct BodyShape {
    Object::Ptr body;
    std::set<std::string> idFields;
};

std::map<std::string, BodyShape> bodyShapes(const World& w) {
    Object::Ptr target = new Object;
    target->set("id", w.organization);
    target->set("input", std::string("in"));
    auto text = [](const char* t) { return std::string(t); };
    return {
        {"POST /organization", {json({{"name", text("n")}}), {}}},
        {"PATCH /organization/<id>", {json({{"name", text("Probe A")}, {"public_key", text("")}}), {}}},
        {"POST /user",
         {json({{"username", text("u")},
                {"firstname", text("f")},
                {"lastname", text("l")},
                {"email", text("u@example.org")},
                {"password", text("Welkom01!")},
                {"organization_id", w.organization},
                {"roles", list({})},
                {"rules", list({})}}),
          {"organization_id", "roles", "rules"}}},
        {"PATCH /user/<id>", {json({{"firstname", text("f")}, {"roles", list({})}, {"rules", list({})}}),
                              {"roles", "rules"}}},
        {"POST /role",
         {json({{"name", text("r")}, {"description", text("d")}, {"rules", list({})}, {"organization_id", w.organization}}),
          {"organization_id", "rules"}}},
        {"PATCH /role/<id>", {json({{"name", text("Probe role")}, {"rules", list({})}}), {"rules"}}},
        {"POST /collaboration",
         {json({{"name", text("c")}, {"organization_ids", list({w.organization})}, {"encrypted", false}}),
          {"organization_ids"}}},
        {"PATCH /collaboration/<id>",
         {json({{"name", text("Probe study")}, {"organization_ids", list({w.organization, w.other})}}),
          {"organization_ids"}}},
        {"POST /collaboration/<id>/organization", {json({{"id", w.other}}), {"id"}}},
        {"DELETE /collaboration/<id>/organization", {json({{"id", w.other}}), {"id"}}},
        {"POST /collaboration/<id>/node", {json({{"id", w.node}}), {"id"}}},
        {"DELETE /collaboration/<id>/node", {json({{"id", w.node}}), {"id"}}},
        {"POST /node",
         {json({{"collaboration_id", w.collaboration}, {"organization_id", w.other}, {"name", text("n")}}),
          {"collaboration_id", "organization_id"}}},
        {"PATCH /node/<id>",
         {json({{"name", text("n")}, {"organization_id", w.organization}, {"collaboration_id", w.collaboration}}),
          {"organization_id", "collaboration_id"}}},
        {"POST /recover/node", {json({{"id", w.node}}), {"id"}}},
        {"POST /token/node", {json({{"api_key", text("not-a-key")}}), {}}},
        {"POST /token/user", {json({{"username", text("probe-victim")}, {"password", text("wrong")}}), {}}},
        {"POST /token/refresh", {json({}), {}}},
        {"PATCH /password/change", {json({{"current_password", text("wrong")}, {"new_password", text("x")}}), {}}},
        {"POST /recover/lost", {json({{"username", text("probe-victim")}}), {}}},
        {"POST /recover/reset", {json({{"reset_token", text("t")}, {"password", text("p")}}), {}}},
        {"POST /recover/2fa/lost", {json({{"username", text("probe-victim")}, {"password", text("wrong")}}), {}}},
        {"POST /recover/2fa/reset", {json({{"reset_token", text("t")}}), {}}},
        {"POST /task",
         {json({{"collaboration_id", w.collaboration},
                {"organizations", list({target})},
                {"image", text("hello-world")},
                {"name", text("t")}}),
          {"collaboration_id", "organizations"}}},
        {"POST /token/container", {json({{"task_id", w.task}, {"image", text("other")}}), {"task_id"}}},
        {"POST /port", {json({{"port", 8081}, {"result_id", w.result}, {"label", text("l")}}), {"port", "result_id"}}},
        {"POST /kill/task", {json({{"id", w.task}}), {"id"}}},
        {"POST /kill/node/tasks", {json({{"id", w.node}}), {"id"}}},
        {"PATCH /result/<id>", {json({{"status", text("active")}, {"log", text("l")}}), {}}},
        {"POST /vpn/update", {json({{"vpn_config", text("c")}}), {}}},
        {"POST /role/<id>/rule/<rule_id>", {json({}), {}}},
    };
}

/// Every query parameter a list or route reads: pagination, sort, include and every declared filter.
std::set<std::string> queryParameters(TestServer& s) {
    std::set<std::string> params{"page",          "per_page",      "sort",         "include",
                                 "organization_id", "include_root", "result_id",    "node_id",
                                 "state",         "label",         "only_children", "only_parent",
                                 "include_children", "include_parent", "task_id",  "collaboration_id"};
    for (const auto& model : s.kernel().catalog().models())
        for (const auto& filter : s.kernel().catalog().filtersOf(model.decl.name()))
            params.insert(filter.param);
    return params;
}

std::string fill(const World& w, const std::string& pattern, const std::string& param, const std::string& value) {
    std::string out;
    std::size_t i = 0;
    while (i < pattern.size()) {
        auto open = pattern.find('<', i);
        if (open == std::string::npos) {
            out += pattern.substr(i);
            break;
        }
        auto close = pattern.find('>', open);
        out += pattern.substr(i, open - i);
        auto name = pattern.substr(open + 1, close - open - 1);
        out += name == param ? encode(value) : w.validParam(pattern, name);
        i = close + 1;
    }
    return out;
}

std::vector<std::string> pathParams(const std::string& pattern) {
    std::vector<std::string> out;
    for (auto open = pattern.find('<'); open != std::string::npos; open = pattern.find('<', open + 1))
        out.push_back(pattern.substr(open + 1, pattern.find('>', open) - open - 1));
    return out;
}

TEST_P(HostileInput, NoRouteAnswersA5xxToAnyValueAndIdsBeyond64BitsAreA400NamingTheField) {
    TestServer::Options options;
    // Large enough that 1 MB strings reach the handlers instead of the body limit.
    options.extraYaml = "  max_body_size: 4096\n";
    auto& s = server(options);
    World w(s);
    ASSERT_FALSE(HasFailure()) << "the world to probe could not be built";
    auto shapes = bodyShapes(w);
    auto params = queryParameters(s);

    int requests = 0;
    std::vector<std::string> failures;
    auto check = [&](const std::string& method, const std::string& path, const std::string& body,
                     const std::string& token, const std::string& what) {
        ++requests;
        HttpResult r;
        try {
            r = s.request(method, path, body, token);
        } catch (const std::exception& e) {
            r.body = std::string("no answer: ") + e.what();
        }
        if (r.status == 0 || (r.status >= 500 && r.status != 501))
            failures.push_back(std::to_string(r.status) + " " + method + " " + path.substr(0, 120) + " (" +
                               what.substr(0, 80) + "): " + r.body.substr(0, 200));
        return r;
    };

    std::set<std::string> withoutShape;
    for (const auto& declared : s.kernel().catalog().routes()) {
        const auto& route = declared.decl;
        const std::string method = dq::sdk::toString(route.method);
        const std::string key = method + " " + route.path;
        const std::string token = w.tokenFor(route);
        auto shape = shapes.find(key);
        if ((method == "POST" || method == "PATCH") && shape == shapes.end())
            withoutShape.insert(key);
        const std::string validBody = shape == shapes.end() ? "" : stringify(shape->second.body);

        // Path parameters. DELETE only with hostile values, never the valid ids of the world.
        for (const auto& param : pathParams(route.path))
            for (const auto& value : kPathValues)
                check(method, fill(w, route.path, param, value), validBody, token, param + "=" + value);

        const std::string path = fill(w, route.path, "", "");
        // Query parameters: every one on lists (and DELETE /port, which reads result_id), paging and
        // include on single resources. Never on a DELETE of a valid resource.
        bool single = route.path.back() == '>';
        if (method == "GET" || (method == "DELETE" && pathParams(route.path).empty()))
            for (const auto& param : params)
                if (!single || param == "include" || param == "page")
                    for (const auto& value : kQueryValues)
                        check(method, path + "?" + param + "=" + encode(value), "", token, param + "=" + value);

        // Body fields: each field of a valid body replaced by each hostile value.
        if (shape == shapes.end())
            continue;
        for (const auto& [field, ignored] : *shape->second.body)
            for (const auto& value : kBodyValues) {
                auto r = check(method, path, withField(shape->second.body, field, value), token, field + "=" + value);
                bool badId = std::find(kBadIds.begin(), kBadIds.end(), value) != kBadIds.end();
                if (shape->second.idFields.count(field) && badId) {
                    auto errors = r.json.type() == typeid(Object::Ptr) ? r.object()->getObject("errors") : nullptr;
                    EXPECT_TRUE(r.status == 400 && errors && errors->has(field))
                        << key << " with " << field << "=" << value << ": " << r.status << " " << r.body;
                }
            }
        // Lists of ids with one bad id among good ones.
        for (const auto& field : shape->second.idFields) {
            if (field == "organizations" || shape->second.body->get(field).type() != typeid(Array::Ptr))
                continue;
            auto good = field == "rules" ? w.rule : w.organization;
            for (const auto& bad : kBadIds) {
                auto r = check(method, path,
                               withField(shape->second.body, field, "[" + std::to_string(good) + ", " + bad + "]"),
                               token, field + " with " + bad);
                EXPECT_EQ(r.status, 400) << key << " " << field << " with " << bad << ": " << r.body;
            }
        }
        if (shape->second.idFields.count("organizations"))
            for (const auto& bad : kBadIds) {
                auto r = check(method, path,
                               withField(shape->second.body, "organizations",
                                         "[{\"id\": " + std::to_string(w.organization) + "}, {\"id\": " + bad + "}]"),
                               token, "organizations with " + bad);
                EXPECT_EQ(r.status, 400) << key << " organizations with " << bad << ": " << r.body;
            }
    }
    EXPECT_TRUE(withoutShape.empty()) << "routes without a body to probe (add them to bodyShapes): "
                                      << [&] {
                                             std::string all;
                                             for (const auto& k : withoutShape)
                                                 all += k + "; ";
                                             return all;
                                         }();
    EXPECT_GT(requests, 5000);
    std::string report;
    for (std::size_t i = 0; i < failures.size() && i < 40; ++i)
        report += failures[i] + "\n";
    EXPECT_TRUE(failures.empty()) << failures.size() << " of " << requests << " requests failed:\n" << report;
    // And the server still serves.
    EXPECT_EQ(s.get("/organization/" + std::to_string(w.organization), w.root).status, 200);
}

// A 1 MB organization name was stored and then carried by every list.
TEST_P(HostileInput, TextBeyondItsDeclaredMaximumIsA400NamingTheFieldAndNothingChanges) {
    auto& s = server();
    World w(s);
    ASSERT_FALSE(HasFailure());
    struct Case {
        std::string method, path, field;
        std::size_t max;
        Object::Ptr rest;
    };
    Object::Ptr target = new Object;
    target->set("id", w.organization);
    std::vector<Case> cases{
        {"POST", "/organization", "name", 128, json({})},
        {"POST", "/organization", "public_key", 16384, json({{"name", std::string("Keyed")}})},
        {"PATCH", "/organization/" + std::to_string(w.organization), "country", 64, json({})},
        {"POST", "/user", "username", 128,
         json({{"firstname", std::string("F")},
               {"lastname", std::string("L")},
               {"email", std::string("long@example.org")},
               {"password", std::string("Welkom01!")}})},
        {"PATCH", "/user/" + std::to_string(w.user), "email", 254, json({})},
        {"POST", "/collaboration", "name", 128, json({{"organization_ids", list({w.organization})}})},
        {"POST", "/role", "description", 1024, json({{"name", std::string("Long role")}})},
        {"PATCH", "/node/" + std::to_string(w.node), "name", 128, json({})},
        {"POST", "/task", "name", 255,
         json({{"collaboration_id", w.collaboration}, {"organizations", list({target})}, {"image", std::string("i")}})},
    };
    for (const auto& c : cases) {
        // The name of a fresh row must be unique; a suffix keeps the length exact.
        auto text = [&](std::size_t n) {
            static int serial = 0;
            auto tag = std::to_string(++serial);
            return std::string(n - tag.size(), 'n') + tag;
        };
        std::string what = c.method + " " + c.path + " " + c.field;
        auto tooLong = withField(c.rest, c.field, "\"" + text(c.max + 1) + "\"");
        auto refused = s.request(c.method, c.path, tooLong, w.root);
        ASSERT_EQ(refused.status, 400) << what << ": " << refused.body.substr(0, 300);
        auto errors = refused.object()->getObject("errors");
        ASSERT_TRUE(errors && errors->has(c.field)) << what << ": " << refused.body.substr(0, 300);
        EXPECT_EQ(errors->getValue<std::string>(c.field), "at most " + std::to_string(c.max) + " characters");
        auto accepted = s.request(c.method, c.path, withField(c.rest, c.field, "\"" + text(c.max) + "\""), w.root);
        EXPECT_LT(accepted.status, 300) << what << " at exactly the maximum: " << accepted.body.substr(0, 300);
    }
    // Characters, not bytes: 128 two-byte characters are a valid name.
    std::string umlauts;
    for (int i = 0; i < 128; ++i)
        umlauts += "\xc3\xa4";
    EXPECT_EQ(s.post("/organization", json({{"name", umlauts}}), w.root).status, 201);
    EXPECT_EQ(s.post("/organization", json({{"name", umlauts + "x"}}), w.root).status, 400);
}

// Past the end is an empty page; relation names sort by the related id; anything else names what
// the list sorts by. Each of these was a 500.
TEST_P(HostileInput, HugePagesAreEmptyAndSortTakesRelationsAndNamesTheSortableColumns) {
    auto& s = server();
    World w(s);
    ASSERT_FALSE(HasFailure());
    for (const char* query : {"page=9223372036854775807", "page=9223372036854775807&per_page=9223372036854775807",
                              "page=2&per_page=9223372036854775807", "page=4611686018427387904&per_page=3"}) {
        auto r = s.get(std::string("/organization?include=metadata&") + query, w.root);
        ASSERT_EQ(r.status, 200) << query << ": " << r.body;
        EXPECT_EQ(r.object()->getArray("data")->size(), 0u) << query;
        EXPECT_NE(r.headers["total-count"], "0");
    }
    auto beyond = s.get("/organization?page=9223372036854775808", w.root);
    EXPECT_EQ(beyond.status, 400);
    EXPECT_TRUE(beyond.object()->getObject("errors")->has("page")) << beyond.body;

    for (const char* path : {"/task?sort=-init_user", "/task?sort=collaboration,parent", "/task?sort=initiator",
                             "/result?sort=task,-organization", "/user?sort=-organization", "/role?sort=organization",
                             "/node?sort=collaboration", "/port?sort=result"}) {
        auto r = s.get(path, w.root);
        EXPECT_EQ(r.status, 200) << path << ": " << r.body.substr(0, 300);
    }
    auto refused = s.get("/user?sort=roles", w.root);
    ASSERT_EQ(refused.status, 400) << refused.body;
    EXPECT_NE(refused.msg().find("username"), std::string::npos) << refused.body;
    EXPECT_NE(refused.msg().find("organization"), std::string::npos) << refused.body;
    EXPECT_EQ(refused.msg().find("password"), std::string::npos) << "secrets are not sortable: " << refused.body;
}

DQ_ON_BOTH_DATABASES(HostileInput);

} // namespace
