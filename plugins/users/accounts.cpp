// Who a user is (the "identity.user" service), the root account of a fresh server, the password
// policy, and small lookups shared by routes and commands.
#include "users.h"

#include <Poco/DateTime.h>
#include <Poco/Timestamp.h>
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <set>

namespace dq::plugins::users {

using sdk::Condition;
using sdk::Id;
using sdk::Query;
using sdk::Record;

std::optional<Record> findByUsername(sdk::Store& store, const std::string& username) {
    Query q;
    q.add(Condition::equal("username", username));
    auto rows = store.select("user", q);
    if (rows.empty())
        return std::nullopt;
    return rows.front();
}

void endSessions(sdk::Store& store, Id user, const std::optional<std::string>& newPasswordHash) {
    if (newPasswordHash)
        store.execute("UPDATE \"user\" SET password = ?, failed_login_attempts = 0, "
                      "credential_version = COALESCE(credential_version, 0) + 1 WHERE id = ?",
                      {*newPasswordHash, user});
    else
        store.execute(
            "UPDATE \"user\" SET credential_version = COALESCE(credential_version, 0) + 1 WHERE id = ?",
            {user});
}

std::vector<std::string> roleNamesOf(sdk::Store& store, Id user) {
    auto ids = store.associated("user", user, "roles");
    if (ids.empty())
        return {};
    Query q;
    q.add(Condition::in("id", std::vector<sdk::Value>(ids.begin(), ids.end())));
    std::vector<std::string> names;
    for (const auto& role : store.select("role", q))
        names.push_back(role.text("name"));
    return names;
}

std::vector<Record> rulesOfRole(sdk::Store& store, Id role) {
    auto ids = store.associated("role", role, "rules");
    if (ids.empty())
        return {};
    Query q;
    q.add(Condition::in("id", std::vector<sdk::Value>(ids.begin(), ids.end())));
    return store.select("rule", q);
}

std::optional<sdk::RuleKey> ruleKeyOf(const Record& rule) {
    auto scope = sdk::scopeFromString(rule.text("scope"));
    auto operation = sdk::operationFromString(rule.text("operation"));
    if (!scope || !operation)
        return std::nullopt;
    return sdk::RuleKey{rule.text("name"), *scope, *operation};
}

std::optional<Record> findDeclaredRule(sdk::Store& store, const std::vector<sdk::RuleDecl>& declared, Id id) {
    auto rule = store.find("rule", id);
    if (!rule)
        return std::nullopt;
    auto key = ruleKeyOf(*rule);
    for (const auto& d : declared)
        if (key && key->resource == d.resource && key->scope == d.scope && key->operation == d.operation)
            return rule;
    // A rule of a plugin that is not loaded: it does not exist for the API.
    return std::nullopt;
}

std::string describeRule(const Record& rule) {
    return "(" + rule.text("name") + ", Scope." + rule.text("scope") + ", Operation." +
           rule.text("operation") + ")";
}

std::optional<double> minutesSince(const std::string& stored) {
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
    // 'T' or ' ' between date and time, whatever the driver hands back.
    if (std::sscanf(stored.c_str(), "%d-%d-%d%*c%d:%d:%d", &year, &month, &day, &hour, &minute, &second) !=
            6 ||
        !Poco::DateTime::isValid(year, month, day, hour, minute, second))
        return std::nullopt;
    Poco::DateTime then(year, month, day, hour, minute, second);
    Poco::Timestamp now;
    return static_cast<double>(now - then.timestamp()) / (60.0 * 1000 * 1000);
}

std::string passwordProblem(const std::string& password) {
    if (password.size() < 8)
        return "Password too short: use at least 8 characters with mixed lowercase, uppercase, numbers and "
               "special "
               "characters";
    if (password.size() > 128)
        return "Password too long: use at most 128 characters";
    auto any = [&](int (*test)(int)) {
        return std::any_of(password.begin(), password.end(),
                           [&](char c) { return test(static_cast<unsigned char>(c)) != 0; });
    };
    if (!any(::isdigit))
        return "Password should contain at least one number";
    if (!any(::isupper))
        return "Password should contain at least one uppercase letter";
    if (!any(::islower))
        return "Password should contain at least one lowercase letter";
    if (std::all_of(password.begin(), password.end(),
                    [](char c) { return std::isalnum(static_cast<unsigned char>(c)); }))
        return "Password should contain at least one special character";
    return "";
}

namespace {

class UserIdentity : public sdk::IdentityProvider {
public:
    std::optional<sdk::Identity> resolve(sdk::Store& store, Id id) override {
        auto user = store.find("user", id);
        if (!user)
            return std::nullopt;
        sdk::Identity who;
        who.kind = sdk::ClientKind::User;
        who.id = id;
        who.organizationId = user->integer("organization_id").value_or(0);
        who.name = user->text("username");
        who.roleNames = roleNamesOf(store, id);
        who.credentialVersion = user->integer("credential_version").value_or(0);
        return who;
    }

    void touch(sdk::Store& store, Id id) override {
        Record seen;
        seen.set("last_seen", sdk::nowUtc());
        store.update("user", id, seen);
    }
};

} // namespace

std::shared_ptr<sdk::IdentityProvider> makeIdentityProvider() {
    return std::make_shared<UserIdentity>();
}

std::optional<Id> rootRole(sdk::Store& store) {
    Query q;
    q.add(Condition::equal("name", "Root")).add(Condition::isNull("organization_id"));
    auto roles = store.select("role", q);
    return roles.empty() ? std::nullopt : std::optional<Id>(roles.front().id);
}

void ensureRootUser(sdk::Services& services) {
    services.transaction([&](sdk::Store& store) {
        if (findByUsername(store, "root"))
            return;
        Query byName;
        byName.add(Condition::equal("name", "root"));
        auto orgs = store.select("organization", byName);
        Id org = 0;
        if (!orgs.empty()) {
            org = orgs.front().id;
        } else {
            Record organization;
            organization.set("name", "root");
            org = store.insert("organization", organization);
        }
        Record user;
        // The root password skips the policy, as in vantage6; the warning below tells to change it.
        user.set("username", "root")
            .set("password", services.passwords().hash("root"))
            .set("email", "root@domain.ext")
            .set("organization_id", org);
        Id id = store.insert("user", user);

        auto root = rootRole(store);
        if (!root)
            throw std::runtime_error(
                "users: the role 'Root' does not exist, so the root user would hold no rules; "
                "the roles plugin must start before users");
        store.setAssociated("user", id, "roles", {*root});
        services.log().warning("users: created the user 'root' with the DEFAULT PASSWORD 'root' "
                               "(organization 'root', role Root). "
                               "Change it now: PATCH /api/password/change as root, or `vserver user "
                               "set-password root --password ...`");
    });
}

} // namespace dq::plugins::users
