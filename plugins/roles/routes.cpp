// /role, /role/<id>, /role/<id>/rule[/<rule_id>], /rule, /rule/<id> (vantage6 §1.9; lacking
// permission is 403, removing a rule from a role is saved).
#include "roles.h"

#include <algorithm>

namespace dq::plugins::roles {

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

/// `column IN (ids)`, or a condition that matches nothing when there are no ids.
Condition idIn(const std::vector<Id>& ids, const std::string& column = "id") {
    if (ids.empty())
        return Condition::raw("1 = 0");
    return Condition::in(column, std::vector<sdk::Value>(ids.begin(), ids.end()));
}

Record findRole(RequestContext& ctx, Id id) {
    return ctx.findOrNotFound("role", id, "Role with id=" + std::to_string(id) + " not found.");
}

/// A rule row that a loaded plugin declares; the others do not exist as far as the API goes.
Record findRule(RequestContext& ctx, Id id) {
    auto declared = declaredRuleIds(ctx.store(), ctx.services().declaredRules());
    auto rule = ctx.store().find("rule", id);
    if (!rule || std::find(declared.begin(), declared.end(), id) == declared.end())
        throw NotFound("Rule id=" + std::to_string(id) + " not found.");
    return *rule;
}

std::vector<Id> ownRoleIds(RequestContext& ctx) {
    return ctx.store().associated("user", ctx.identity().id, "roles");
}

bool ofOwnOrganization(RequestContext& ctx, const Record& role) {
    auto org = role.integer("organization_id");
    return org && *org == ctx.identity().organizationId;
}

/// No escalation: nobody hands out a rule they do not hold themselves.
void requireHeld(RequestContext& ctx, const Record& rule) {
    auto key = ruleKeyOf(rule);
    if (!key || !ctx.holds(*key))
        throw Forbidden("You don't have the rule " + describeRule(rule));
}

bool maySee(RequestContext& ctx, const Record& role) {
    auto scope = ctx.scope("role", Operation::View);
    if (scope && *scope == Scope::Global)
        return true;
    auto own = ownRoleIds(ctx);
    if (std::find(own.begin(), own.end(), role.id) != own.end())
        return true;
    // The list shows organization-scoped viewers the global roles too, so the role itself may be read.
    return scope && *scope >= Scope::Organization &&
           (ofOwnOrganization(ctx, role) || role.isNull("organization_id"));
}

/// Global scope, or organization scope on a role of the caller's own organization.
void requireOnRole(RequestContext& ctx, const Record& role, Operation op) {
    auto scope = ctx.scope("role", op);
    if (scope && (*scope == Scope::Global || (*scope >= Scope::Organization && ofOwnOrganization(ctx, role))))
        return;
    throw Forbidden(kNoPermission);
}

void refuseDefaultRole(const Record& role, const std::string& what) {
    if (isDefaultRole(role.text("name")) && role.isNull("organization_id"))
        throw sdk::BadRequest("Role '" + role.text("name") + "' is a default role: it cannot be " + what +
                              ". Create a role of your own instead.");
}

void refuseReservedName(const std::string& name) {
    if (isDefaultRole(name))
        throw sdk::BadRequest("The role name '" + name +
                              "' is reserved for a default role; choose another name");
    if (name.empty())
        throw sdk::BadRequest("The role name must not be empty");
}

std::vector<Id> heldRuleIds(RequestContext& ctx, const std::vector<Id>& ids) {
    std::vector<Id> out;
    for (Id id : ids) {
        requireHeld(ctx, findRule(ctx, id));
        if (std::find(out.begin(), out.end(), id) == out.end())
            out.push_back(id);
    }
    return out;
}

Poco::JSON::Array::Ptr rulesOfRole(RequestContext& ctx, Id role) {
    Query q;
    q.add(idIn(ctx.store().associated("role", role, "rules")))
        .add(idIn(declaredRuleIds(ctx.store(), ctx.services().declaredRules())));
    Poco::JSON::Array::Ptr out = new Poco::JSON::Array;
    for (const auto& rule : ctx.store().select("rule", q))
        out->add(ctx.serialize("rule", rule));
    return out;
}

// ---- /role ----

Response listRoles(RequestContext& ctx) {
    Query base;
    auto scope = ctx.scope("role", Operation::View);
    if (!scope || *scope < Scope::Organization) {
        base.add(idIn(ownRoleIds(ctx)));
    } else if (*scope < Scope::Global) {
        std::string sql = "(organization_id = ? OR organization_id IS NULL";
        std::vector<sdk::Value> params{ctx.identity().organizationId};
        for (Id id : ownRoleIds(ctx)) {
            sql += " OR id = ?";
            params.push_back(id);
        }
        base.add(Condition::raw(sql + ")", params));
    }

    auto orgs = ctx.request().queryIds("organization_id");
    if (!orgs.empty()) {
        std::string sql = "(organization_id IN (";
        std::vector<sdk::Value> params;
        for (Id id : orgs) {
            sql += params.empty() ? "?" : ", ?";
            params.push_back(id);
        }
        sql += ")";
        auto root = ctx.request().query("include_root");
        if (root && !root->empty())
            sql += " OR organization_id IS NULL";
        base.add(Condition::raw(sql + ")", params));
    }
    return ctx.list("role", base);
}

Response createRole(RequestContext& ctx) {
    Scope scope = ctx.require("role", Operation::Create);
    JsonBody body(ctx.request());
    auto name = body.text("name", JsonBody::Need::Required);
    auto description = body.text("description", JsonBody::Need::Required);
    auto rules = body.ids("rules");
    auto organization = body.id("organization_id");
    body.done();

    refuseReservedName(*name);
    auto ruleIds = heldRuleIds(ctx, rules.value_or(std::vector<Id>{}));
    Id org = organization.value_or(ctx.identity().organizationId);
    if (!ctx.store().find("organization", org))
        throw NotFound("Organization id=" + std::to_string(org) + " not found.");
    if (org != ctx.identity().organizationId && scope != Scope::Global)
        throw Forbidden("You lack the permission to create roles for another organization");
    if (scope < Scope::Organization)
        throw Forbidden(kNoPermission);

    Record role;
    role.set("name", *name).set("description", *description).set("organization_id", org);
    Id id = ctx.store().insert("role", role);
    ctx.store().setAssociated("role", id, "rules", ruleIds);
    return Response::json(ctx.serialize("role", *ctx.store().find("role", id)), 201);
}

// ---- /role/<id> ----

Response showRole(RequestContext& ctx) {
    auto role = findRole(ctx, ctx.request().idParam());
    if (!maySee(ctx, role))
        throw Forbidden(kNoPermission);
    return Response::json(ctx.serialize("role", role));
}

Response editRole(RequestContext& ctx) {
    auto role = findRole(ctx, ctx.request().idParam());
    requireOnRole(ctx, role, Operation::Edit);
    refuseDefaultRole(role, "edited");
    JsonBody body(ctx.request());
    auto name = body.text("name");
    auto description = body.text("description");
    auto rules = body.ids("rules");
    body.done();

    Record changes;
    if (name) {
        refuseReservedName(*name);
        changes.set("name", *name);
    }
    if (description)
        changes.set("description", *description);
    if (rules)
        ctx.store().setAssociated("role", role.id, "rules", heldRuleIds(ctx, *rules));
    if (!changes.values.empty())
        ctx.store().update("role", role.id, changes);
    return Response::json(ctx.serialize("role", *ctx.store().find("role", role.id)));
}

Response deleteRole(RequestContext& ctx) {
    auto role = findRole(ctx, ctx.request().idParam());
    requireOnRole(ctx, role, Operation::Delete);
    refuseDefaultRole(role, "deleted");
    ctx.store().remove("role", role.id);
    return Response::message("Role removed from the database.");
}

// ---- /role/<id>/rule ----

Response listRoleRules(RequestContext& ctx) {
    auto role = findRole(ctx, ctx.request().idParam());
    if (!maySee(ctx, role))
        throw Forbidden(kNoPermission);
    Query base;
    base.add(idIn(ctx.store().associated("role", role.id, "rules")))
        .add(idIn(declaredRuleIds(ctx.store(), ctx.services().declaredRules())));
    return ctx.list("rule", base);
}

Response addRoleRule(RequestContext& ctx) {
    auto role = findRole(ctx, ctx.request().idParam());
    auto rule = findRule(ctx, ctx.request().idParam("rule_id"));
    requireOnRole(ctx, role, Operation::Edit);
    refuseDefaultRole(role, "edited");
    requireHeld(ctx, rule);
    auto ids = ctx.store().associated("role", role.id, "rules");
    if (std::find(ids.begin(), ids.end(), rule.id) == ids.end()) {
        ids.push_back(rule.id);
        ctx.store().setAssociated("role", role.id, "rules", ids);
    }
    return Response::json(rulesOfRole(ctx, role.id), 201);
}

Response removeRoleRule(RequestContext& ctx) {
    auto role = findRole(ctx, ctx.request().idParam());
    auto rule = findRule(ctx, ctx.request().idParam("rule_id"));
    requireOnRole(ctx, role, Operation::Delete);
    refuseDefaultRole(role, "edited");
    requireHeld(ctx, rule);
    auto ids = ctx.store().associated("role", role.id, "rules");
    auto it = std::find(ids.begin(), ids.end(), rule.id);
    if (it == ids.end())
        throw NotFound("Rule id=" + std::to_string(rule.id) +
                       " is not part of role id=" + std::to_string(role.id));
    ids.erase(it);
    ctx.store().setAssociated("role", role.id, "rules", ids);
    return Response::json(rulesOfRole(ctx, role.id));
}

// ---- /rule ----

Response listRules(RequestContext& ctx) {
    Query base;
    base.add(idIn(declaredRuleIds(ctx.store(), ctx.services().declaredRules())));
    return ctx.list("rule", base);
}

Response showRule(RequestContext& ctx) {
    Id id = ctx.request().idParam();
    auto declared = declaredRuleIds(ctx.store(), ctx.services().declaredRules());
    auto rule = ctx.store().find("rule", id);
    if (!rule || std::find(declared.begin(), declared.end(), id) == declared.end())
        throw NotFound("Rule id=" + std::to_string(id) + " not found!");
    return Response::json(ctx.serialize("rule", *rule));
}

} // namespace

void declareRoutes(sdk::Registry& registry) {
    using sdk::Method;
    const std::vector<ClientKind> users{ClientKind::User};
    auto route = [&](Method method, const char* path, sdk::Handler handler, const char* summary) {
        registry.route(sdk::RouteDecl{method, path, users, std::move(handler), summary, false});
    };
    route(Method::Get, "/role", listRoles, "Roles the caller may see");
    route(Method::Post, "/role", createRole, "Create a role (only with rules the caller holds)");
    route(Method::Get, "/role/<id>", showRole, "One role");
    route(Method::Patch, "/role/<id>", editRole, "Rename a role or replace its rules");
    route(Method::Delete, "/role/<id>", deleteRole, "Delete a role");
    route(Method::Get, "/role/<id>/rule", listRoleRules, "The rules of a role");
    route(Method::Post, "/role/<id>/rule/<rule_id>", addRoleRule, "Add a rule to a role");
    route(Method::Delete, "/role/<id>/rule/<rule_id>", removeRoleRule, "Remove a rule from a role");
    route(Method::Get, "/rule", listRules, "The rules of the loaded plugins");
    route(Method::Get, "/rule/<id>", showRule, "One rule");

    // For the API description: the rules of the routes below a role, which the kernel cannot infer.
    registry.document(
        {Method::Get,
         "/role/<id>/rule",
         "The caller's own roles need no rule.",
         {{"role", Scope::Global, Operation::View}, {"role", Scope::Organization, Operation::View}}});
    registry.document(
        {Method::Post,
         "/role/<id>/rule/<rule_id>",
         "ORGANIZATION scope: roles of the caller's organization. The rule added must be one the "
         "caller holds.",
         {{"role", Scope::Global, Operation::Edit}, {"role", Scope::Organization, Operation::Edit}}});
    registry.document(
        {Method::Delete,
         "/role/<id>/rule/<rule_id>",
         "ORGANIZATION scope: roles of the caller's organization.",
         {{"role", Scope::Global, Operation::Delete}, {"role", Scope::Organization, Operation::Delete}}});
}

} // namespace dq::plugins::roles
