// /task, /task/<id>, /task/<id>/result and /token/container.
#include "tasks.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Stringifier.h>
#include <algorithm>
#include <set>
#include <sstream>

namespace dq::plugins::tasks {

using Poco::JSON::Array;
using Poco::JSON::Object;
using sdk::Condition;
using sdk::JsonBody;
using sdk::Operation;
using sdk::Query;
using sdk::Scope;

namespace {

using Need = JsonBody::Need;

struct Target {
    Id organization = 0;
    Poco::Dynamic::Var input;
};

// `organizations: [{"id": 2, "input": ...}]`; records a body problem instead of throwing.
std::vector<Target> readTargets(JsonBody& body) {
    std::vector<Target> targets;
    auto raw = body.value("organizations", Need::Required);
    if (!raw)
        return targets;
    const char* expected =
        "expected a list of {\"id\": <organization id>, \"input\": <input>}, each id a positive 64-bit integer";
    if (raw->type() != typeid(Array::Ptr)) {
        body.fail("organizations", expected);
        return targets;
    }
    for (const auto& item : *raw->extract<Array::Ptr>()) {
        if (item.type() != typeid(Object::Ptr)) {
            body.fail("organizations", expected);
            return {};
        }
        auto object = item.extract<Object::Ptr>();
        auto id = sdk::integerValue(object->get("id"), sdk::kIdRange);
        if (!id) {
            body.fail("organizations", expected);
            return {};
        }
        targets.push_back({*id, object->get("input")});
    }
    return targets;
}

// vantage6 stores the input as given, JSON-encoding structured values; encrypted inputs are
// opaque strings and pass through untouched.
Poco::Dynamic::Var storedInput(const Poco::Dynamic::Var& input) {
    if (input.isEmpty() || input.isString())
        return input;
    std::ostringstream out;
    Poco::JSON::Stringifier::stringify(input, out);
    return out.str();
}

std::string joinIds(const std::vector<Id>& ids) {
    std::string out;
    for (auto id : ids)
        out += (out.empty() ? "" : ", ") + std::to_string(id);
    return out;
}

bool listed(const std::vector<sdk::Value>& values, const std::string& wanted) {
    return std::any_of(values.begin(), values.end(), [&](const sdk::Value& v) {
        return !v.isEmpty() && v.convert<std::string>() == wanted;
    });
}

// A node may restrict who sends it tasks (`allowed_users` / `allowed_orgs` node config).
void checkNodePolicies(RequestContext& ctx, const Record& node) {
    Query q;
    q.add(Condition::equal("node_id", node.id));
    std::vector<sdk::Value> users, orgs;
    for (const auto& c : ctx.store().select("nodeconfig", q)) {
        if (c.text("key") == "allowed_users")
            users.push_back(c.get("value"));
        else if (c.text("key") == "allowed_orgs")
            orgs.push_back(c.get("value"));
    }
    if (users.empty() && orgs.empty())
        return;
    const auto& who = ctx.identity();
    if (listed(users, std::to_string(who.id)) || listed(users, who.name) ||
        listed(orgs, std::to_string(who.organizationId)))
        return;
    throw sdk::BadRequest("Node id=" + std::to_string(node.id) +
                          " of organization id=" + node.text("organization_id") +
                          " only accepts tasks from the users and organizations in its allowed_users / "
                          "allowed_orgs policies; ask that organization to add you.");
}

// vantage6 words the 404 differently per route; `prefix` + id + `suffix` keeps each one.
Record taskOr404(RequestContext& ctx, const char* prefix, const char* suffix) {
    auto id = ctx.request().idParam();
    auto task = ctx.store().find("task", id);
    if (!task)
        throw sdk::NotFound(prefix + std::to_string(id) + suffix);
    return *task;
}

void requireTaskScope(RequestContext& ctx, const std::string& resource, Operation op, const Record& task) {
    auto scope = ctx.scope(resource, op);
    if (scope == Scope::Global || (scope && inCollaboration(ctx, task.get("collaboration_id"))))
        return;
    throw sdk::Forbidden(sdk::kNoPermission);
}

} // namespace

Response listTasks(RequestContext& ctx) {
    auto scope = ctx.require("task", Operation::View);
    Query base;
    base.orderBy = {"-id"};
    if (scope != Scope::Global)
        base.add(columnIn("collaboration_id", ctx.ownCollaborations()));
    if (!ctx.request().includes("results"))
        return ctx.list("task", base);
    return ctx.list("task", base, [&ctx](const Record& t) { return Poco::Dynamic::Var(taskJson(ctx, t, true)); });
}

Response createTask(RequestContext& ctx) {
    JsonBody body(ctx.request());
    auto collaborationId = body.id("collaboration_id", Need::Required);
    auto targets = readTargets(body);
    auto name = body.text("name").value_or("");
    auto description = body.text("description").value_or("");
    auto image = body.text("image").value_or("");
    auto database = body.text("database").value_or("");
    body.ignore("master"); // sent by older clients, ignored by vantage6 too
    body.done();

    auto& store = ctx.store();
    const auto& who = ctx.identity();
    auto collaboration = store.find("collaboration", *collaborationId);
    if (!collaboration)
        throw sdk::NotFound("Collaboration id=" + std::to_string(*collaborationId) + " not found!");

    auto members = store.associated("collaboration", *collaborationId, "organizations");
    auto isMember = [&](Id org) { return std::find(members.begin(), members.end(), org) != members.end(); };
    for (const auto& t : targets)
        if (!isMember(t.organization))
            throw sdk::BadRequest(
                "At least one of the supplied organizations in not within the collaboration.");

    Query nodeQuery;
    nodeQuery.add(Condition::equal("collaboration_id", *collaborationId));
    auto nodes = store.select("node", nodeQuery);
    auto nodeOf = [&](Id org) -> const Record* {
        for (const auto& n : nodes)
            if (n.integer("organization_id") == org)
                return &n;
        return nullptr;
    };
    std::vector<Id> without;
    for (const auto& t : targets)
        if (!nodeOf(t.organization) &&
            std::find(without.begin(), without.end(), t.organization) == without.end())
            without.push_back(t.organization);
    if (!without.empty())
        throw sdk::BadRequest(
            "Cannot create this task because there are no nodes registered for the following "
            "organization(s): " +
            joinIds(without) + ".");

    if (who.is(sdk::ClientKind::User))
        for (const auto& t : targets)
            checkNodePolicies(ctx, *nodeOf(t.organization));

    if (!isMember(who.organizationId))
        throw sdk::Forbidden("You can only create tasks for collaborations you are participating in!");

    Record task;
    task.set("name", name).set("description", description).set("image", image).set("database", database);
    task.set("collaboration_id", *collaborationId).set("initiator_id", who.organizationId);
    task.set("created_at", sdk::nowUtc());
    if (who.is(sdk::ClientKind::User)) {
        // Members were checked above, so any create scope suffices here.
        if (!ctx.scope("task", Operation::Create))
            throw sdk::Forbidden(sdk::kNoPermission);
        task.set("run_id", nextRunId(store)).set("init_user_id", who.id);
    } else {
        auto parent = who.taskId ? store.find("task", *who.taskId) : std::nullopt;
        bool valid = parent && image.size() >= who.image.size() &&
                     image.compare(image.size() - who.image.size(), who.image.size(), who.image) == 0 &&
                     !deriveState(resultsOf(store, parent->id)).complete &&
                     who.collaborationId == *collaborationId;
        if (!valid)
            throw sdk::Forbidden("Container-token is not valid");
        task.set("run_id", parent->get("run_id")).set("parent_id", parent->id);
        if (!parent->isNull("init_user_id"))
            task.set("init_user_id", parent->get("init_user_id"));
    }
    // The inserts announce themselves (announceTask, announceResult).
    auto taskId = store.insert("task", task);
    auto created = *store.find("task", taskId);

    auto now = sdk::nowUtc();
    for (const auto& t : targets) {
        Record result;
        result.set("task_id", taskId).set("organization_id", t.organization);
        result.set("status", std::string("pending")).set("assigned_at", now);
        auto input = storedInput(t.input);
        if (!input.isEmpty())
            result.set("input", input);
        store.insert("result", result);
    }
    return Response::json(taskJson(ctx, created, false), 201);
}

void announceTask(sdk::Store&, sdk::Events& events, const Record& task) {
    if (task.isNull("collaboration_id"))
        return;
    Object::Ptr announced = new Object;
    announced->set("task_id", task.id);
    announced->set("run_id", task.get("run_id"));
    announced->set("collaboration_id", task.get("collaboration_id"));
    announced->set("init_org_id", task.get("initiator_id"));
    events.emit("collaboration_" + task.text("collaboration_id"), "task_created", announced);
}

void announceResult(sdk::Store& store, sdk::Events& events, const Record& result) {
    auto taskId = result.integer("task_id");
    auto organization = result.integer("organization_id");
    auto task = taskId ? store.find("task", *taskId) : std::nullopt;
    if (!task || !organization || task->isNull("collaboration_id"))
        return;
    // To the room of the node that runs this result: each node hears of each of its results once,
    // however the task was made.
    events.emit("collaboration_" + task->text("collaboration_id") + "_organization_" +
                    std::to_string(*organization),
                "new_task", Poco::Dynamic::Var(*taskId));
}

Response getTask(RequestContext& ctx) {
    auto task = taskOr404(ctx, "task id=", " is not found");
    requireTaskScope(ctx, "task", Operation::View, task);
    return Response::json(taskJson(ctx, task, ctx.request().includes("results")));
}

Response deleteTask(RequestContext& ctx) {
    auto task = taskOr404(ctx, "task id=", " is not found");
    requireTaskScope(ctx, "task", Operation::Delete, task);
    auto results = resultsOf(ctx.store(), task.id);
    if (isRunning(deriveState(results).status))
        killTask(ctx, task);
    for (const auto& r : results)
        ctx.store().remove("result", r.id);
    // Children stay: the parent reference is nulled by its OnDelete rule.
    ctx.store().remove("task", task.id);
    return Response::message("task id=" + std::to_string(task.id) + " and its result successfully deleted");
}

Response listTaskResults(RequestContext& ctx) {
    auto task = taskOr404(ctx, "Task id=", " not found");
    requireTaskScope(ctx, "result", Operation::View, task);
    Query base;
    base.add(Condition::equal("task_id", task.id));
    ResultPage page;
    return ctx.list(
        "result", base,
        [&ctx, &page](const Record& r) {
            return Poco::Dynamic::Var(ctx.serializeText("result", r, *resultExtras(ctx, r, false, true, &page)));
        },
        [&ctx, &page](const std::vector<Record>& results) { page = ResultPage::load(ctx.store(), results); });
}

Response createContainerToken(RequestContext& ctx) {
    JsonBody body(ctx.request());
    auto taskId = body.id("task_id", Need::Required);
    auto image = body.text("image", Need::Required);
    body.done();

    auto& store = ctx.store();
    const auto& node = ctx.identity();
    auto task = store.find("task", *taskId);
    if (!task)
        throw sdk::BadRequest("Master task does not exist!");
    // vantage6 answers these two with 401; a node would read that as its own token being bad.
    if (*image != task->text("image"))
        throw sdk::Forbidden("Image and task do no match");
    if (task->isNull("collaboration_id") || node.collaborationId != task->integer("collaboration_id"))
        throw sdk::Forbidden("You are not within the collaboration");
    if (deriveState(resultsOf(store, task->id)).complete)
        throw sdk::BadRequest("Task is already finished!");

    sdk::Identity container;
    container.kind = sdk::ClientKind::Container;
    container.id = node.id;
    container.organizationId = node.organizationId;
    container.collaborationId = node.collaborationId;
    container.taskId = task->id;
    container.image = *image;
    container.database = task->text("database");
    Object::Ptr out = new Object;
    out->set("container_token", ctx.services().tokens().issueContainer(container));
    return Response::json(out);
}

} // namespace dq::plugins::tasks
