// /kill/task and /kill/node/tasks: tell nodes to stop algorithm containers (event:*:c rules).
#include "tasks.h"

#include <algorithm>

namespace dq::plugins::tasks {

using Poco::JSON::Object;
using sdk::JsonBody;
using sdk::Operation;
using sdk::RuleKey;
using sdk::Scope;

namespace {

Id requiredId(RequestContext& ctx, const std::string& missing) {
    JsonBody body(ctx.request());
    auto id = body.id("id");
    body.done();
    if (!id)
        throw sdk::BadRequest(missing);
    return *id;
}

bool holds(RequestContext& ctx, Scope scope) {
    return ctx.holds(RuleKey{"event", scope, Operation::Create});
}

} // namespace

Response killTaskRoute(RequestContext& ctx) {
    auto id = requiredId(ctx, "No task id provided!");
    auto task = ctx.store().find("task", id);
    if (!task)
        throw sdk::NotFound("Task id=" + std::to_string(id) + " not found");
    auto status = deriveState(resultsOf(ctx.store(), id)).status;
    if (!isRunning(status))
        throw sdk::BadRequest("Task id=" + std::to_string(id) + " already finished with status '" + status +
                              "': there is nothing to kill.");
    bool member = inCollaboration(ctx, task->get("collaboration_id"));
    if (!holds(ctx, Scope::Global) &&
        !((holds(ctx, Scope::Collaboration) || holds(ctx, Scope::Organization)) && member))
        throw sdk::Forbidden(sdk::kNoPermission);
    killTask(ctx, *task);
    return Response::message("Nodes have been instructed to kill any containers running for task " +
                             std::to_string(id) + ".");
}

// vantage6 3.11.1 checks task:glo:c and then the non-existent task:col:c (a 500). The intent was
// the event rules, which is what this checks: event:glo:c for any node, event:col:c for nodes in
// the caller's collaborations, event:org:c for the caller's own organization's nodes.
Response killNodeTasks(RequestContext& ctx) {
    auto id = requiredId(ctx, "No node id provided!");
    auto node = ctx.store().find("node", id);
    if (!node)
        throw sdk::NotFound("Node id=" + std::to_string(id) + " not found");
    if (node->text("status") != "online")
        throw sdk::BadRequest("Node id=" + std::to_string(id) +
                              " is not online, so it cannot be told to kill " +
                              "its containers; they stop when the node restarts.");
    bool allowed =
        holds(ctx, Scope::Global) ||
        (holds(ctx, Scope::Collaboration) && inCollaboration(ctx, node->get("collaboration_id"))) ||
        (holds(ctx, Scope::Organization) &&
         node->integer("organization_id") == ctx.identity().organizationId);
    if (!allowed)
        throw sdk::Forbidden(sdk::kNoPermission);
    Object::Ptr payload = new Object;
    payload->set("node_id", node->id);
    payload->set("collaboration_id", node->get("collaboration_id"));
    ctx.services().events().emit("collaboration_" + node->text("collaboration_id"), "kill_containers",
                                 payload);
    return Response::message("Node id=" + std::to_string(id) + " has been instructed to kill its running " +
                             "algorithm containers.");
}

} // namespace dq::plugins::tasks
