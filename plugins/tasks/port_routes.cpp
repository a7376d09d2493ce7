// /port and /port/<id>: the ports algorithm containers expose, registered by their node.
#include "tasks.h"

namespace dq::plugins::tasks {

using sdk::Condition;
using sdk::JsonBody;
using sdk::Operation;
using sdk::Query;
using sdk::Scope;

namespace {

Record resultOr404(RequestContext& ctx, Id id) {
    return ctx.findOrNotFound("result", id, "Result id=" + std::to_string(id) + " not found!");
}

void requireRunsResult(RequestContext& ctx, const Record& result) {
    if (!runsResult(ctx, result))
        throw sdk::Forbidden("Result id=" + std::to_string(result.id) +
                             " is run by another node: only that node may change its ports.");
}

} // namespace

Response listPorts(RequestContext& ctx) {
    auto scope = ctx.require("port", Operation::View);
    Query base;
    base.orderBy = {"-id"};
    // vantage6 3.11.1 meant to limit port:org:v to the caller's collaborations but its query did
    // not; here it does.
    if (scope != Scope::Global)
        base.add(inCollaborations("result_id IN (SELECT r.id FROM result r JOIN task t ON t.id = r.task_id"
                                  " WHERE t.collaboration_id IN (",
                                  ctx.ownCollaborations()));
    return ctx.list("algorithmport", base,
                    [&ctx](const Record& p) { return Poco::Dynamic::Var(portJson(ctx, p)); });
}

Response createPort(RequestContext& ctx) {
    JsonBody body(ctx.request());
    auto port = body.integer("port", JsonBody::Need::Required, {1, 65535});
    auto resultId = body.id("result_id", JsonBody::Need::Required);
    auto label = body.text("label");
    body.done();
    auto result = resultOr404(ctx, *resultId);
    requireRunsResult(ctx, result);
    Record record;
    record.set("port", *port).set("result_id", result.id);
    if (label)
        record.set("label", *label);
    auto id = ctx.store().insert("algorithmport", record);
    return Response::json(portJson(ctx, *ctx.store().find("algorithmport", id)), 201);
}

Response deletePorts(RequestContext& ctx) {
    auto raw = ctx.request().query("result_id");
    if (!raw || raw->empty())
        throw sdk::BadRequest("The result_id argument is required!");
    auto result = resultOr404(ctx, *ctx.request().queryId("result_id"));
    requireRunsResult(ctx, result);
    Query q;
    q.add(Condition::equal("result_id", result.id));
    for (const auto& p : ctx.store().select("algorithmport", q))
        ctx.store().remove("algorithmport", p.id);
    return Response::message("Ports removed from the database.");
}

Response getPort(RequestContext& ctx) {
    auto id = ctx.request().idParam();
    auto port = ctx.store().find("algorithmport", id);
    if (!port)
        throw sdk::NotFound("Port id=" + std::to_string(id) + " not found!");
    auto scope = ctx.scope("port", Operation::View);
    if (scope != Scope::Global) {
        // vantage6 3.11.1 checks nothing here; port:org:v covers the caller's collaborations.
        auto resultId = port->integer("result_id");
        auto result = resultId ? ctx.store().find("result", *resultId) : std::nullopt;
        auto taskId = result ? result->integer("task_id") : std::nullopt;
        auto task = taskId ? ctx.store().find("task", *taskId) : std::nullopt;
        if (!scope || !task || !inCollaboration(ctx, task->get("collaboration_id")))
            throw sdk::Forbidden(sdk::kNoPermission);
    }
    return Response::json(portJson(ctx, *port));
}

} // namespace dq::plugins::tasks
