// Internal declarations of the collaborations plugin: the route handlers, the CLI commands and the
// membership service that the entry file wires together.
#pragma once

#include <dq/sdk/plugin.h>

namespace dq::plugins::collaborations {

// ---- Routes (routes.cpp) ----
sdk::Response listCollaborations(sdk::RequestContext& ctx);
sdk::Response createCollaboration(sdk::RequestContext& ctx);
sdk::Response getCollaboration(sdk::RequestContext& ctx);
sdk::Response patchCollaboration(sdk::RequestContext& ctx);
sdk::Response deleteCollaboration(sdk::RequestContext& ctx);
sdk::Response listMemberOrganizations(sdk::RequestContext& ctx);
sdk::Response addMemberOrganization(sdk::RequestContext& ctx);
sdk::Response removeMemberOrganization(sdk::RequestContext& ctx);
sdk::Response listCollaborationNodes(sdk::RequestContext& ctx);
sdk::Response addCollaborationNode(sdk::RequestContext& ctx);
sdk::Response removeCollaborationNode(sdk::RequestContext& ctx);
sdk::Response listCollaborationTasks(sdk::RequestContext& ctx);
sdk::Response listOrganizationCollaborations(sdk::RequestContext& ctx);

// ---- `collaborations:` of `vserver import` (import_section.cpp) ----
void declareImportSection(sdk::Registry& registry);

// ---- Commands (commands.cpp) ----
int listCommand(sdk::CommandContext& ctx);
int createCommand(sdk::CommandContext& ctx);
int showCommand(sdk::CommandContext& ctx);

/// Which organizations are in which collaborations, read from the `member` table. The kernel uses
/// it for ownCollaborations() and other plugins for the COLLABORATION scope.
class MemberTable : public sdk::Membership {
public:
    std::vector<sdk::Id> collaborationsOf(sdk::Store& store, sdk::Id organizationId) override;
    std::vector<sdk::Id> organizationsOf(sdk::Store& store, sdk::Id collaborationId) override;
};

} // namespace dq::plugins::collaborations
