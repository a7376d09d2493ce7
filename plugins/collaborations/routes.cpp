// The /collaboration routes and /organization/<id>/collaboration, as vantage6 3.x answers them,
// except that lacking permission is a 403.
#include "collaborations.h"

#include <algorithm>

namespace dq::plugins::collaborations {

using namespace dq::sdk;

namespace {

const char* const kMemberOf = "id IN (SELECT collaboration_id FROM member WHERE organization_id = ?)";
const char* const kMembersOf = "id IN (SELECT organization_id FROM member WHERE collaboration_id = ?)";

Record requireCollaboration(RequestContext& ctx, Id id) {
    return ctx.findOrNotFound("collaboration", id, "Collaboration id=" + std::to_string(id) + " not found!");
}

Record requireOrganization(RequestContext& ctx, Id id) {
    return ctx.findOrNotFound("organization", id, "Organization id=" + std::to_string(id) + " not found!");
}

/// GLOBAL sees every collaboration; any narrower scope only those the caller's organization is in.
void requireScopedAccess(RequestContext& ctx, const std::string& resource, Operation op, Id collaborationId) {
    auto scope = ctx.scope(resource, op);
    if (!scope || (*scope != Scope::Global && !ctx.memberOf(collaborationId)))
        throw Forbidden(kNoPermission);
}

/// Another plugin's model is only usable while that plugin is loaded; its rules tell whether it is.
bool resourceLoaded(RequestContext& ctx, const std::string& resource) {
    for (const auto& rule : ctx.services().declaredRules())
        if (rule.resource == resource)
            return true;
    return false;
}

Poco::JSON::Array::Ptr organizationsJson(RequestContext& ctx, Id collaborationId) {
    Poco::JSON::Array::Ptr out = new Poco::JSON::Array;
    for (const auto& org :
         ctx.store().select("organization", Query().add(Condition::raw(kMembersOf, {collaborationId}))))
        out->add(ctx.serialize("organization", org));
    return out;
}

/// NodeSchemaSimple of vantage6: the node without its collaboration, config as raw ids.
Poco::Dynamic::Var simpleNode(RequestContext& ctx, const Record& node) {
    auto json = ctx.serialize("node", node);
    json->remove("collaboration");
    json->remove("type");
    return json;
}

Poco::JSON::Array::Ptr nodesJson(RequestContext& ctx, Id collaborationId) {
    Poco::JSON::Array::Ptr out = new Poco::JSON::Array;
    for (const auto& node :
         ctx.store().select("node", Query().add(Condition::equal("collaboration_id", collaborationId))))
        out->add(simpleNode(ctx, node));
    return out;
}

bool nameTaken(RequestContext& ctx, const std::string& name, Id except) {
    for (const auto& c : ctx.store().select("collaboration", Query().add(Condition::equal("name", name))))
        if (c.id != except)
            return true;
    return false;
}

/// The ids without duplicates. vantage6 silently drops unknown ones; a typo would then leave an
/// organization out of the collaboration unnoticed, so an unknown id is a 400 naming it.
std::vector<Id> knownOrganizations(RequestContext& ctx, const std::vector<Id>& ids) {
    std::vector<Id> out;
    std::vector<std::string> unknown;
    for (Id id : ids) {
        if (std::find(out.begin(), out.end(), id) != out.end())
            continue;
        if (!ctx.store().find("organization", id))
            unknown.push_back(std::to_string(id));
        out.push_back(id);
    }
    if (!unknown.empty()) {
        std::string list;
        for (const auto& id : unknown)
            list += (list.empty() ? "" : ", ") + id;
        throw BadRequest("Organization id" + std::string(unknown.size() > 1 ? "s " : " ") + list +
                             (unknown.size() > 1 ? " do" : " does") + " not exist (organization_ids)",
                         {{"organization_ids", "unknown organization id " + list}});
    }
    return out;
}

Id bodyId(RequestContext& ctx) {
    JsonBody body(ctx.request());
    auto id = body.id("id", JsonBody::Need::Required);
    body.done();
    return *id;
}

} // namespace

// ---- /collaboration ----

Response listCollaborations(RequestContext& ctx) {
    auto scope = ctx.scope("collaboration", Operation::View);
    if (!scope)
        throw Forbidden(kNoPermission);
    Query base;
    if (*scope != Scope::Global) {
        const Id own = ctx.identity().organizationId;
        if (auto requested = ctx.request().query("organization_id");
            requested && *requested != std::to_string(own))
            throw Forbidden("You lack the permission to request collaborations for this organization!");
        base.add(Condition::raw(kMemberOf, {own}));
    }
    return ctx.list("collaboration", base);
}

Response createCollaboration(RequestContext& ctx) {
    JsonBody body(ctx.request());
    auto name = body.text("name", JsonBody::Need::Required);
    auto organizationIds = body.ids("organization_ids", JsonBody::Need::Required);
    auto encrypted = body.boolean("encrypted");
    body.done();

    // vantage6 checks the name before the permission.
    if (nameTaken(ctx, *name, 0))
        throw BadRequest("Collaboration name '" + *name + "' already exists!");
    ctx.require("collaboration", Operation::Create);
    auto members = knownOrganizations(ctx, *organizationIds);

    // vantage6 reads `encrypted == 1`, so a collaboration created over the API without the field
    // is not encrypted, although the column default is.
    Record record;
    record.set("name", *name).set("encrypted", encrypted.value_or(false));
    Id id = ctx.store().insert("collaboration", record);
    ctx.store().setAssociated("collaboration", id, "organizations", members);
    return Response::json(ctx.serialize("collaboration", *ctx.store().find("collaboration", id)));
}

Response getCollaboration(RequestContext& ctx) {
    auto collaboration = requireCollaboration(ctx, ctx.request().idParam());
    requireScopedAccess(ctx, "collaboration", Operation::View, collaboration.id);
    return Response::json(ctx.serialize("collaboration", collaboration));
}

Response patchCollaboration(RequestContext& ctx) {
    const Id id = ctx.request().idParam();
    if (!ctx.store().find("collaboration", id))
        throw NotFound("collaboration having collaboration_id=" + std::to_string(id) + " can not be found");
    if (ctx.scope("collaboration", Operation::Edit) != Scope::Global)
        throw Forbidden(kNoPermission);

    JsonBody body(ctx.request());
    auto name = body.text("name");
    auto organizationIds = body.ids("organization_ids");
    auto encrypted = body.boolean("encrypted");
    body.done();

    Record changes;
    if (name) {
        if (nameTaken(ctx, *name, id))
            throw BadRequest("Collaboration name '" + *name + "' already exists!");
        changes.set("name", *name);
    }
    if (encrypted)
        changes.set("encrypted", *encrypted);
    if (!changes.values.empty())
        ctx.store().update("collaboration", id, changes);
    if (organizationIds)
        ctx.store().setAssociated("collaboration", id, "organizations",
                                  knownOrganizations(ctx, *organizationIds));
    return Response::json(ctx.serialize("collaboration", *ctx.store().find("collaboration", id)));
}

Response deleteCollaboration(RequestContext& ctx) {
    auto collaboration = requireCollaboration(ctx, ctx.request().idParam());
    if (ctx.scope("collaboration", Operation::Delete) != Scope::Global)
        throw Forbidden(kNoPermission);
    // Nodes and tasks stay; the store sets their collaboration to null.
    ctx.store().remove("collaboration", collaboration.id);
    return Response::message("Collaboration id=" + std::to_string(collaboration.id) +
                             " successfully deleted");
}

// ---- /collaboration/<id>/organization ----

Response listMemberOrganizations(RequestContext& ctx) {
    auto collaboration = requireCollaboration(ctx, ctx.request().idParam());
    requireScopedAccess(ctx, "collaboration", Operation::View, collaboration.id);
    return ctx.list("organization", Query().add(Condition::raw(kMembersOf, {collaboration.id})));
}

Response addMemberOrganization(RequestContext& ctx) {
    auto collaboration = requireCollaboration(ctx, ctx.request().idParam());
    if (ctx.scope("collaboration", Operation::Edit) != Scope::Global)
        throw Forbidden(kNoPermission);
    auto organization = requireOrganization(ctx, bodyId(ctx));
    auto members = ctx.store().associated("collaboration", collaboration.id, "organizations");
    if (std::find(members.begin(), members.end(), organization.id) == members.end()) {
        members.push_back(organization.id);
        ctx.store().setAssociated("collaboration", collaboration.id, "organizations", members);
    }
    return Response::json(organizationsJson(ctx, collaboration.id));
}

Response removeMemberOrganization(RequestContext& ctx) {
    auto collaboration = requireCollaboration(ctx, ctx.request().idParam());
    auto organization = requireOrganization(ctx, bodyId(ctx));
    if (ctx.scope("collaboration", Operation::Delete) != Scope::Global)
        throw Forbidden(kNoPermission);
    auto members = ctx.store().associated("collaboration", collaboration.id, "organizations");
    members.erase(std::remove(members.begin(), members.end(), organization.id), members.end());
    ctx.store().setAssociated("collaboration", collaboration.id, "organizations", members);
    return Response::json(organizationsJson(ctx, collaboration.id));
}

// ---- /collaboration/<id>/node ----

namespace {

void requireNodesPlugin(RequestContext& ctx) {
    if (!resourceLoaded(ctx, "node"))
        throw NotFound("Nodes are not available on this server: the nodes plugin is not enabled "
                       "(add it to plugins.enabled in the server configuration)");
}

Record requireNode(RequestContext& ctx, Id id) {
    return ctx.findOrNotFound("node", id, "Node id=" + std::to_string(id) + " not found!");
}

} // namespace

Response listCollaborationNodes(RequestContext& ctx) {
    requireNodesPlugin(ctx);
    auto collaboration = requireCollaboration(ctx, ctx.request().idParam());
    requireScopedAccess(ctx, "collaboration", Operation::View, collaboration.id);
    return ctx.list("node", Query().add(Condition::equal("collaboration_id", collaboration.id)),
                    [&ctx](const Record& node) { return simpleNode(ctx, node); });
}

Response addCollaborationNode(RequestContext& ctx) {
    requireNodesPlugin(ctx);
    auto collaboration = requireCollaboration(ctx, ctx.request().idParam());
    if (ctx.scope("collaboration", Operation::Edit) != Scope::Global)
        throw Forbidden(kNoPermission);
    auto node = requireNode(ctx, bodyId(ctx));
    if (node.integer("collaboration_id") == collaboration.id)
        throw BadRequest("Node id=" + std::to_string(node.id) +
                         " is already in collaboration id=" + std::to_string(collaboration.id));
    // One node per organization and collaboration: answer it here rather than as a constraint error.
    auto organization = node.integer("organization_id");
    if (organization &&
        ctx.store().count("node", Query()
                                      .add(Condition::equal("organization_id", *organization))
                                      .add(Condition::equal("collaboration_id", collaboration.id))) > 0)
        throw BadRequest("Organization id=" + std::to_string(*organization) +
                         " already has a node in collaboration id=" + std::to_string(collaboration.id));
    ctx.store().update("node", node.id, Record().set("collaboration_id", collaboration.id));
    return Response::json(nodesJson(ctx, collaboration.id), 201);
}

Response removeCollaborationNode(RequestContext& ctx) {
    requireNodesPlugin(ctx);
    auto collaboration = requireCollaboration(ctx, ctx.request().idParam());
    if (ctx.scope("collaboration", Operation::Edit) != Scope::Global)
        throw Forbidden(kNoPermission);
    auto node = requireNode(ctx, bodyId(ctx));
    if (node.integer("collaboration_id") != collaboration.id)
        throw BadRequest("Node id=" + std::to_string(node.id) +
                         " is not part of collaboration id=" + std::to_string(collaboration.id));
    ctx.store().update("node", node.id, Record().set("collaboration_id", Value()));
    return Response::message("node id=" + std::to_string(node.id) +
                             " removed from collaboration id=" + std::to_string(collaboration.id));
}

// ---- /collaboration/<id>/task ----

Response listCollaborationTasks(RequestContext& ctx) {
    if (!resourceLoaded(ctx, "task"))
        throw NotFound("Tasks are not available on this server: the tasks plugin is not enabled "
                       "(add it to plugins.enabled in the server configuration)");
    auto collaboration = requireCollaboration(ctx, ctx.request().idParam());
    requireScopedAccess(ctx, "task", Operation::View, collaboration.id);
    Query base;
    base.add(Condition::equal("collaboration_id", collaboration.id));
    base.orderBy = {"-id"};
    // The tasks plugin's decorator adds status, complete and finished_at.
    return ctx.list("task", base);
}

// ---- /organization/<id>/collaboration ----

Response listOrganizationCollaborations(RequestContext& ctx) {
    auto organization = requireOrganization(ctx, ctx.request().idParam());
    auto scope = ctx.scope("collaboration", Operation::View);
    if (!scope || (*scope != Scope::Global && organization.id != ctx.identity().organizationId))
        throw Forbidden(kNoPermission);
    Poco::JSON::Array::Ptr out = new Poco::JSON::Array;
    for (const auto& c :
         ctx.store().select("collaboration", Query().add(Condition::raw(kMemberOf, {organization.id}))))
        out->add(ctx.serialize("collaboration", c));
    return Response::json(out);
}

} // namespace dq::plugins::collaborations
