// The users plugin's parts: the user model, its routes (CRUD, login, refresh, password change),
// commands, the password policy, the root account and the "identity.user" service.
#pragma once

#include <dq/sdk/plugin.h>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace dq::plugins::users {

inline constexpr const char* kMaxFailedAttempts = "password_policy.max_failed_attempts";
inline constexpr const char* kInactivationMinutes = "password_policy.inactivation_minutes";

/// `passwords` is set once the plugin starts; the password field's writer (batch import, admin
/// shell) hashes through it.
void declareModels(sdk::Registry& registry, const std::shared_ptr<sdk::Passwords*>& passwords);
void declareRules(sdk::Registry& registry);
void declareSettings(sdk::Registry& registry);
void declareRoutes(sdk::Registry& registry);
void declareAuthRoutes(sdk::Registry& registry);
/// POST /recover/lost and /recover/reset (recover.cpp); 501 without the smtp plugin's mailer.
void declareRecoveryRoutes(sdk::Registry& registry);
void declareCommands(sdk::Registry& registry);

std::shared_ptr<sdk::IdentityProvider> makeIdentityProvider();

/// Creates organization "root" and user root/root with role Root when there is no user "root".
void ensureRootUser(sdk::Services& services);

/// The password policy of vantage6: "" when `password` is fine, else what is wrong with it.
std::string passwordProblem(const std::string& password);

std::optional<sdk::Record> findByUsername(sdk::Store& store, const std::string& username);
std::vector<std::string> roleNamesOf(sdk::Store& store, sdk::Id user);
/// The rules of a role, as stored rows.
std::vector<sdk::Record> rulesOfRole(sdk::Store& store, sdk::Id role);
/// The stored rule rows that loaded plugins declare, by id.
std::optional<sdk::Record> findDeclaredRule(sdk::Store& store, const std::vector<sdk::RuleDecl>& declared,
                                            sdk::Id id);
std::optional<sdk::RuleKey> ruleKeyOf(const sdk::Record& rule);
/// "(user, Scope.GLOBAL, Operation.VIEW)", as vantage6 names a rule in its messages.
std::string describeRule(const sdk::Record& rule);

/// Minutes since a stored date-time ("YYYY-MM-DDTHH:MM:SS.ffffff", UTC); nullopt when unparsable.
std::optional<double> minutesSince(const std::string& stored);

} // namespace dq::plugins::users
