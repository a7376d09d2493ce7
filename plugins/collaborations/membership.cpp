// The membership service over the `member` association table.
#include "collaborations.h"

namespace dq::plugins::collaborations {

std::vector<sdk::Id> MemberTable::collaborationsOf(sdk::Store& store, sdk::Id organizationId) {
    // "collaborations" is the back-reference of collaboration.organizations on organization.
    return store.associated("organization", organizationId, "collaborations");
}

std::vector<sdk::Id> MemberTable::organizationsOf(sdk::Store& store, sdk::Id collaborationId) {
    return store.associated("collaboration", collaborationId, "organizations");
}

} // namespace dq::plugins::collaborations
