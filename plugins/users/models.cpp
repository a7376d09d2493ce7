// The user table with its roles and direct rules, the "user" rules (vantage6 §5, 28-37), the
// lockout settings and the list filters of /user (and user_id on /role).
#include "users.h"

#include <Poco/NumberParser.h>

namespace dq::plugins::users {

using sdk::Field;
using sdk::FieldType;
using sdk::Operation;
using sdk::Scope;

void declareModels(sdk::Registry& registry, const std::shared_ptr<sdk::Passwords*>& passwords) {
    auto text = [](const char* name, std::size_t maxLength, bool unique = false, bool secret = false) {
        Field f{name, FieldType::Text, true, unique, secret, {}, ""};
        f.maxLength = maxLength;
        return f;
    };
    // Clear-text passwords from the import or the shell are stored as the routes store them.
    // The bcrypt hash; the clear-text password is checked by the password policy.
    Field password = text("password", 0, false, true);
    password.writer = [passwords](sdk::Record& record, const std::string& clearText) {
        if (!*passwords)
            throw std::logic_error("users plugin: a password was written before the plugin started");
        record.set("password", (*passwords)->hash(clearText));
    };
    registry.model(
        sdk::ModelDecl("user")
            .resource("/user")
            .description("A person who logs in; holds the rules of their roles plus direct rules")
            .field(Field{"username", FieldType::Text, false, true, false, {}, "login name", {}, 128})
            .field(password)
            .field(text("firstname", 128))
            .field(text("lastname", 128))
            .field(text("email", 254, true))
            .field(
                Field{"failed_login_attempts", FieldType::Integer, true, false, true, Poco::Int64(0),
                      "wrong passwords in a row; the account locks at password_policy.max_failed_attempts"})
            .field(Field{"last_login_attempt", FieldType::DateTime, true, false, true, {}, ""})
            .field(Field{"credential_version", FieldType::Integer, true, false, true, Poco::Int64(0),
                         "raised when the password changes or the account locks: older tokens are refused"})
            .field(Field{"last_seen", FieldType::DateTime, true, false, false, {}, ""})
            .field(text("ip", 64))
            .field(text("status", 32))
            .field(text("otp_secret", 0, false, true))
            .reference(sdk::Reference{"organization", "organization", "users", sdk::RelationStyle::Link,
                                      sdk::RelationStyle::Link, sdk::OnDelete::SetNull, true})
            .association(sdk::Association{"roles", "role", "permission", "users", sdk::RelationStyle::Link,
                                          sdk::RelationStyle::Link, "user_id", "role_id"})
            .association(sdk::Association{"rules", "rule", "userpermission", "users",
                                          sdk::RelationStyle::Link, sdk::RelationStyle::Link, "user_id",
                                          "rule_id"}));

    using Kind = sdk::FilterDecl::Kind;
    for (const char* name : {"username", "firstname", "lastname", "email"})
        registry.filter("user", sdk::FilterDecl{name, Kind::Like, name, "", false});
    registry.filter("user", sdk::FilterDecl{"organization_id", Kind::Equal, "organization_id", "", false});
    registry.filter("user", sdk::FilterDecl{"last_seen_from", Kind::From, "last_seen", "", false});
    registry.filter("user", sdk::FilterDecl{"last_seen_till", Kind::Till, "last_seen", "", false});
    registry.filter("user",
                    sdk::FilterDecl{"role_id", Kind::Sql, "",
                                    "id IN (SELECT user_id FROM permission WHERE role_id = ?)", false});
    registry.filter("user",
                    sdk::FilterDecl{"rule_id", Kind::Sql, "",
                                    "id IN (SELECT user_id FROM userpermission WHERE rule_id = ?)", false});
    // The role list's user_id filter needs our association table, so it is ours to declare.
    registry.filter("role",
                    sdk::FilterDecl{"user_id", Kind::Sql, "",
                                    "id IN (SELECT role_id FROM permission WHERE user_id = ?)", false});
}

void declareRules(sdk::Registry& registry) {
    auto rule = [&](Scope scope, Operation op, const char* description) {
        registry.rule(sdk::RuleDecl{"user", scope, op, description, false, false});
    };
    rule(Scope::Global, Operation::View, "View any user");
    rule(Scope::Organization, Operation::View, "View the users of your organization");
    rule(Scope::Global, Operation::Create, "Create a user for any organization");
    rule(Scope::Organization, Operation::Create, "Create a user for your organization");
    rule(Scope::Global, Operation::Edit, "Edit any user");
    rule(Scope::Organization, Operation::Edit, "Edit the users of your organization");
    rule(Scope::Own, Operation::Edit, "Edit your own user account");
    rule(Scope::Global, Operation::Delete, "Delete any user");
    rule(Scope::Organization, Operation::Delete, "Delete the users of your organization");
    rule(Scope::Own, Operation::Delete, "Delete your own user account");
}

void declareSettings(sdk::Registry& registry) {
    auto atLeast = [](Poco::Int64 minimum) {
        return [minimum](const std::string& value) -> std::string {
            Poco::Int64 n = 0;
            if (Poco::NumberParser::tryParse64(value, n) && n >= minimum)
                return "";
            return "an integer of at least " + std::to_string(minimum);
        };
    };
    registry.setting(sdk::SettingDecl{kMaxFailedAttempts, sdk::SettingDecl::Type::Integer, "5",
                                      "wrong passwords in a row after which an account is locked",
                                      kMaxFailedAttempts, atLeast(1), false});
    registry.setting(sdk::SettingDecl{kInactivationMinutes, sdk::SettingDecl::Type::Integer, "15",
                                      "minutes a locked account stays locked (0: never locked)",
                                      kInactivationMinutes, atLeast(0), false});
    registry.setting(sdk::SettingDecl{kTwoFactorAuth, sdk::SettingDecl::Type::Boolean, "false",
                                      "users log in with a TOTP code after their password", kTwoFactorAuth,
                                      nullptr, false});
}

} // namespace dq::plugins::users
