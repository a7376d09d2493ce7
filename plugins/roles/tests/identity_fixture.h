// Shared by the roles and users tests (beside the harness's ruleId/createOrganization): users with
// given rules and roles, role ids, list checks; all made over HTTP as root.
#pragma once

#include "tests/support/test_server.h"

#include <Poco/JSON/Array.h>
#include <Poco/URI.h>
#include <string>
#include <vector>

namespace dq::test::identity {

using Id = long long;

/// Follows the password policy.
inline const std::string kPassword = "Welkom01!";

inline Poco::JSON::Array::Ptr idList(const std::vector<Id>& values) {
    Poco::JSON::Array::Ptr out = new Poco::JSON::Array;
    for (auto v : values)
        out->add(static_cast<Poco::Int64>(v));
    return out;
}

inline Id idOf(const HttpResult& r) {
    if (!r.json.isEmpty() && r.json.type() == typeid(Poco::JSON::Object::Ptr))
        return r.object()->getValue<Poco::Int64>("id");
    ADD_FAILURE() << "expected an object with an id, got " << r.status << " " << r.body;
    return 0;
}

inline Id roleIdByName(TestServer& s, const std::string& name) {
    std::string encoded;
    Poco::URI::encode(name, "&=+#?", encoded);
    auto r = s.get("/role?name=" + encoded, s.rootToken());
    EXPECT_EQ(r.status, 200) << r.body;
    for (std::size_t i = 0; r.array() && i < r.array()->size(); ++i)
        if (r.array()->getObject(i)->getValue<std::string>("name") == name)
            return r.array()->getObject(i)->getValue<Poco::Int64>("id");
    ADD_FAILURE() << "no role named " << name << " in " << r.body;
    return 0;
}

/// A user made by root with exactly these direct rules and roles (password kPassword).
inline Id createUser(TestServer& s, const std::string& username, Id organization,
                     const std::vector<Id>& rules = {}, const std::vector<Id>& roles = {}) {
    auto r = s.post("/user",
                    json({{"username", username},
                          {"firstname", "First"},
                          {"lastname", "Last"},
                          {"email", username + "@example.org"},
                          {"password", kPassword},
                          {"organization_id", Poco::Int64(organization)},
                          {"rules", idList(rules)},
                          {"roles", idList(roles)}}),
                    s.rootToken());
    EXPECT_EQ(r.status, 201) << r.body;
    return idOf(r);
}

struct Caller {
    Id id = 0;
    std::string token;
};

inline Caller caller(TestServer& s, const std::string& username, Id organization,
                     const std::vector<Id>& rules = {}, const std::vector<Id>& roles = {}) {
    Caller c;
    c.id = createUser(s, username, organization, rules, roles);
    c.token = s.login(username, kPassword);
    return c;
}

inline std::size_t sizeOf(const HttpResult& r) {
    if (r.json.isEmpty() || r.json.type() != typeid(Poco::JSON::Array::Ptr)) {
        ADD_FAILURE() << "expected a JSON array, got " << r.status << " " << r.body;
        return 0;
    }
    return r.array()->size();
}

inline bool listHasId(const HttpResult& r, Id id) {
    if (r.json.isEmpty() || r.json.type() != typeid(Poco::JSON::Array::Ptr))
        return false;
    for (std::size_t i = 0; i < r.array()->size(); ++i)
        if (r.array()->getObject(i)->getValue<Poco::Int64>("id") == id)
            return true;
    return false;
}

} // namespace dq::test::identity
