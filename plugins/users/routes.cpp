// /user and /user/<id> (vantage6 §1.8): scopes own / organization / global; lacking permission is
// 403; nobody hands out a rule they do not hold, nobody edits or deletes a user who holds a rule
// they lack, and nobody changes their own roles or rules.
#include "users.h"

#include <algorithm>

namespace dq::plugins::users {

using sdk::BadRequest;
using sdk::ClientKind;
using sdk::Condition;
using sdk::Forbidden;
using sdk::Id;
using sdk::JsonBody;
using sdk::NotFound;
using sdk::Operation;
using sdk::Query;
using sdk::Record;
using sdk::RequestContext;
using sdk::Response;
using sdk::Scope;

using sdk::kNoPermission;

namespace {

Poco::JSON::Object::Ptr render(RequestContext& ctx, const Record& user) {
    auto json = ctx.serialize("user", user);
    json->set("type", "user");
    json->remove("otp_secret");
    return json;
}

Record findUser(RequestContext& ctx, Id id) {
    return ctx.findOrNotFound("user", id, "user id=" + std::to_string(id) + " is not found");
}

bool sameOrganization(RequestContext& ctx, const Record& user) {
    auto org = user.integer("organization_id");
    return org && *org == ctx.identity().organizationId;
}

/// Global scope; organization scope on a user of the caller's organization; own scope on oneself.
bool mayAct(RequestContext& ctx, const Record& user, Operation op) {
    auto scope = ctx.scope("user", op);
    if (!scope)
        return false;
    if (*scope == Scope::Global)
        return true;
    if (*scope >= Scope::Organization && sameOrganization(ctx, user))
        return true;
    return user.id == ctx.identity().id;
}

void requireHeld(RequestContext& ctx, const Record& rule) {
    auto key = ruleKeyOf(rule);
    if (!key || !ctx.holds(*key))
        throw Forbidden("You don't have the rule " + describeRule(rule));
}

/// Nobody acts on an account stronger than their own: editing, deleting or changing the roles of
/// another user needs every rule that user holds (the rule for handing out rules, applied to the
/// whole account), else changing its e-mail address and recovering it would hand it over.
void requireAtLeastAsStrong(RequestContext& ctx, const Record& user) {
    if (user.id == ctx.identity().id)
        return;
    auto source = ctx.services().find<sdk::RuleSource>(sdk::kRuleSourceService);
    if (!source)
        return;
    sdk::Identity target;
    target.kind = ClientKind::User;
    target.id = user.id;
    target.organizationId = user.integer("organization_id").value_or(0);
    for (const auto& rule : source->rulesOf(ctx.store(), target))
        if (!ctx.holds(rule))
            throw Forbidden("You don't have the rule (" + rule.resource + ", Scope." +
                            sdk::toString(rule.scope) + ", Operation." + sdk::toString(rule.operation) + ")");
}

bool taken(RequestContext& ctx, const std::string& column, const std::string& value, Id except = 0) {
    Query q;
    q.add(Condition::equal(column, value));
    for (const auto& row : ctx.store().select("user", q))
        if (row.id != except)
            return true;
    return false;
}

/// Roles to give to a user of `organization`: each must exist, be global or of that organization,
/// and hold only rules the caller holds.
std::vector<Id> checkedRoles(RequestContext& ctx, const std::vector<Id>& ids,
                             std::optional<Id> organization) {
    std::vector<Id> out;
    for (Id id : ids) {
        auto role = ctx.store().find("role", id);
        if (!role)
            throw NotFound("Role=" + std::to_string(id) + " can not be found!");
        for (const auto& rule : rulesOfRole(ctx.store(), id))
            requireHeld(ctx, rule);
        auto roleOrg = role->integer("organization_id");
        if (roleOrg && roleOrg != organization)
            throw Forbidden(
                "Role '" + role->text("name") + "' (id=" + std::to_string(id) +
                ") belongs to another organization than the user; give a global role or one of the "
                "user's own organization");
        if (std::find(out.begin(), out.end(), id) == out.end())
            out.push_back(id);
    }
    return out;
}

std::vector<Id> checkedRules(RequestContext& ctx, const std::vector<Id>& ids) {
    auto declared = ctx.services().declaredRules();
    std::vector<Id> out;
    for (Id id : ids) {
        auto rule = findDeclaredRule(ctx.store(), declared, id);
        if (!rule)
            throw NotFound("Rule=" + std::to_string(id) + " can not be found!");
        requireHeld(ctx, *rule);
        if (std::find(out.begin(), out.end(), id) == out.end())
            out.push_back(id);
    }
    return out;
}

// ---- /user ----

Response listUsers(RequestContext& ctx) {
    auto scope = ctx.require("user", Operation::View);
    Query base;
    if (scope < Scope::Global)
        base.add(Condition::equal("organization_id", ctx.identity().organizationId));
    return ctx.list("user", base, [&](const Record& user) { return Poco::Dynamic::Var(render(ctx, user)); });
}

Response createUser(RequestContext& ctx) {
    Scope scope = ctx.require("user", Operation::Create);
    JsonBody body(ctx.request());
    auto username = body.text("username", JsonBody::Need::Required);
    auto firstname = body.text("firstname", JsonBody::Need::Required);
    auto lastname = body.text("lastname", JsonBody::Need::Required);
    auto password = body.text("password", JsonBody::Need::Required);
    auto email = body.text("email", JsonBody::Need::Required);
    auto organization = body.id("organization_id");
    auto roles = body.ids("roles");
    auto rules = body.ids("rules");
    body.done();

    if (username->empty())
        throw BadRequest("username must not be empty");
    if (email->empty())
        throw BadRequest("email must not be empty");
    if (taken(ctx, "username", *username))
        throw BadRequest("username already exists.");
    if (taken(ctx, "email", *email))
        throw BadRequest("email already exists.");
    Id org = organization.value_or(ctx.identity().organizationId);
    if (org != ctx.identity().organizationId && scope != Scope::Global)
        throw Forbidden("You lack the permission to create users for another organization");
    if (!ctx.store().find("organization", org))
        throw NotFound("Organization id=" + std::to_string(org) + " not found");
    if (scope < Scope::Organization)
        throw Forbidden(kNoPermission);
    auto roleIds = checkedRoles(ctx, roles.value_or(std::vector<Id>{}), org);
    auto ruleIds = checkedRules(ctx, rules.value_or(std::vector<Id>{}));
    if (auto problem = passwordProblem(*password); !problem.empty())
        throw BadRequest(problem);
    // Checked; no session is held while bcrypt runs. A username or e-mail address taken meanwhile
    // is still refused, by the unique columns.
    ctx.commit();
    auto hash = ctx.services().passwords().hash(*password);

    Record user;
    user.set("username", *username)
        .set("firstname", *firstname)
        .set("lastname", *lastname)
        .set("email", *email)
        .set("organization_id", org)
        .set("password", hash);
    Id id = ctx.store().insert("user", user);
    ctx.store().setAssociated("user", id, "roles", roleIds);
    ctx.store().setAssociated("user", id, "rules", ruleIds);
    ctx.services().log().information("users: user '%s' (id %Ld) created by '%s'", *username, id,
                                     ctx.identity().name);
    return Response::json(render(ctx, *ctx.store().find("user", id)), 201);
}

// ---- /user/<id> ----

Response showUser(RequestContext& ctx) {
    auto user = findUser(ctx, ctx.request().idParam());
    auto scope = ctx.scope("user", Operation::View);
    bool allowed = user.id == ctx.identity().id ||
                   (scope && (*scope == Scope::Global ||
                              (*scope >= Scope::Organization && sameOrganization(ctx, user))));
    if (!allowed)
        throw Forbidden(kNoPermission);
    return Response::json(render(ctx, user));
}

/// Roles or rules being taken away: the caller must hold every rule that goes, too.
void requireHeldForRemoval(RequestContext& ctx, const std::vector<Id>& current, const std::vector<Id>& wanted,
                           bool roles) {
    for (Id id : current) {
        if (std::find(wanted.begin(), wanted.end(), id) != wanted.end())
            continue;
        if (roles) {
            for (const auto& rule : rulesOfRole(ctx.store(), id))
                requireHeld(ctx, rule);
        } else if (auto rule = ctx.store().find("rule", id)) {
            requireHeld(ctx, *rule);
        }
    }
}

Response editUser(RequestContext& ctx) {
    auto user = findUser(ctx, ctx.request().idParam());
    if (!mayAct(ctx, user, Operation::Edit))
        throw Forbidden(kNoPermission);
    requireAtLeastAsStrong(ctx, user);
    bool self = user.id == ctx.identity().id;

    JsonBody body(ctx.request());
    if (body.has("password"))
        throw BadRequest("You cannot change your password here! Use PATCH /password/change.");
    auto username = body.text("username");
    auto firstname = body.text("firstname");
    auto lastname = body.text("lastname");
    auto email = body.text("email");
    auto roles = body.ids("roles");
    auto rules = body.ids("rules");
    body.done();

    Record changes;
    if (username && *username != user.text("username")) {
        if (username->empty())
            throw BadRequest("username must not be empty");
        if (taken(ctx, "username", *username, user.id))
            throw BadRequest("User with that username already exists");
        if (!self)
            throw BadRequest("You cannot change the username of another user");
        changes.set("username", *username);
    }
    if (firstname)
        changes.set("firstname", *firstname);
    if (lastname)
        changes.set("lastname", *lastname);
    if (email && *email != user.text("email")) {
        if (email->empty())
            throw BadRequest("email must not be empty");
        if (taken(ctx, "email", *email, user.id))
            throw BadRequest("User with that email already exists");
        changes.set("email", *email);
    }
    if (roles) {
        if (self)
            throw Forbidden("You can't changes your own roles!");
        auto wanted = checkedRoles(ctx, *roles, user.integer("organization_id"));
        requireHeldForRemoval(ctx, ctx.store().associated("user", user.id, "roles"), wanted, true);
        ctx.store().setAssociated("user", user.id, "roles", wanted);
    }
    if (rules) {
        if (self)
            throw Forbidden("You can't change your own rules!");
        auto wanted = checkedRules(ctx, *rules);
        requireHeldForRemoval(ctx, ctx.store().associated("user", user.id, "rules"), wanted, false);
        ctx.store().setAssociated("user", user.id, "rules", wanted);
    }
    if (!changes.values.empty())
        ctx.store().update("user", user.id, changes);
    return Response::json(render(ctx, *ctx.store().find("user", user.id)));
}

Response deleteUser(RequestContext& ctx) {
    auto user = findUser(ctx, ctx.request().idParam());
    if (!mayAct(ctx, user, Operation::Delete))
        throw Forbidden(kNoPermission);
    requireAtLeastAsStrong(ctx, user);
    ctx.store().remove("user", user.id);
    ctx.services().log().information("users: user '%s' (id %Ld) deleted by '%s'", user.text("username"),
                                     user.id, ctx.identity().name);
    return Response::message("user id=" + std::to_string(user.id) + " is removed from the database");
}

} // namespace

void declareRoutes(sdk::Registry& registry) {
    using sdk::Method;
    const std::vector<ClientKind> users{ClientKind::User};
    auto route = [&](Method method, const char* path, sdk::Handler handler, const char* summary) {
        registry.route(sdk::RouteDecl{method, path, users, std::move(handler), summary, false});
    };
    route(Method::Get, "/user", listUsers, "Users the caller may see");
    route(Method::Post, "/user", createUser,
          "Create a user (roles and rules only as far as the caller holds them)");
    route(Method::Get, "/user/<id>", showUser, "One user");
    route(Method::Patch, "/user/<id>", editUser, "Edit a user, replace their roles or rules");
    route(Method::Delete, "/user/<id>", deleteUser, "Delete a user; their tokens stop working");
}

} // namespace dq::plugins::users
