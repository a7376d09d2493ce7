// Routes of /organization: list, create, view, edit. Scopes: GLOBAL sees all, COLLABORATION sees
// the organizations sharing a collaboration with yours, ORGANIZATION only your own.
#include "organizations.h"

#include <algorithm>

namespace dq::plugins::organizations {

using sdk::ClientKind;
using sdk::Id;
using sdk::Operation;
using sdk::Scope;

namespace {

/// The organizations the caller may see at `scope`; nullopt means all of them.
std::optional<std::vector<Id>> visibleOrganizations(sdk::RequestContext& ctx, Scope scope) {
    if (scope == Scope::Global)
        return std::nullopt;
    std::vector<Id> ids{ctx.identity().organizationId};
    if (scope == Scope::Collaboration) {
        // Without the collaborations plugin there is no membership, so this adds nothing.
        if (auto membership = ctx.services().find<sdk::Membership>(sdk::kMembershipService))
            for (Id collaboration : ctx.ownCollaborations())
                for (Id org : membership->organizationsOf(ctx.store(), collaboration))
                    ids.push_back(org);
    }
    return ids;
}

bool canSee(sdk::RequestContext& ctx, Id organization) {
    auto scope = ctx.scope(kResource, Operation::View);
    if (!scope)
        return false;
    auto visible = visibleOrganizations(ctx, *scope);
    return !visible || std::find(visible->begin(), visible->end(), organization) != visible->end();
}

sdk::Record findOrThrow(sdk::RequestContext& ctx, Id id) {
    return ctx.findOrNotFound(kModel, id, "Organization id=" + std::to_string(id) + " not found!");
}

/// Reads the editable fields from the body: every one on create (default ""), only those sent on edit.
sdk::Record readFields(sdk::RequestContext& ctx, bool creating) {
    sdk::JsonBody body(ctx.request());
    sdk::Record fields;
    for (const auto& name : kEditableFields) {
        auto value = body.text(name);
        if (value)
            fields.set(name, *value);
        else if (creating)
            fields.set(name, std::string());
    }
    body.done();
    return fields;
}

sdk::Response list(sdk::RequestContext& ctx) {
    auto scope = ctx.require(kResource, Operation::View);
    sdk::Query base;
    if (auto visible = visibleOrganizations(ctx, scope)) {
        std::vector<sdk::Value> ids(visible->begin(), visible->end());
        base.add(sdk::Condition::in("id", ids));
    }
    return ctx.list(kModel, base);
}

sdk::Response create(sdk::RequestContext& ctx) {
    if (!ctx.holds({kResource, Scope::Global, Operation::Create}))
        throw sdk::Forbidden(sdk::kNoPermission);
    auto fields = readFields(ctx, true);
    fields.id = ctx.store().insert(kModel, fields);
    return sdk::Response::json(ctx.serialize(kModel, *ctx.store().find(kModel, fields.id)), 201);
}

sdk::Response view(sdk::RequestContext& ctx) {
    auto record = findOrThrow(ctx, ctx.request().idParam());
    if (!canSee(ctx, record.id))
        throw sdk::Forbidden(sdk::kNoPermission);
    return sdk::Response::json(ctx.serialize(kModel, record));
}

sdk::Response edit(sdk::RequestContext& ctx) {
    auto record = findOrThrow(ctx, ctx.request().idParam());
    auto scope = ctx.scope(kResource, Operation::Edit);
    bool allowed = scope == Scope::Global ||
                   (scope == Scope::Organization && record.id == ctx.identity().organizationId);
    if (!allowed)
        throw sdk::Forbidden(sdk::kNoPermission);
    auto changes = readFields(ctx, false);
    if (!changes.values.empty())
        ctx.store().update(kModel, record.id, changes);
    return sdk::Response::json(ctx.serialize(kModel, *ctx.store().find(kModel, record.id)));
}

} // namespace

void declareRoutes(sdk::Registry& registry) {
    const std::vector<ClientKind> anyone{ClientKind::User, ClientKind::Node, ClientKind::Container};
    registry.route({sdk::Method::Get, "/organization", anyone, list, "List organizations"});
    registry.route(
        {sdk::Method::Post, "/organization", {ClientKind::User}, create, "Create an organization"});
    registry.route({sdk::Method::Get, "/organization/<id>", anyone, view, "View an organization"});
    registry.route({sdk::Method::Patch,
                    "/organization/<id>",
                    {ClientKind::User, ClientKind::Node},
                    edit,
                    "Edit an organization (nodes upload their public key here)"});

    std::vector<sdk::ApiField> fields;
    for (const auto& name : kEditableFields)
        fields.push_back({name, sdk::ApiField::Type::Text});
    sdk::RouteDoc create{sdk::Method::Post, "/organization"};
    create.body = fields;
    registry.document(create);
    sdk::RouteDoc edit{sdk::Method::Patch, "/organization/<id>"};
    edit.body = fields;
    edit.description = "Only the fields sent change. `public_key` is the node's public key, base64-encoded.";
    registry.document(edit);
}

} // namespace dq::plugins::organizations
