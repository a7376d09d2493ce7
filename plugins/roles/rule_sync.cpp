// Start-up: rule rows for every declared rule, the fixed roles Root / container / node, and the
// default roles Viewer, Researcher, Organization Admin and Collaboration Admin (vantage6 §5).
#include "roles.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

namespace dq::plugins::roles {

using sdk::Id;
using sdk::Operation;
using sdk::Record;
using sdk::RuleKey;
using sdk::Scope;

const std::vector<std::string> kDefaultRoleNames = {
    "Root", "container", "node", "Viewer", "Researcher", "Organization Admin", "Collaboration Admin"};

bool isDefaultRole(const std::string& name) {
    return std::find(kDefaultRoleNames.begin(), kDefaultRoleNames.end(), name) != kDefaultRoleNames.end();
}

std::optional<RuleKey> ruleKeyOf(const Record& rule) {
    auto scope = sdk::scopeFromString(rule.text("scope"));
    auto operation = sdk::operationFromString(rule.text("operation"));
    if (!scope || !operation)
        return std::nullopt;
    return RuleKey{rule.text("name"), *scope, *operation};
}

std::string describeRule(const Record& rule) {
    return "(" + rule.text("name") + ", Scope." + rule.text("scope") + ", Operation." +
           rule.text("operation") + ")";
}

std::vector<Id> declaredRuleIds(sdk::Store& store, const std::vector<sdk::RuleDecl>& declared) {
    std::set<RuleKey> keys;
    for (const auto& d : declared)
        keys.insert(RuleKey{d.resource, d.scope, d.operation});
    std::vector<Id> ids;
    for (const auto& row : store.select("rule")) {
        auto key = ruleKeyOf(row);
        if (key && keys.count(*key))
            ids.push_back(row.id);
    }
    return ids;
}

std::optional<Record> fixedRole(sdk::Store& store, const std::string& name) {
    sdk::Query q;
    q.add(sdk::Condition::equal("name", name)).add(sdk::Condition::isNull("organization_id"));
    auto rows = store.select("role", q);
    if (rows.empty())
        return std::nullopt;
    return rows.front();
}

namespace {

struct DefaultRole {
    std::string name;
    std::string description;
    std::vector<RuleKey> rules;
};

std::vector<DefaultRole> defaultRoles() {
    const auto O = Scope::Own, R = Scope::Organization, C = Scope::Collaboration, G = Scope::Global;
    const auto v = Operation::View, e = Operation::Edit, c = Operation::Create, d = Operation::Delete;
    std::vector<RuleKey> viewer = {
        {"user", O, e},         {"user", O, d},          {"user", R, v}, {"organization", R, v},
        {"organization", C, v}, {"collaboration", R, v}, {"role", R, v}, {"node", R, v},
        {"task", R, v},         {"result", R, v},        {"port", R, v}, {"event", R, v},
    };
    auto researcher = viewer;
    researcher.insert(researcher.end(), {{"task", R, c}, {"task", R, d}});
    auto orgAdmin = researcher;
    orgAdmin.insert(orgAdmin.end(), {{"user", R, c},
                                     {"user", R, e},
                                     {"user", R, d},
                                     {"organization", R, e},
                                     {"role", R, c},
                                     {"role", R, e},
                                     {"role", R, d},
                                     {"node", R, c},
                                     {"node", R, e},
                                     {"event", R, c}});
    auto collabAdmin = orgAdmin;
    collabAdmin.insert(collabAdmin.end(), {{"user", G, v},
                                           {"user", G, c},
                                           {"user", G, e},
                                           {"organization", G, v},
                                           {"organization", G, e},
                                           {"collaboration", G, v},
                                           {"collaboration", G, e},
                                           {"role", G, v},
                                           {"node", G, c},
                                           {"node", G, v},
                                           {"node", G, d},
                                           {"event", C, v},
                                           {"event", C, c}});
    return {
        {"Viewer",
         "Can manage their own account information and view resources related to their organization", viewer},
        {"Researcher",
         "Can create and delete tasks, manage their own account and view resources related to their "
         "organization",
         researcher},
        {"Organization Admin", "Can manage an organization: its users, roles and nodes; can also run tasks",
         orgAdmin},
        {"Collaboration Admin",
         "Can manage a collaboration: its organizations, users, roles and nodes; can also run tasks",
         collabAdmin},
    };
}

/// vantage6 registers its rules resource by resource in this order. Inserting missing rules in the
/// same order gives a fresh database vantage6's rule ids (§5), whatever order the plugins load in;
/// resources vantage6 does not know follow in declaration order.
std::vector<sdk::RuleDecl> inVantage6Order(std::vector<sdk::RuleDecl> rules) {
    static const std::vector<std::string> order = {"node", "collaboration", "organization", "task", "result",
                                                   "user", "role",          "port",         "event"};
    auto rank = [](const sdk::RuleDecl& rule) {
        auto it = std::find(order.begin(), order.end(), rule.resource);
        return static_cast<std::size_t>(it - order.begin());
    };
    std::stable_sort(rules.begin(), rules.end(),
                     [&](const sdk::RuleDecl& a, const sdk::RuleDecl& b) { return rank(a) < rank(b); });
    return rules;
}

Id ensureFixedRole(sdk::Store& store, const std::string& name, const std::string& description) {
    if (auto existing = fixedRole(store, name))
        return existing->id;
    Record role;
    role.set("name", name).set("description", description);
    return store.insert("role", role);
}

} // namespace

void syncRulesAndRoles(sdk::Store& store, const std::vector<sdk::RuleDecl>& declared, Poco::Logger& log) {
    using RowKey = std::tuple<std::string, std::string, std::string>;
    std::map<RowKey, Id> existing;
    for (const auto& row : store.select("rule"))
        existing.emplace(RowKey{row.text("name"), row.text("scope"), row.text("operation")}, row.id);

    // Fixed roles first, in vantage6's order, so a fresh database gives Root id 1.
    Id root = ensureFixedRole(store, "Root", "Root role");
    Id container = ensureFixedRole(store, "container", "container role");
    Id node = ensureFixedRole(store, "node", "node role");

    std::vector<Id> all, forNode, forContainer;
    std::map<RuleKey, Id> idOf;
    int added = 0;
    for (const auto& d : inVantage6Order(declared)) {
        RowKey key{d.resource, sdk::toString(d.scope), sdk::toString(d.operation)};
        auto it = existing.find(key);
        Id id;
        if (it == existing.end()) {
            Record rule;
            rule.set("name", d.resource)
                .set("scope", sdk::toString(d.scope))
                .set("operation", sdk::toString(d.operation))
                .set("description", d.description);
            id = store.insert("rule", rule);
            existing.emplace(key, id);
            ++added;
        } else {
            id = it->second;
        }
        if (idOf.emplace(RuleKey{d.resource, d.scope, d.operation}, id).second) {
            all.push_back(id);
            if (d.assignToNode)
                forNode.push_back(id);
            if (d.assignToContainer)
                forContainer.push_back(id);
        }
    }
    store.setAssociated("role", root, "rules", all);
    store.setAssociated("role", node, "rules", forNode);
    store.setAssociated("role", container, "rules", forContainer);

    for (const auto& role : defaultRoles()) {
        if (fixedRole(store, role.name))
            continue;
        std::vector<Id> ids;
        for (const auto& key : role.rules)
            if (auto it = idOf.find(key); it != idOf.end())
                ids.push_back(it->second);
        Record row;
        row.set("name", role.name).set("description", role.description);
        Id id = store.insert("role", row);
        store.setAssociated("role", id, "rules", ids);
    }
    log.information("roles: %d rules declared by the loaded plugins, %d of them new",
                    static_cast<int>(all.size()), added);
}

} // namespace dq::plugins::roles
