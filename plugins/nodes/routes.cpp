// The /node routes, node login and API key recovery, as vantage6 3.x answers them, except that
// lacking permission is a 403 and the API key lookup goes through an index.
#include "nodes.h"

#include <algorithm>

namespace dq::plugins::nodes {

using namespace dq::sdk;

namespace {

Record requireNode(RequestContext& ctx, Id id) {
    return ctx.findOrNotFound("node", id, "Node id=" + std::to_string(id) + " is not found!");
}

Record requireOrganization(RequestContext& ctx, Id id) {
    return ctx.findOrNotFound("organization", id, "Organization id=" + std::to_string(id) + " not found!");
}

Record requireCollaboration(RequestContext& ctx, Id id) {
    return ctx.findOrNotFound("collaboration", id, "Collaboration id=" + std::to_string(id) + " not found!");
}

/// GLOBAL reaches every node; ORGANIZATION only the nodes of the caller's organization.
void requireNodeAccess(RequestContext& ctx, Operation op, const Record& node) {
    auto scope = ctx.scope("node", op);
    if (!scope)
        throw Forbidden(kNoPermission);
    if (*scope != Scope::Global && node.integer("organization_id") != ctx.identity().organizationId)
        throw Forbidden(kNoPermission);
}

/// A new api key makes its holder the node: for a node of another organization, that needs every
/// rule the node holds (nobody gains, through a node, what they could not do themselves).
void requireAtLeastAsStrong(RequestContext& ctx, const Record& node) {
    if (node.integer("organization_id") == ctx.identity().organizationId)
        return;
    auto source = ctx.services().find<RuleSource>(kRuleSourceService);
    if (!source)
        return;
    Identity asNode;
    asNode.kind = ClientKind::Node;
    asNode.id = node.id;
    asNode.organizationId = node.integer("organization_id").value_or(0);
    asNode.collaborationId = node.integer("collaboration_id");
    for (const auto& rule : source->rulesOf(ctx.store(), asNode))
        if (!ctx.holds(rule))
            throw Forbidden("You don't have the rule (" + rule.resource + ", Scope." + toString(rule.scope) +
                            ", Operation." + toString(rule.operation) + ") that node '" + node.text("name") +
                            "' of another organization holds; you cannot take over a node with permissions "
                            "you lack");
}

bool isMember(RequestContext& ctx, Id organizationId, Id collaborationId) {
    auto members = ctx.store().associated("collaboration", collaborationId, "organizations");
    return std::find(members.begin(), members.end(), organizationId) != members.end();
}

/// One node per organization and collaboration; `except` is the node being edited.
void requireNoOtherNode(RequestContext& ctx, Id organizationId, Id collaborationId, Id except) {
    for (const auto& other :
         ctx.store().select("node", Query()
                                        .add(Condition::equal("organization_id", organizationId))
                                        .add(Condition::equal("collaboration_id", collaborationId))))
        if (other.id != except)
            throw BadRequest("Organization id=" + std::to_string(organizationId) +
                             " already has a node (id=" + std::to_string(other.id) +
                             ") in collaboration id=" + std::to_string(collaborationId));
}

} // namespace

Poco::JSON::Object::Ptr nodeJson(RequestContext& ctx, const Record& node) {
    auto json = ctx.serialize("node", node);
    json->remove("api_key");
    json->remove("api_key_index");
    json->set("type", "node");
    Poco::JSON::Array::Ptr config = new Poco::JSON::Array;
    for (const auto& entry :
         ctx.store().select("nodeconfig", Query().add(Condition::equal("node_id", node.id)))) {
        Poco::JSON::Object::Ptr item = new Poco::JSON::Object;
        item->set("key", entry.get("key"));
        item->set("value", entry.get("value"));
        config->add(item);
    }
    json->set("config", config);
    return json;
}

Response listNodes(RequestContext& ctx) {
    auto scope = ctx.scope("node", Operation::View);
    if (!scope)
        throw Forbidden(kNoPermission);
    Query base;
    if (*scope != Scope::Global)
        base.add(Condition::equal("organization_id", ctx.identity().organizationId));
    return ctx.list("node", base, [&ctx](const Record& node) { return nodeJson(ctx, node); });
}

Response createNode(RequestContext& ctx, NodesState& state) {
    JsonBody body(ctx.request());
    auto collaborationId = body.id("collaboration_id", JsonBody::Need::Required);
    auto organizationId = body.id("organization_id");
    auto name = body.text("name");
    body.done();

    auto collaboration = requireCollaboration(ctx, *collaborationId);
    auto scope = ctx.scope("node", Operation::Create);
    const Id own = ctx.identity().organizationId;
    if (!scope || (*scope != Scope::Global && organizationId && *organizationId != own))
        throw Forbidden(kNoPermission);
    auto organization =
        requireOrganization(ctx, *scope == Scope::Global ? organizationId.value_or(own) : own);
    if (!isMember(ctx, organization.id, collaboration.id))
        throw BadRequest("Organization id=" + std::to_string(organization.id) +
                         " is not part of collaboration id=" + std::to_string(collaboration.id));
    requireNoOtherNode(ctx, organization.id, collaboration.id, 0);

    const std::string apiKey = newApiKey();
    // Checked; no session is held while bcrypt runs (a node created meanwhile is still refused by
    // the unique organization and collaboration pair).
    ctx.commit();
    Record record = apiKeyColumns(ctx.services().passwords(), state.pepper, apiKey);
    record
        .set("name", name.value_or(organization.text("name") + " - " + collaboration.text("name") + " Node"))
        .set("organization_id", organization.id)
        .set("collaboration_id", collaboration.id);
    Id id = ctx.store().insert("node", record);

    auto json = nodeJson(ctx, *ctx.store().find("node", id));
    // The only time the key is shown: only its hash is stored.
    json->set("api_key", apiKey);
    return Response::json(json, 201);
}

Response getNode(RequestContext& ctx) {
    auto node = requireNode(ctx, ctx.request().idParam());
    requireNodeAccess(ctx, Operation::View, node);
    return Response::json(nodeJson(ctx, node));
}

Response patchNode(RequestContext& ctx) {
    auto node = requireNode(ctx, ctx.request().idParam());
    requireNodeAccess(ctx, Operation::Edit, node);
    const bool global = ctx.scope("node", Operation::Edit) == Scope::Global;

    JsonBody body(ctx.request());
    auto name = body.text("name");
    auto organizationId = body.id("organization_id");
    auto collaborationId = body.id("collaboration_id");
    auto ip = body.text("ip");
    auto clearIp = body.boolean("clear_ip");
    body.done();

    Record changes;
    if (name)
        changes.set("name", *name);
    auto organization = node.integer("organization_id");
    auto collaboration = node.integer("collaboration_id");
    bool moved = false;
    if (organizationId && organizationId != organization) {
        if (!global)
            throw Forbidden("You lack the permission to move a node to another organization!");
        organization = requireOrganization(ctx, *organizationId).id;
        changes.set("organization_id", *organization);
        moved = true;
    }
    if (collaborationId && collaborationId != collaboration) {
        collaboration = requireCollaboration(ctx, *collaborationId).id;
        // vantage6 answers this with a message and status 200; it is a refused request.
        if (!global && !isMember(ctx, ctx.identity().organizationId, *collaboration))
            throw BadRequest("Organization id=" + std::to_string(ctx.identity().organizationId) +
                             " is not part of collaboration id=" + std::to_string(*collaboration));
        changes.set("collaboration_id", *collaboration);
        moved = true;
    }
    if (moved && organization && collaboration)
        requireNoOtherNode(ctx, *organization, *collaboration, node.id);
    if (ip)
        changes.set("ip", *ip);
    if (clearIp && *clearIp)
        changes.set("ip", Value());

    if (!changes.values.empty())
        ctx.store().update("node", node.id, changes);
    return Response::json(nodeJson(ctx, *ctx.store().find("node", node.id)));
}

Response deleteNode(RequestContext& ctx) {
    auto node = requireNode(ctx, ctx.request().idParam());
    requireNodeAccess(ctx, Operation::Delete, node);
    ctx.store().remove("node", node.id);
    return Response::message("Successfully deleted node id=" + std::to_string(node.id));
}

Response nodeLogin(RequestContext& ctx, NodesState& state) {
    JsonBody body(ctx.request());
    auto apiKey = body.text("api_key", JsonBody::Need::Required);
    body.done();

    auto node = nodeByApiKey(ctx, state.pepper, *apiKey);
    if (!node)
        throw Unauthorized("Api key is not recognized!");
    auto tokens = ctx.services().tokens().issue(ClientKind::Node, node->id, {},
                                                node->integer("credential_version").value_or(0));
    Poco::JSON::Object::Ptr out = new Poco::JSON::Object;
    out->set("access_token", tokens.accessToken);
    out->set("refresh_token", tokens.refreshToken);
    out->set("refresh_url", ctx.link("/token/refresh"));
    out->set("node_url", ctx.link("/node/" + std::to_string(node->id)));
    auto response = Response::json(out);
    response.headers["jwt-token"] = tokens.accessToken;
    return response;
}

Response resetApiKey(RequestContext& ctx, NodesState& state) {
    JsonBody body(ctx.request());
    auto id = body.id("id", JsonBody::Need::Required);
    body.done();

    auto node = requireNode(ctx, *id);
    requireNodeAccess(ctx, Operation::Edit, node);
    requireAtLeastAsStrong(ctx, node);
    const std::string apiKey = newApiKey();
    ctx.commit();
    auto columns = apiKeyColumns(ctx.services().passwords(), state.pepper, apiKey);
    if (!ctx.store().find("node", node.id))
        throw NotFound("Node id=" + std::to_string(node.id) + " is not found!");
    replaceApiKey(ctx.store(), node.id, columns);
    Poco::JSON::Object::Ptr out = new Poco::JSON::Object;
    out->set("api_key", apiKey);
    return Response::json(out);
}

Response listOrganizationNodes(RequestContext& ctx) {
    auto organization = requireOrganization(ctx, ctx.request().idParam());
    auto scope = ctx.scope("node", Operation::View);
    if (!scope || (*scope != Scope::Global && organization.id != ctx.identity().organizationId))
        throw Forbidden(kNoPermission);
    Poco::JSON::Array::Ptr out = new Poco::JSON::Array;
    for (const auto& node :
         ctx.store().select("node", Query().add(Condition::equal("organization_id", organization.id))))
        out->add(nodeJson(ctx, node));
    return Response::json(out);
}

} // namespace dq::plugins::nodes
