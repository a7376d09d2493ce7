// `vserver node list|create|reset-key`: nodes on the configured database. API keys are printed
// once, when they are made; only their hash is stored.
#include "nodes.h"

#include <Poco/NumberParser.h>
#include <algorithm>
#include <iomanip>
#include <ostream>
#include <stdexcept>

namespace dq::plugins::nodes {

using namespace dq::sdk;

namespace {

Id parseId(const std::string& text, const std::string& what) {
    Poco::Int64 id = 0;
    if (!Poco::NumberParser::tryParse64(text, id) || id <= 0)
        throw std::invalid_argument(what + ": expected a positive integer id, got '" + text + "'");
    return id;
}

std::string idOrDash(const std::optional<Id>& id) {
    return id ? std::to_string(*id) : "-";
}

void printKey(CommandContext& ctx, const std::string& apiKey) {
    ctx.out() << "API key: " << apiKey << "\n"
              << "This key is shown only now: put it in the node's configuration (api_key). "
                 "Lost keys can be replaced with `vserver node reset-key`.\n";
}

} // namespace

int listCommand(CommandContext& ctx) {
    auto nodes = ctx.store().select("node");
    auto& out = ctx.out();
    out << std::left << std::setw(6) << "ID" << std::setw(40) << "NAME" << std::setw(14) << "ORGANIZATION"
        << std::setw(15) << "COLLABORATION" << std::setw(9) << "STATUS"
        << "LAST SEEN\n";
    for (const auto& n : nodes)
        out << std::setw(6) << n.id << std::setw(40) << n.text("name") << std::setw(14)
            << idOrDash(n.integer("organization_id")) << std::setw(15)
            << idOrDash(n.integer("collaboration_id")) << std::setw(9) << n.text("status", "-")
            << n.text("last_seen", "-") << "\n";
    out << nodes.size() << " node(s)\n";
    return 0;
}

int createCommand(CommandContext& ctx) {
    auto& store = ctx.store();
    const Id organizationId =
        parseId(ctx.option("organization-id").value_or(""), "node create: --organization-id");
    const Id collaborationId =
        parseId(ctx.option("collaboration-id").value_or(""), "node create: --collaboration-id");
    auto organization = store.find("organization", organizationId);
    if (!organization)
        throw std::invalid_argument("node create: no organization with id " + std::to_string(organizationId) +
                                    " (see `vserver organization list`)");
    auto collaboration = store.find("collaboration", collaborationId);
    if (!collaboration)
        throw std::invalid_argument("node create: no collaboration with id " +
                                    std::to_string(collaborationId) + " (see `vserver collaboration list`)");
    auto members = store.associated("collaboration", collaborationId, "organizations");
    if (std::find(members.begin(), members.end(), organizationId) == members.end())
        throw std::invalid_argument("node create: organization " + std::to_string(organizationId) +
                                    " is not a member of collaboration " + std::to_string(collaborationId) +
                                    " (add it first: PATCH /api/collaboration/<id> or POST "
                                    "/api/collaboration/<id>/organization)");
    if (store.count("node", Query()
                                .add(Condition::equal("organization_id", organizationId))
                                .add(Condition::equal("collaboration_id", collaborationId))) > 0)
        throw std::invalid_argument("node create: organization " + std::to_string(organizationId) +
                                    " already has a node in collaboration " +
                                    std::to_string(collaborationId) +
                                    " (use `vserver node reset-key` for a new key)");

    const std::string apiKey = ctx.option("api-key").value_or(newApiKey());
    if (apiKey.empty())
        throw std::invalid_argument("node create: --api-key must not be empty");
    const std::string name = ctx.option("node-name").value_or(organization->text("name") + " - " +
                                                         collaboration->text("name") + " Node");
    Record record = apiKeyColumns(ctx.services().passwords(), pepperFrom(ctx.services()), apiKey);
    record.set("name", name).set("organization_id", organizationId).set("collaboration_id", collaborationId);
    Id id = store.insert("node", record);
    ctx.out() << "Created node " << id << " '" << name << "' (organization " << organizationId
              << ", collaboration " << collaborationId << ").\n";
    printKey(ctx, apiKey);
    return 0;
}

int resetKeyCommand(CommandContext& ctx) {
    if (ctx.arguments().size() != 1)
        throw std::invalid_argument(
            "node reset-key: expected exactly one node id, e.g. `vserver node reset-key 3`");
    const Id id = parseId(ctx.arguments()[0], "node reset-key");
    if (!ctx.store().find("node", id))
        throw std::invalid_argument("node reset-key: no node with id " + std::to_string(id) +
                                    " (see `vserver node list`)");
    const std::string apiKey = newApiKey();
    replaceApiKey(ctx.store(), id,
                  apiKeyColumns(ctx.services().passwords(), pepperFrom(ctx.services()), apiKey));
    ctx.out() << "Node " << id << " has a new API key; the old one no longer works.\n";
    printKey(ctx, apiKey);
    return 0;
}

} // namespace dq::plugins::nodes
