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
inline constexpr const char* kTwoFactorAuth = "two_factor_auth";

/// `passwords` is set once the plugin starts; the password field's writer (batch import, admin
/// shell) hashes through it.
void declareModels(sdk::Registry& registry, const std::shared_ptr<sdk::Passwords*>& passwords);
void declareRules(sdk::Registry& registry);
void declareSettings(sdk::Registry& registry);
void declareRoutes(sdk::Registry& registry);
/// `dummyHash` (set when the plugin starts) is what a login for an unknown user is checked against.
void declareAuthRoutes(sdk::Registry& registry, const std::shared_ptr<const std::string>& dummyHash);
/// POST /recover/lost and /recover/reset (recover.cpp); 501 without the smtp plugin's mailer.
void declareRecoveryRoutes(sdk::Registry& registry);
void declareCommands(sdk::Registry& registry);

std::shared_ptr<sdk::IdentityProvider> makeIdentityProvider();

/// Creates organization "root" and user root/root with role Root when there is no user "root".
void ensureRootUser(sdk::Services& services);

/// The role "Root" (of no organization): every rule. nullopt before the roles plugin made it.
std::optional<sdk::Id> rootRole(sdk::Store& store);
/// The `users:` section in each organization of `vserver import` (import_section.cpp).
void declareImportSection(sdk::Registry& registry);

/// The password policy of vantage6: "" when `password` is fine, else what is wrong with it.
std::string passwordProblem(const std::string& password);

std::optional<sdk::Record> findByUsername(sdk::Store& store, const std::string& username);
std::vector<std::string> roleNamesOf(sdk::Store& store, sdk::Id user);
/// Raises the user's credential version, so every token issued so far is refused; with a new
/// password hash, also sets it (and lifts a lockout).
void endSessions(sdk::Store& store, sdk::Id user, const std::optional<std::string>& newPasswordHash = {});
/// The rules of a role, as stored rows.
std::vector<sdk::Record> rulesOfRole(sdk::Store& store, sdk::Id role);
/// The stored rule rows that loaded plugins declare, by id.
std::optional<sdk::Record> findDeclaredRule(sdk::Store& store, const std::vector<sdk::RuleDecl>& declared,
                                            sdk::Id id);
std::optional<sdk::RuleKey> ruleKeyOf(const sdk::Record& rule);
/// "(user, Scope.GLOBAL, Operation.VIEW)", as vantage6 names a rule in its messages.
std::string describeRule(const sdk::Record& rule);

/// The password check of a login, with vantage6's lockout: nullopt when `password` is right and the
/// account not locked (the failed count is reset), else the 401 to answer. The attempt is counted
/// atomically before bcrypt runs, a locked account is refused without bcrypt, and the request's
/// transaction is committed before the check (no session is held while bcrypt runs): re-read what
/// was read before. The account that locks has its credential version raised (its tokens end) and
/// its owner mailed. Answers and counts are committed with the response, so return, do not throw.
std::optional<sdk::Response> checkPassword(sdk::RequestContext& ctx, const sdk::Record& user,
                                           const std::string& password);

// Two-factor authentication (two_factor.cpp).
/// A new random TOTP secret, base32 (32 characters).
std::string newOtpSecret();
/// Whether `code` is the TOTP code of `secret` at `unixTime`, one 30-second step either way.
bool otpCodeMatches(const std::string& secret, const std::string& code, std::int64_t unixTime);
/// `mfa_code` of a login body: a string, or a number as the Python client may send it.
std::optional<std::string> otpCodeIn(sdk::JsonBody& body);
/// 200 {qr_uri, otp_secret, msg}: the secret for an authenticator app, as vantage6 hands it out.
sdk::Response otpSetupAnswer(sdk::RequestContext& ctx, const sdk::Record& user, const std::string& secret);
/// After a good password: nullopt when 2FA is off or `code` is right, else the answer to give
/// instead of tokens (a new secret when the user has none, a request for the code, or 401).
std::optional<sdk::Response> secondFactor(sdk::RequestContext& ctx, const sdk::Record& user,
                                          const std::optional<std::string>& code);

/// Minutes since a stored date-time ("YYYY-MM-DDTHH:MM:SS.ffffff", UTC); nullopt when unparsable.
std::optional<double> minutesSince(const std::string& stored);

} // namespace dq::plugins::users
