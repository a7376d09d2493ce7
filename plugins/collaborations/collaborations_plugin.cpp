// The collaborations plugin: groups of organizations that run tasks together. It owns the
// collaboration model and the `member` table, and tells the rest of the server who is in what.
#include "collaborations.h"

#include <dq/sdk/plugin.h>

namespace dq::plugins::collaborations {

using namespace dq::sdk;

class CollaborationsPlugin : public Plugin {
public:
    PluginInfo info() const override {
        return {"collaborations",
                kServerVersion,
                "Collaborations of organizations (/collaboration) and the membership service",
                {"organizations"}};
    }

    void declare(Registry& registry) override {
        // ---- Models ----
        Field name;
        name.name = "name";
        name.unique = true;
        name.description = "Unique name";
        name.maxLength = 128;
        Field encrypted;
        encrypted.name = "encrypted";
        encrypted.type = FieldType::Boolean;
        encrypted.defaultValue = true;
        encrypted.description = "Whether inputs and results are end-to-end encrypted";
        Association organizations;
        organizations.name = "organizations";
        organizations.target = "organization";
        organizations.table = "member";
        organizations.backref = "collaborations";
        organizations.ownColumn = "collaboration_id";
        organizations.targetColumn = "organization_id";
        registry.model(ModelDecl("collaboration")
                           .resource("/collaboration")
                           .description("A group of organizations whose nodes run tasks together")
                           .field(name)
                           .field(encrypted)
                           .association(organizations));

        // ---- Rules (vantage6 §5, in its order) ----
        registry.rule({"collaboration", Scope::Global, Operation::View, "View all collaborations"});
        registry.rule({"collaboration", Scope::Organization, Operation::View,
                       "View the collaborations your organization is a member of", true, true});
        registry.rule({"collaboration", Scope::Global, Operation::Edit,
                       "Edit any collaboration, its organizations and its nodes"});
        registry.rule({"collaboration", Scope::Global, Operation::Create, "Create collaborations"});
        registry.rule({"collaboration", Scope::Global, Operation::Delete,
                       "Delete collaborations and remove organizations from them"});

        // ---- Filters ----
        registry.filter("collaboration", {"encrypted", FilterDecl::Kind::Equal, "", ""});
        registry.filter("collaboration", {"name", FilterDecl::Kind::Like, "", ""});
        registry.filter("collaboration",
                        {"organization_id", FilterDecl::Kind::Sql, "",
                         "id IN (SELECT collaboration_id FROM member WHERE organization_id = ?)"});
        registry.filter("organization",
                        {"collaboration_id", FilterDecl::Kind::Sql, "",
                         "id IN (SELECT organization_id FROM member WHERE collaboration_id = ?)"});

        // ---- Routes ----
        const std::vector<ClientKind> user{ClientKind::User};
        const std::vector<ClientKind> userNode{ClientKind::User, ClientKind::Node};
        const std::vector<ClientKind> anyone{ClientKind::User, ClientKind::Node, ClientKind::Container};
        registry.route({Method::Get, "/collaboration", user, listCollaborations, "List collaborations"});
        registry.route({Method::Post, "/collaboration", user, createCollaboration, "Create a collaboration"});
        registry.route(
            {Method::Get, "/collaboration/<id>", anyone, getCollaboration, "Show a collaboration"});
        registry.route(
            {Method::Patch, "/collaboration/<id>", user, patchCollaboration, "Edit a collaboration"});
        registry.route(
            {Method::Delete, "/collaboration/<id>", user, deleteCollaboration, "Delete a collaboration"});
        registry.route({Method::Get, "/collaboration/<id>/organization", anyone, listMemberOrganizations,
                        "List the organizations of a collaboration"});
        registry.route({Method::Post, "/collaboration/<id>/organization", user, addMemberOrganization,
                        "Add an organization to a collaboration"});
        registry.route({Method::Delete, "/collaboration/<id>/organization", user, removeMemberOrganization,
                        "Remove an organization from a collaboration"});
        registry.route({Method::Get, "/collaboration/<id>/node", user, listCollaborationNodes,
                        "List the nodes of a collaboration (needs the nodes plugin)"});
        registry.route({Method::Post, "/collaboration/<id>/node", user, addCollaborationNode,
                        "Move a node into a collaboration (needs the nodes plugin)"});
        registry.route({Method::Delete, "/collaboration/<id>/node", user, removeCollaborationNode,
                        "Take a node out of a collaboration (needs the nodes plugin)"});
        registry.route({Method::Get, "/collaboration/<id>/task", userNode, listCollaborationTasks,
                        "List the tasks of a collaboration (needs the tasks plugin)"});
        registry.route({Method::Get, "/organization/<id>/collaboration", userNode,
                        listOrganizationCollaborations, "List the collaborations of an organization"});

        // For the API description: the rules of the routes below a collaboration or organization,
        // which the kernel cannot infer from the path.
        const RuleKey viewAny{"collaboration", Scope::Global, Operation::View};
        const RuleKey viewOwn{"collaboration", Scope::Organization, Operation::View};
        const RuleKey edit{"collaboration", Scope::Global, Operation::Edit};
        const std::vector<ApiField> organizationId{
            {"id", ApiField::Type::Integer, true, "the organization's id"}};
        const std::vector<ApiField> nodeId{{"id", ApiField::Type::Integer, true, "the node's id"}};
        registry.document({Method::Get, "/collaboration/<id>/organization", "", {viewAny, viewOwn}});
        registry.document(
            {Method::Post, "/collaboration/<id>/organization", "", {edit}, false, organizationId});
        registry.document({Method::Delete,
                           "/collaboration/<id>/organization",
                           "",
                           {{"collaboration", Scope::Global, Operation::Delete}},
                           false,
                           organizationId});
        registry.document({Method::Get, "/collaboration/<id>/node", "", {viewAny, viewOwn}});
        registry.document({Method::Post, "/collaboration/<id>/node", "", {edit}, false, nodeId});
        registry.document({Method::Delete, "/collaboration/<id>/node", "", {edit}, false, nodeId});
        registry.document(
            {Method::Get,
             "/collaboration/<id>/task",
             "",
             {{"task", Scope::Global, Operation::View}, {"task", Scope::Organization, Operation::View}}});
        registry.document({Method::Get, "/organization/<id>/collaboration", "", {viewAny, viewOwn}});

        // ---- Commands ----
        registry.command({{"collaboration", "list"},
                          "List all collaborations with their organizations",
                          {},
                          "",
                          listCommand});
        registry.command({{"collaboration", "create"},
                          "Create a collaboration of existing organizations",
                          {{"collaboration-name", "unique name of the collaboration", false, true, ""},
                           {"organizations", "comma-separated organization ids, e.g. 1,2", false, true, ""},
                           {"encrypted", "encrypt inputs and results end-to-end", true, false, ""}},
                          "",
                          createCommand});
        registry.command({{"collaboration", "show"}, "Show one collaboration", {}, "ID", showCommand});
        declareImportSection(registry);

        // ---- Services ----
        registry.provide(kMembershipService, std::make_shared<MemberTable>());
    }
};

} // namespace dq::plugins::collaborations

DQ_PLUGIN(dq::plugins::collaborations::CollaborationsPlugin)
