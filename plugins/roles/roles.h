// The roles plugin's parts: models, rules, routes, commands, the start-up sync of rules and fixed
// roles, and the "rules" service that tells the kernel which rules an identity holds.
#pragma once

#include <dq/sdk/plugin.h>
#include <optional>
#include <string>
#include <vector>

namespace dq::plugins::roles {

/// Roles whose name nobody may take, edit or delete through the API: they are (re)made at start.
extern const std::vector<std::string> kDefaultRoleNames;
bool isDefaultRole(const std::string& name);

void declareModels(sdk::Registry& registry);
void declareRules(sdk::Registry& registry);
void declareRoutes(sdk::Registry& registry);
void declareCommands(sdk::Registry& registry);

/// Stores every declared rule that is not yet a row (in vantage6's order, so ids match §5 and stay) and
/// makes the fixed roles (Root, container, node) and, when missing, the default roles.
void syncRulesAndRoles(sdk::Store& store, const std::vector<sdk::RuleDecl>& declared, Poco::Logger& log);

std::shared_ptr<sdk::RuleSource> makeRuleSource();

/// The key of a stored rule row; nullopt when its scope or operation is not one we know.
std::optional<sdk::RuleKey> ruleKeyOf(const sdk::Record& rule);
/// "(user, Scope.GLOBAL, Operation.VIEW)", as vantage6 names a rule in its messages.
std::string describeRule(const sdk::Record& rule);
/// Ids of the stored rules that a loaded plugin declares; rules of plugins that are not loaded
/// stay in the table (their ids must not move) but are not shown.
std::vector<sdk::Id> declaredRuleIds(sdk::Store& store, const std::vector<sdk::RuleDecl>& declared);
/// A role with organization null and this name.
std::optional<sdk::Record> fixedRole(sdk::Store& store, const std::string& name);

} // namespace dq::plugins::roles
