// The nodes plugin: one node per organization and collaboration, which logs in with an API key,
// fetches tasks and posts results. It owns the node and nodeconfig models and node identities.
#include "nodes.h"

#include <dq/sdk/plugin.h>
#include <stdexcept>

namespace dq::plugins::nodes {

using namespace dq::sdk;

namespace {

Field field(std::string name, std::string description, FieldType type = FieldType::Text,
            std::size_t maxLength = 0) {
    Field f;
    f.name = std::move(name);
    f.type = type;
    f.description = std::move(description);
    f.maxLength = maxLength;
    return f;
}

Field secretField(std::string name, std::string description) {
    Field f = field(std::move(name), std::move(description));
    f.secret = true;
    return f;
}

} // namespace

class NodesPlugin : public Plugin {
public:
    PluginInfo info() const override {
        return {"nodes",
                kServerVersion,
                "Nodes (/node), node login (/token/node) and API key recovery",
                {"organizations", "collaborations"}};
    }

    void declare(Registry& registry) override {
        // ---- Models ----
        // Batch import and the admin shell hand over clear-text keys; store them as the routes do.
        Field apiKey = secretField("api_key", "bcrypt hash of the API key");
        apiKey.writer = [state = state_](Record& record, const std::string& clearText) {
            if (!state->services)
                throw std::logic_error("nodes plugin: an api_key was written before the plugin started");
            for (auto& [column, value] :
                 apiKeyColumns(state->services->passwords(), state->pepper, clearText).values)
                record.set(column, value);
        };
        registry.model(
            ModelDecl("node")
                .resource("/node")
                .description("The server-side record of a node: one per organization and collaboration")
                .field(field("name", "", FieldType::Text, 128))
                .field(apiKey)
                .field(secretField("api_key_index",
                                   "HMAC-SHA256 prefix of the API key, to find the node at login"))
                .field(field("status", "online or offline", FieldType::Text, 32))
                .field(field("ip", "the node's VPN address", FieldType::Text, 64))
                .field(
                    {"last_seen", FieldType::DateTime, true, false, false, {}, "last authenticated request"})
                .field({"credential_version", FieldType::Integer, true, false, true, Poco::Int64(0),
                        "raised when the api key is replaced: tokens of the old key are refused"})
                .reference({.name = "organization", .target = "organization", .backref = "nodes"})
                .reference({.name = "collaboration", .target = "collaboration", .backref = "nodes"})
                .uniqueTogether({"organization_id", "collaboration_id"}));
        registry.model(
            ModelDecl("nodeconfig")
                .description("Configuration a node reports when it connects (allowed algorithms, ...)")
                .field(field("key", ""))
                .field(field("value", ""))
                .reference({.name = "node",
                            .target = "node",
                            .backref = "config",
                            .backrefStyle = RelationStyle::Id,
                            .onDelete = OnDelete::Cascade}));

        // ---- Rules (vantage6 §5, in its order) ----
        registry.rule({"node", Scope::Global, Operation::View, "View all nodes"});
        registry.rule({"node", Scope::Organization, Operation::View, "View the nodes of your organization",
                       true, true});
        registry.rule({"node", Scope::Global, Operation::Edit, "Edit any node and reset its API key"});
        registry.rule({"node", Scope::Organization, Operation::Edit,
                       "Edit the nodes of your organization and reset their API keys", true});
        registry.rule({"node", Scope::Global, Operation::Create, "Create nodes for any organization"});
        registry.rule({"node", Scope::Organization, Operation::Create, "Create nodes for your organization"});
        registry.rule({"node", Scope::Global, Operation::Delete, "Delete any node"});
        registry.rule(
            {"node", Scope::Organization, Operation::Delete, "Delete the nodes of your organization"});

        // ---- Filters ----
        registry.filter("node", {"organization_id", FilterDecl::Kind::Equal, "", ""});
        registry.filter("node", {"collaboration_id", FilterDecl::Kind::Equal, "", ""});
        registry.filter("node", {"status", FilterDecl::Kind::Equal, "", ""});
        registry.filter("node", {"ip", FilterDecl::Kind::Equal, "", ""});
        registry.filter("node", {"name", FilterDecl::Kind::Like, "", ""});
        registry.filter("node", {"last_seen_from", FilterDecl::Kind::From, "last_seen", ""});
        registry.filter("node", {"last_seen_till", FilterDecl::Kind::Till, "last_seen", ""});

        // ---- Settings ----
        registry.setting({"api_key_pepper", SettingDecl::Type::Text, kDefaultPepper,
                          "Secret mixed into the API key lookup index; changing it requires new keys for all "
                          "nodes (vserver node reset-key)",
                          "", nullptr, false});

        // ---- Routes ----
        auto state = state_;
        const std::vector<ClientKind> user{ClientKind::User};
        const std::vector<ClientKind> userNode{ClientKind::User, ClientKind::Node};
        registry.route({Method::Get, "/node", userNode, listNodes, "List nodes"});
        registry.route({Method::Post, "/node", user,
                        [state](RequestContext& ctx) { return createNode(ctx, *state); },
                        "Create a node; the answer holds its API key, once"});
        registry.route({Method::Get, "/node/<id>", userNode, getNode, "Show a node"});
        registry.route({Method::Patch, "/node/<id>", userNode, patchNode, "Edit a node"});
        registry.route({Method::Delete, "/node/<id>", user, deleteNode, "Delete a node"});
        registry.route({Method::Post,
                        "/token/node",
                        {},
                        [state](RequestContext& ctx) { return nodeLogin(ctx, *state); },
                        "Node login with its API key"});
        sdk::RouteDoc login{Method::Post, "/token/node"};
        login.noRule = true;
        login.body = {{"api_key", sdk::ApiField::Type::Text, true}};
        registry.document(login);
        registry.route({Method::Post, "/recover/node", user,
                        [state](RequestContext& ctx) { return resetApiKey(ctx, *state); },
                        "Give a node a new API key"});
        registry.route({Method::Get, "/organization/<id>/node", userNode, listOrganizationNodes,
                        "List the nodes of an organization"});

        // For the API description: rules the kernel cannot infer from these paths.
        registry.document(
            {Method::Post,
             "/recover/node",
             "ORGANIZATION scope: nodes of the caller's organization. A node of another "
             "organization also needs every rule a node holds.",
             {{"node", Scope::Global, Operation::Edit}, {"node", Scope::Organization, Operation::Edit}},
             false,
             {{"id", ApiField::Type::Integer, true, "the node's id"}}});
        registry.document(
            {Method::Get,
             "/organization/<id>/node",
             "",
             {{"node", Scope::Global, Operation::View}, {"node", Scope::Organization, Operation::View}}});

        // ---- Commands ----
        registry.command({{"node", "list"}, "List all nodes", {}, "", listCommand});
        registry.command({{"node", "create"},
                          "Create a node and print its API key (shown only this once)",
                          {{"organization-id", "the node's organization", false, true, ""},
                           {"collaboration-id", "the node's collaboration", false, true, ""},
                           {"node-name", "default: '<organization> - <collaboration> Node'", false, false, ""},
                           {"api-key", "use this key instead of a random one", false, false, ""}},
                          "",
                          createCommand});
        registry.command(
            {{"node", "reset-key"}, "Give a node a new API key and print it", {}, "ID", resetKeyCommand});

        declareImportSection(registry, state_);

        // ---- Services ----
        registry.provide(kNodeIdentityService, std::make_shared<NodeIdentity>());
    }

    void start(Services& services) override {
        state_->pepper = pepperFrom(services);
        state_->services = &services;
        // A plain (non-unique) index makes the login lookup cheap; the SDK only declares unique ones.
        services.transaction([](Store& store) {
            store.execute("CREATE INDEX IF NOT EXISTS ix_node_api_key_index ON node (api_key_index)");
        });
    }

private:
    std::shared_ptr<NodesState> state_ = std::make_shared<NodesState>();
};

} // namespace dq::plugins::nodes

DQ_PLUGIN(dq::plugins::nodes::NodesPlugin)
