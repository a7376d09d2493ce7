// Who is calling (Identity) and what rules exist: resource x scope x operation, as in vantage6.
#pragma once

#include "dq/sdk/store.h"

#include <optional>
#include <string>
#include <vector>

namespace dq::sdk {

/// The message of every 403 for a missing rule (vantage6's wording).
inline constexpr const char* kNoPermission = "You lack the permission to do that!";

/// Ordered from narrow to wide, so the highest held scope is the largest value.
enum class Scope { Own = 0, Organization = 1, Collaboration = 2, Global = 3 };
enum class Operation { View, Edit, Create, Delete, Send, Receive };

/// "OWN", "ORGANIZATION", ... as stored and as the API shows them.
std::string toString(Scope s);
std::string toString(Operation o);
std::optional<Scope> scopeFromString(const std::string& name);
std::optional<Operation> operationFromString(const std::string& name);

/// A permission rule a plugin declares: e.g. {"organization", Scope::Global, Operation::View}.
struct RuleDecl {
    std::string resource;
    Scope scope = Scope::Global;
    Operation operation = Operation::View;
    std::string description;
    bool assignToNode = false;      ///< also held by the fixed role "node"
    bool assignToContainer = false; ///< also held by the fixed role "container"
};

struct RuleKey {
    std::string resource;
    Scope scope;
    Operation operation;
    auto operator<=>(const RuleKey&) const = default;
};

/// Which kinds of caller may use a route.
enum class ClientKind { User, Node, Container };
std::string toString(ClientKind k);

/// The authenticated caller of a request, resolved from the token by the kernel with the help of
/// the plugin that owns users / nodes.
struct Identity {
    std::optional<ClientKind> kind; ///< empty: anonymous
    Id id = 0;                      ///< user id or node id (for a container: its node's id)
    Id organizationId = 0;
    std::optional<Id> collaborationId; ///< nodes and containers
    std::string name;                  ///< username or node name, for logs and events
    std::vector<std::string> roleNames;
    /// Containers only: the task the container runs for and its image / database.
    std::optional<Id> taskId;
    std::string image;
    std::string database;
    /// Users and nodes: the account's credential version, raised when its password or api key
    /// changes, when it locks, ... Tokens carry the version they were issued under (claim `cv`);
    /// the kernel refuses a token whose version is not the account's current one.
    std::int64_t credentialVersion = 0;

    bool is(ClientKind k) const { return kind && *kind == k; }
};

} // namespace dq::sdk
