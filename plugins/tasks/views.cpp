// JSON views of tasks, results and ports as vantage6 3.x shows them, the task state derived from
// the results, and the checks the route files share.
#include "tasks.h"

#include <Poco/JSON/Array.h>
#include <algorithm>
#include <set>

namespace dq::plugins::tasks {

using Poco::JSON::Array;
using Poco::JSON::Object;
using sdk::Condition;
using sdk::Query;

namespace {

const std::set<std::string> kHealthy = {"pending", "initializing", "active", "completed"};

Poco::Dynamic::Var idOrNull(const Record& record, const std::string& column) {
    auto id = record.integer(column);
    return id ? Poco::Dynamic::Var(*id) : Poco::Dynamic::Var();
}

// The node that runs `result`: its organization's node in the task's collaboration; {} if none.
Object::Ptr nodeOf(sdk::Store& store, const Record& result, const std::optional<Record>& task) {
    Object::Ptr node = new Object;
    auto org = result.integer("organization_id");
    auto collaboration = task ? task->integer("collaboration_id") : std::nullopt;
    if (!org || !collaboration)
        return node;
    Query q;
    q.add(Condition::equal("organization_id", *org))
        .add(Condition::equal("collaboration_id", *collaboration));
    auto nodes = store.select("node", q);
    if (nodes.empty())
        return node;
    const auto& n = nodes.front();
    node->set("id", n.id);
    node->set("name", n.get("name"));
    node->set("ip", n.get("ip"));
    node->set("status", n.get("status"));
    Array::Ptr config = new Array;
    Query c;
    c.add(Condition::equal("node_id", n.id));
    c.orderBy = {"id"};
    for (const auto& row : store.select("nodeconfig", c))
        config->add(row.id);
    node->set("config", config);
    return node;
}

Array::Ptr portsOf(sdk::Store& store, Id resultId) {
    Array::Ptr ports = new Array;
    Query q;
    q.add(Condition::equal("result_id", resultId));
    q.orderBy = {"id"};
    for (const auto& p : store.select("algorithmport", q)) {
        Object::Ptr port = new Object;
        port->set("id", p.id);
        port->set("port", p.get("port"));
        port->set("label", p.get("label"));
        ports->add(port);
    }
    return ports;
}

} // namespace

TaskState deriveState(const std::vector<Record>& results) {
    TaskState state;
    bool anyStatus = false, anyNull = false, anyFailed = false;
    std::set<std::string> seen;
    for (const auto& r : results) {
        if (r.isNull("finished_at"))
            state.complete = false;
        else if (!state.finishedAt || r.text("finished_at") > *state.finishedAt)
            state.finishedAt = r.text("finished_at");
        if (r.isNull("status")) {
            anyNull = true;
            continue;
        }
        anyStatus = true;
        auto status = r.text("status");
        seen.insert(status);
        if (!kHealthy.count(status))
            anyFailed = true;
    }
    if (!state.complete)
        state.finishedAt.reset();
    // Precedence as in vantage6: a null status next to real ones counts as a failure.
    if (!anyStatus)
        state.status = "unknown";
    else if (anyFailed || anyNull)
        state.status = "failed";
    else if (seen.count("active"))
        state.status = "active";
    else if (seen.count("initializing"))
        state.status = "initializing";
    else if (seen.count("pending"))
        state.status = "pending";
    else
        state.status = "completed";
    return state;
}

bool isRunning(const std::string& status) {
    return status == "pending" || status == "initializing" || status == "active";
}

std::vector<Record> resultsOf(sdk::Store& store, Id taskId) {
    Query q;
    q.add(Condition::equal("task_id", taskId));
    q.orderBy = {"id"};
    return store.select("result", q);
}

void addDerivedState(sdk::Store& store, const Record& task, Object& json) {
    auto state = deriveState(resultsOf(store, task.id));
    json.set("complete", state.complete);
    json.set("finished_at", state.finishedAt ? Poco::Dynamic::Var(sdk::renderDateTime(*state.finishedAt))
                                             : Poco::Dynamic::Var());
    json.set("status", state.status);
}

Object::Ptr taskJson(RequestContext& ctx, const Record& task, bool includeResults) {
    auto json = ctx.serialize("task", task);
    if (includeResults) {
        Array::Ptr nested = new Array;
        for (const auto& r : resultsOf(ctx.store(), task.id)) {
            auto item = taskResultJson(ctx, r);
            item->remove("task");
            nested->add(item);
        }
        json->set("results", nested);
    }
    return json;
}

Object::Ptr resultJson(RequestContext& ctx, const Record& result, bool includeTask) {
    auto json = ctx.serialize("result", result);
    std::optional<Record> task;
    if (auto taskId = result.integer("task_id"))
        task = ctx.store().find("task", *taskId);
    json->set("node", nodeOf(ctx.store(), result, task));
    json->set("ports", portsOf(ctx.store(), result.id));
    if (includeTask && task) {
        auto nested = taskJson(ctx, *task, false);
        nested->remove("results");
        json->set("task", nested);
    }
    return json;
}

Object::Ptr taskResultJson(RequestContext& ctx, const Record& result) {
    auto json = resultJson(ctx, result, false);
    json->set("organization", idOrNull(result, "organization_id"));
    json->set("task", idOrNull(result, "task_id"));
    return json;
}

Object::Ptr portJson(RequestContext& ctx, const Record& port) {
    auto json = ctx.serialize("algorithmport", port);
    // The serializer already renders result as a raw id (style Id); keep the shape explicit.
    json->set("result", idOrNull(port, "result_id"));
    return json;
}

bool inCollaboration(RequestContext& ctx, const sdk::Value& collaborationId) {
    if (collaborationId.isEmpty())
        return false;
    return ctx.memberOf(collaborationId.convert<Id>());
}

Condition columnIn(const std::string& column, const std::vector<Id>& ids) {
    if (ids.empty())
        return Condition::raw("1 = 0");
    std::vector<sdk::Value> values(ids.begin(), ids.end());
    return Condition::in(column, values);
}

Condition inCollaborations(const std::string& prefix, const std::vector<Id>& collaborations) {
    if (collaborations.empty())
        return Condition::raw("1 = 0");
    std::string marks;
    std::vector<sdk::Value> params;
    for (auto id : collaborations) {
        marks += marks.empty() ? "?" : ", ?";
        params.emplace_back(id);
    }
    return Condition::raw(prefix + marks + "))", params);
}

bool runsResult(RequestContext& ctx, const Record& result) {
    const auto& node = ctx.identity();
    if (!node.is(sdk::ClientKind::Node) || result.integer("organization_id") != node.organizationId)
        return false;
    auto taskId = result.integer("task_id");
    auto task = taskId ? ctx.store().find("task", *taskId) : std::nullopt;
    return task && node.collaborationId && task->integer("collaboration_id") == node.collaborationId;
}

void killTask(RequestContext& ctx, const Record& task) {
    Array::Ptr killList = new Array;
    for (const auto& r : resultsOf(ctx.store(), task.id)) {
        if (!isRunning(r.text("status")))
            continue;
        ctx.store().update("result", r.id, Record().set("status", std::string("killed by user")));
        Object::Ptr item = new Object;
        item->set("task_id", task.id);
        item->set("result_id", r.id);
        item->set("organization_id", idOrNull(r, "organization_id"));
        killList->add(item);
    }
    Object::Ptr payload = new Object;
    payload->set("kill_list", killList);
    payload->set("collaboration_id", idOrNull(task, "collaboration_id"));
    ctx.services().events().emit("collaboration_" + task.text("collaboration_id"), "kill_containers",
                                 payload);
}

} // namespace dq::plugins::tasks
