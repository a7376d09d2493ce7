// The "identity.node" service: a node token's subject as a live identity.
#include "nodes.h"

namespace dq::plugins::nodes {

using namespace dq::sdk;

std::optional<Identity> NodeIdentity::resolve(Store& store, Id id) {
    auto node = store.find("node", id);
    if (!node)
        return std::nullopt;
    Identity who;
    who.kind = ClientKind::Node;
    who.id = node->id;
    who.organizationId = node->integer("organization_id").value_or(0);
    who.collaborationId = node->integer("collaboration_id");
    who.name = node->text("name");
    who.credentialVersion = node->integer("credential_version").value_or(0);
    return who;
}

void NodeIdentity::touch(Store& store, Id id) {
    store.update("node", id, Record().set("last_seen", nowUtc()));
}

} // namespace dq::plugins::nodes
