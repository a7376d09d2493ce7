// Test setup over HTTP for the collaborations and nodes tests: organizations, collaborations,
// users holding exactly the rules a test names, and nodes with their API keys.
#pragma once

#include "tests/support/test_server.h"

#include <Poco/File.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <cstdint>
#include <cstdio>
#include <gtest/gtest.h>
#include <map>
#include <string>
#include <sys/wait.h>
#include <tuple>
#include <vector>

namespace dq::test {

using Id = std::int64_t;

inline Id idOf(const Poco::JSON::Object::Ptr& object, const std::string& key = "id") {
    if (!object || !object->has(key) || object->isNull(key))
        return 0;
    auto value = object->get(key);
    if (value.type() == typeid(Poco::JSON::Object::Ptr))
        return idOf(value.extract<Poco::JSON::Object::Ptr>());
    return value.convert<Id>();
}

/// Ids of the objects in a JSON array (or of the `data` of a metadata-wrapped list).
inline std::vector<Id> idsOf(const HttpResult& result) {
    Poco::JSON::Array::Ptr items;
    if (result.json.type() == typeid(Poco::JSON::Object::Ptr))
        items = result.object()->getArray("data");
    else
        items = result.array();
    std::vector<Id> out;
    if (items)
        for (size_t i = 0; i < items->size(); ++i)
            out.push_back(idOf(items->getObject(static_cast<unsigned>(i))));
    return out;
}

inline Poco::JSON::Array::Ptr idList(const std::vector<Id>& values) {
    Poco::JSON::Array::Ptr out = new Poco::JSON::Array;
    for (Id v : values)
        out->add(v);
    return out;
}

struct CommandResult {
    int exitCode = -1;
    std::string output; ///< stdout and stderr together
};

/// Runs the real `vserver` binary against the test server's configuration and database.
inline CommandResult vserver(TestServer& server, const std::string& arguments) {
    const std::string binary = std::string(DQ_BINARY_DIR) + "/cli/vserver";
    if (!Poco::File(binary).exists()) {
        ADD_FAILURE() << "no vserver binary at " << binary << ": build the vserver target first";
        return {};
    }
    const std::string command = binary + " " + arguments + " --config " + server.configFile() +
                                " --data-dir " + server.dataDir() + " 2>&1";
    CommandResult result;
    FILE* pipe = ::popen(command.c_str(), "r");
    if (!pipe)
        return result;
    char buffer[512];
    while (std::fgets(buffer, sizeof buffer, pipe))
        result.output += buffer;
    int status = ::pclose(pipe);
    result.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return result;
}

class Federation {
public:
    explicit Federation(TestServer& server) : s(server), root(server.rootToken()) {
        auto rules = s.get("/rule", root);
        EXPECT_EQ(rules.status, 200) << rules.body;
        auto list = rules.array();
        for (size_t i = 0; list && i < list->size(); ++i) {
            auto rule = list->getObject(static_cast<unsigned>(i));
            rules_[{rule->getValue<std::string>("name"), rule->getValue<std::string>("scope"),
                    rule->getValue<std::string>("operation")}] = idOf(rule);
        }
    }

    /// "node:org:v" → the id of rule (node, ORGANIZATION, VIEW).
    Id rule(const std::string& spec) {
        auto first = spec.find(':'), second = spec.rfind(':');
        static const std::map<std::string, std::string> scopes{
            {"own", "OWN"}, {"org", "ORGANIZATION"}, {"col", "COLLABORATION"}, {"glo", "GLOBAL"}};
        static const std::map<std::string, std::string> operations{
            {"v", "VIEW"}, {"e", "EDIT"}, {"c", "CREATE"}, {"d", "DELETE"}};
        auto key =
            std::make_tuple(spec.substr(0, first), scopes.at(spec.substr(first + 1, second - first - 1)),
                            operations.at(spec.substr(second + 1)));
        auto it = rules_.find(key);
        EXPECT_NE(it, rules_.end()) << "no rule " << spec;
        return it == rules_.end() ? 0 : it->second;
    }

    Id organization(const std::string& name) {
        auto r = s.post("/organization", json({{"name", name}, {"country", "NL"}}), root);
        EXPECT_EQ(r.status, 201) << r.body;
        return idOf(r.object());
    }

    Id collaboration(const std::string& name, const std::vector<Id>& organizations, bool encrypted = false) {
        auto r = s.post(
            "/collaboration",
            json({{"name", name}, {"organization_ids", idList(organizations)}, {"encrypted", encrypted}}),
            root);
        EXPECT_EQ(r.status, 200) << r.body;
        return idOf(r.object());
    }

    /// A user of `organization` holding exactly `rules` (e.g. {"node:org:v"}); returns its token.
    std::string user(Id organization, const std::vector<std::string>& rules) {
        std::vector<Id> ruleIds;
        for (const auto& spec : rules)
            ruleIds.push_back(rule(spec));
        const std::string name = "user" + std::to_string(++users_);
        auto r = s.post("/user",
                        json({{"username", name},
                              {"firstname", "Test"},
                              {"lastname", "User"},
                              {"password", "Welkom01!"},
                              {"email", name + "@example.org"},
                              {"organization_id", organization},
                              {"rules", idList(ruleIds)}}),
                        root);
        EXPECT_EQ(r.status, 201) << r.body;
        return s.login(name, "Welkom01!");
    }

    struct Node {
        Id id = 0;
        std::string apiKey;
    };

    Node node(Id organization, Id collaboration) {
        auto r = s.post("/node",
                        json({{"organization_id", organization}, {"collaboration_id", collaboration}}), root);
        EXPECT_EQ(r.status, 201) << r.body;
        return {idOf(r.object()), r.object()->optValue<std::string>("api_key", "")};
    }

    /// Logs a node in; empty when the key is refused.
    std::string nodeToken(const std::string& apiKey) {
        auto r = s.post("/token/node", json({{"api_key", apiKey}}));
        if (r.status != 200)
            return "";
        return r.object()->getValue<std::string>("access_token");
    }

    TestServer& s;
    std::string root;

private:
    std::map<std::tuple<std::string, std::string, std::string>, Id> rules_;
    int users_ = 0;
};

} // namespace dq::test
