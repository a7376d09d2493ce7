// /result and /result/<id>: what nodes poll for work and patch while they run it.
#include "tasks.h"

namespace dq::plugins::tasks {

using Poco::JSON::Object;
using sdk::Condition;
using sdk::JsonBody;
using sdk::Operation;
using sdk::Query;
using sdk::Scope;

namespace {

Record resultOr404(RequestContext& ctx) {
    auto id = ctx.request().idParam();
    auto result = ctx.store().find("result", id);
    if (!result)
        throw sdk::NotFound("Result id=" + std::to_string(id) + " not found!");
    return *result;
}

sdk::Value collaborationOf(RequestContext& ctx, const Record& result) {
    auto taskId = result.integer("task_id");
    auto task = taskId ? ctx.store().find("task", *taskId) : std::nullopt;
    return task ? task->get("collaboration_id") : sdk::Value();
}

} // namespace

Response listResults(RequestContext& ctx) {
    auto scope = ctx.require("result", Operation::View);
    Query base;
    base.orderBy = {"-id"};
    if (scope != Scope::Global)
        base.add(inCollaborations("task_id IN (SELECT id FROM task WHERE collaboration_id IN (",
                                  ctx.ownCollaborations()));
    bool include = ctx.request().includes("task");
    ResultPage page;
    return ctx.list(
        "result", base,
        [&ctx, &page, include](const Record& r) {
            return Poco::Dynamic::Var(ctx.serializeText("result", r, *resultExtras(ctx, r, include, false, &page)));
        },
        [&ctx, &page](const std::vector<Record>& results) { page = ResultPage::load(ctx.store(), results); });
}

Response getResult(RequestContext& ctx) {
    auto result = resultOr404(ctx);
    auto scope = ctx.scope("result", Operation::View);
    if (scope != Scope::Global && !(scope && inCollaboration(ctx, collaborationOf(ctx, result))))
        throw sdk::Forbidden(sdk::kNoPermission);
    return Response::json(resultJson(ctx, result, ctx.request().includes("task")));
}

Response patchResult(RequestContext& ctx) {
    auto result = resultOr404(ctx);
    // Also the node's collaboration must be the task's: an organization may run several nodes.
    if (!runsResult(ctx, result))
        throw sdk::Forbidden("This is not your result to PATCH!");
    if (!result.isNull("finished_at"))
        throw sdk::BadRequest("Cannot update an already finished result!");

    // Unlike vantage6 3.11.1, which nulls result, log and finished_at when a PATCH leaves them
    // out, only the fields that are sent change.
    JsonBody body(ctx.request());
    Record changes;
    for (const char* field : {"started_at", "finished_at"})
        if (auto value = body.dateTime(field))
            changes.set(field, *value);
    for (const char* field : {"result", "log", "status"})
        if (auto value = body.text(field))
            changes.set(field, *value);
    body.done();
    if (!changes.values.empty())
        ctx.store().update("result", result.id, changes);

    auto collaboration = collaborationOf(ctx, result);
    Object::Ptr payload = new Object;
    payload->set("result_id", result.id);
    if (!collaboration.isEmpty())
        ctx.services().events().emit("collaboration_" + collaboration.convert<std::string>(), "status_update",
                                     payload);
    return Response::json(resultJson(ctx, *ctx.store().find("result", result.id), false));
}

} // namespace dq::plugins::tasks
