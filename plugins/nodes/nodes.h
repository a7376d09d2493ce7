// Internal declarations of the nodes plugin: API keys, the node identity, route handlers and CLI
// commands that the entry file wires together.
#pragma once

#include <dq/sdk/plugin.h>
#include <memory>
#include <string>

namespace dq::plugins::nodes {

/// The pepper used when no `api_key_pepper` setting is configured. Changing the pepper orphans the
/// stored lookup indexes: every node then needs a new key (`vserver node reset-key`).
inline constexpr const char* kDefaultPepper = "dataquality-server/nodes/api-key-index/v1";

/// What handlers share with the plugin: set in start(), before any request or writer runs.
struct NodesState {
    std::string pepper = kDefaultPepper;
    sdk::Services* services = nullptr;
};

// ---- API keys (api_key.cpp) ----

/// A fresh key: a random UUID, as vantage6 hands out.
std::string newApiKey();
/// First 16 hex characters of HMAC-SHA256(pepper, key): a fast lookup that does not reveal the key.
std::string apiKeyIndex(const std::string& pepper, const std::string& apiKey);
/// The columns that store a key: bcrypt hash and lookup index.
sdk::Record apiKeyColumns(sdk::Passwords& passwords, const std::string& pepper, const std::string& apiKey);
/// Stores new key columns and raises the node's credential version: tokens of the old key end.
void replaceApiKey(sdk::Store& store, sdk::Id node, const sdk::Record& columns);
/// The node holding `apiKey`, or nullopt. Only nodes with the key's index (or none) are bcrypt-checked,
/// after the request's transaction is committed (no session is held while bcrypt runs).
std::optional<sdk::Record> nodeByApiKey(sdk::RequestContext& ctx, const std::string& pepper,
                                        const std::string& apiKey);
/// The pepper from the plugin's settings, or the default.
std::string pepperFrom(sdk::Services& services);

// ---- Identity (node_identity.cpp) ----

class NodeIdentity : public sdk::IdentityProvider {
public:
    std::optional<sdk::Identity> resolve(sdk::Store& store, sdk::Id id) override;
    void touch(sdk::Store& store, sdk::Id id) override;
};

// ---- Routes (routes.cpp) ----

/// NodeSchema of vantage6: the serializer's JSON plus type "node" and config as key/value objects.
Poco::JSON::Object::Ptr nodeJson(sdk::RequestContext& ctx, const sdk::Record& node);

sdk::Response listNodes(sdk::RequestContext& ctx);
sdk::Response createNode(sdk::RequestContext& ctx, NodesState& state);
sdk::Response getNode(sdk::RequestContext& ctx);
sdk::Response patchNode(sdk::RequestContext& ctx);
sdk::Response deleteNode(sdk::RequestContext& ctx);
sdk::Response nodeLogin(sdk::RequestContext& ctx, NodesState& state);
sdk::Response resetApiKey(sdk::RequestContext& ctx, NodesState& state);
sdk::Response listOrganizationNodes(sdk::RequestContext& ctx);

// ---- `participants:` of each collaboration in `vserver import` (import_section.cpp) ----
void declareImportSection(sdk::Registry& registry, const std::shared_ptr<NodesState>& state);

// ---- Commands (commands.cpp) ----

int listCommand(sdk::CommandContext& ctx);
int createCommand(sdk::CommandContext& ctx);
int resetKeyCommand(sdk::CommandContext& ctx);

} // namespace dq::plugins::nodes
