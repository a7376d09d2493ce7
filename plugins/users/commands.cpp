// `vserver user list|create|show|set-password|set-roles`: user accounts from the shell, no server needed.
#include "users.h"

#include <Poco/NumberParser.h>
#include <Poco/StringTokenizer.h>
#include <iomanip>
#include <ostream>
#include <stdexcept>

namespace dq::plugins::users {

using sdk::CommandContext;
using sdk::Condition;
using sdk::Id;
using sdk::Query;
using sdk::Record;

namespace {

std::string joined(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& item : items)
        out += (out.empty() ? "" : ",") + item;
    return out;
}

Record userByName(CommandContext& ctx, const std::string& username) {
    auto user = findByUsername(ctx.store(), username);
    if (!user)
        throw std::runtime_error("there is no user '" + username + "'; `vserver user list` shows the users");
    return *user;
}

/// Role names (or ids) → ids; a name must match exactly one global role or role of `organization`.
std::vector<Id> rolesByName(CommandContext& ctx, const std::string& list, std::optional<Id> organization) {
    std::vector<Id> ids;
    Poco::StringTokenizer names(list, ",",
                                Poco::StringTokenizer::TOK_TRIM | Poco::StringTokenizer::TOK_IGNORE_EMPTY);
    for (const auto& name : names) {
        Poco::Int64 asId = 0;
        if (Poco::NumberParser::tryParse64(name, asId)) {
            if (!ctx.store().find("role", asId))
                throw std::runtime_error("--roles: there is no role with id " + name);
            ids.push_back(asId);
            continue;
        }
        Query q;
        q.add(Condition::equal("name", name));
        std::vector<Id> matches;
        for (const auto& role : ctx.store().select("role", q)) {
            auto org = role.integer("organization_id");
            if (!org || org == organization)
                matches.push_back(role.id);
        }
        if (matches.empty())
            throw std::runtime_error(
                "--roles: there is no role '" + name +
                "' (global or of the user's organization); `vserver role list` shows the roles");
        if (matches.size() > 1)
            throw std::runtime_error("--roles: the name '" + name +
                                     "' matches several roles; give the role id instead");
        ids.push_back(matches.front());
    }
    return ids;
}

void requirePolicy(const std::string& password) {
    if (auto problem = passwordProblem(password); !problem.empty())
        throw std::runtime_error("--password: " + problem);
}

int listUsers(CommandContext& ctx) {
    auto& out = ctx.out();
    out << std::left << std::setw(6) << "id" << std::setw(20) << "username" << std::setw(30) << "email"
        << std::setw(14) << "organization"
        << "roles\n";
    for (const auto& user : ctx.store().select("user"))
        out << std::setw(6) << user.id << std::setw(20) << user.text("username") << std::setw(30)
            << user.text("email") << std::setw(14) << user.text("organization_id", "-")
            << joined(roleNamesOf(ctx.store(), user.id)) << "\n";
    return 0;
}

int createUser(CommandContext& ctx) {
    auto username = *ctx.option("username");
    auto password = *ctx.option("password");
    auto email = *ctx.option("email");
    Poco::Int64 org = 0;
    if (!Poco::NumberParser::tryParse64(*ctx.option("organization-id"), org))
        throw std::runtime_error("--organization-id: expected an integer id, got '" +
                                 *ctx.option("organization-id") + "'");
    if (!ctx.store().find("organization", org))
        throw std::runtime_error("--organization-id: there is no organization with id " +
                                 std::to_string(org) + "; `vserver organization list` shows them");
    if (findByUsername(ctx.store(), username))
        throw std::runtime_error("the username '" + username + "' is already taken");
    requirePolicy(password);
    std::vector<Id> roles;
    if (auto names = ctx.option("roles"); names && !names->empty())
        roles = rolesByName(ctx, *names, org);

    Record user;
    user.set("username", username)
        .set("email", email)
        .set("organization_id", org)
        .set("password", ctx.services().passwords().hash(password));
    if (auto first = ctx.option("firstname"))
        user.set("firstname", *first);
    if (auto last = ctx.option("lastname"))
        user.set("lastname", *last);
    Id id = ctx.store().insert("user", user);
    ctx.store().setAssociated("user", id, "roles", roles);
    ctx.out() << "Created user " << id << " '" << username << "' with roles ["
              << joined(roleNamesOf(ctx.store(), id)) << "]\n";
    return 0;
}

int showUser(CommandContext& ctx) {
    if (ctx.arguments().size() != 1)
        throw std::runtime_error("give one user id or username, e.g. `vserver user show root`");
    const auto& which = ctx.arguments()[0];
    std::optional<Record> user;
    Poco::Int64 id = 0;
    if (Poco::NumberParser::tryParse64(which, id))
        user = ctx.store().find("user", id);
    if (!user)
        user = findByUsername(ctx.store(), which);
    if (!user)
        throw std::runtime_error("there is no user with id or username '" + which + "'");
    std::vector<std::string> rules;
    for (Id rule : ctx.store().associated("user", user->id, "rules"))
        if (auto row = ctx.store().find("rule", rule))
            rules.push_back(std::to_string(rule) + " " + describeRule(*row));
    auto& out = ctx.out();
    out << "id:           " << user->id << "\n"
        << "username:     " << user->text("username") << "\n"
        << "firstname:    " << user->text("firstname") << "\n"
        << "lastname:     " << user->text("lastname") << "\n"
        << "email:        " << user->text("email") << "\n"
        << "organization: " << user->text("organization_id", "-") << "\n"
        << "last seen:    " << user->text("last_seen", "never") << "\n"
        << "roles:        " << joined(roleNamesOf(ctx.store(), user->id)) << "\n"
        << "rules:        " << joined(rules) << "\n";
    return 0;
}

int setPassword(CommandContext& ctx) {
    if (ctx.arguments().size() != 1)
        throw std::runtime_error("give one username, e.g. `vserver user set-password root --password ...`");
    auto user = userByName(ctx, ctx.arguments()[0]);
    auto password = *ctx.option("password");
    requirePolicy(password);
    // A new password also lifts a lockout and ends the account's sessions.
    endSessions(ctx.store(), user.id, ctx.services().passwords().hash(password));
    ctx.out() << "Password of user '" << user.text("username") << "' changed\n";
    return 0;
}

int setRoles(CommandContext& ctx) {
    if (ctx.arguments().size() != 1)
        throw std::runtime_error("give one username, e.g. `vserver user set-roles alice --roles Viewer`");
    auto user = userByName(ctx, ctx.arguments()[0]);
    auto roles = rolesByName(ctx, *ctx.option("roles"), user.integer("organization_id"));
    ctx.store().setAssociated("user", user.id, "roles", roles);
    ctx.out() << "User '" << user.text("username") << "' now has roles ["
              << joined(roleNamesOf(ctx.store(), user.id)) << "]\n";
    return 0;
}

} // namespace

void declareCommands(sdk::Registry& registry) {
    registry.command(
        {{"user", "list"}, "List all users with their organization and roles", {}, "", listUsers});
    registry.command(
        {{"user", "create"},
         "Create a user (the password must follow the password policy)",
         {{"username", "login name", false, true, ""},
          {"password",
           "password: at least 8 characters with upper and lower case, a digit and a "
           "special character",
           false, true, ""},
          {"email", "e-mail address (unique)", false, true, ""},
          {"firstname", "first name", false, false, ""},
          {"lastname", "last name", false, false, ""},
          {"organization-id", "id of the user's organization", false, true, ""},
          {"roles", "comma-separated role names or ids, e.g. Researcher,Viewer", false, false, ""}},
         "",
         createUser});
    registry.command({{"user", "show"}, "Show one user", {}, "ID|USERNAME", showUser});
    registry.command({{"user", "set-password"},
                      "Set a user's password (also lifts a lockout)",
                      {{"password", "the new password (password policy applies)", false, true, ""}},
                      "USERNAME",
                      setPassword});
    registry.command(
        {{"user", "set-roles"},
         "Replace a user's roles",
         {{"roles", "comma-separated role names or ids, e.g. Root or Researcher,Viewer", false, true, ""}},
         "USERNAME",
         setRoles});
}

} // namespace dq::plugins::users
