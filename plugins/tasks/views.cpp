// JSON views of tasks, results and ports as vantage6 3.x shows them, the task state derived from
// the results, and the checks the route files share.
#include "tasks.h"

#include <Poco/JSON/Array.h>
#include <algorithm>
#include <map>
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

/// Rows per IN (...) list, far below the databases' limits on bound parameters.
constexpr std::size_t kChunk = 500;

/// Rows of `model` whose `column` is one of `ids`, ordered by id, a few queries for any number of ids.
std::vector<Record> selectIn(sdk::Store& store, const std::string& model, const std::string& column,
                             std::vector<Id> ids) {
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    std::vector<Record> out;
    for (std::size_t start = 0; start < ids.size(); start += kChunk) {
        std::vector<Id> chunk(ids.begin() + static_cast<std::ptrdiff_t>(start),
                              ids.begin() +
                                  static_cast<std::ptrdiff_t>(std::min(ids.size(), start + kChunk)));
        Query q;
        q.add(columnIn(column, chunk));
        q.orderBy = {"id"};
        auto rows = store.select(model, q);
        out.insert(out.end(), std::make_move_iterator(rows.begin()), std::make_move_iterator(rows.end()));
    }
    return out;
}

// The node that runs `result`: its organization's node in the task's collaboration; {} if none.
Object::Ptr nodeOf(const ResultPage& page, const Record& result, const Record* task) {
    Object::Ptr node = new Object;
    auto org = result.integer("organization_id");
    auto collaboration = task ? task->integer("collaboration_id") : std::nullopt;
    if (!org || !collaboration)
        return node;
    auto found = page.nodes.find({*org, *collaboration});
    if (found == page.nodes.end())
        return node;
    const auto& n = found->second;
    node->set("id", n.id);
    node->set("name", n.get("name"));
    node->set("ip", n.get("ip"));
    node->set("status", n.get("status"));
    Array::Ptr config = new Array;
    if (auto c = page.nodeConfigs.find(n.id); c != page.nodeConfigs.end())
        for (auto id : c->second)
            config->add(id);
    node->set("config", config);
    return node;
}

Array::Ptr portsOf(const ResultPage& page, Id resultId) {
    Array::Ptr ports = new Array;
    auto found = page.ports.find(resultId);
    if (found == page.ports.end())
        return ports;
    for (const auto& p : found->second) {
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

void addDerivedStates(sdk::Store& store, const std::vector<Record>& tasks,
                      const std::vector<Object*>& jsons) {
    // Only what the state is derived from, for the whole page: results carry large inputs and logs.
    // finished_at as text: the PostgreSQL driver drops the microseconds of a TIMESTAMP column.
    std::map<Id, std::vector<Record>> results;
    for (std::size_t start = 0; start < tasks.size(); start += kChunk) {
        std::string marks;
        std::vector<sdk::Value> ids;
        for (auto i = start; i < std::min(tasks.size(), start + kChunk); ++i) {
            marks += marks.empty() ? "?" : ", ?";
            ids.emplace_back(tasks[i].id);
        }
        auto rows =
            store.query("SELECT task_id, status, CAST(finished_at AS TEXT) FROM result WHERE task_id IN (" +
                            marks + ") ORDER BY id",
                        ids);
        for (const auto& row : rows.rows) {
            Record r;
            r.set("status", row[1]).set("finished_at", row[2]);
            results[row[0].convert<Id>()].push_back(std::move(r));
        }
    }
    for (std::size_t i = 0; i < tasks.size(); ++i) {
        auto state = deriveState(results[tasks[i].id]);
        auto& json = *jsons[i];
        json.set("complete", state.complete);
        json.set("finished_at", state.finishedAt ? Poco::Dynamic::Var(sdk::renderDateTime(*state.finishedAt))
                                                 : Poco::Dynamic::Var());
        json.set("status", state.status);
    }
}

ResultPage ResultPage::load(sdk::Store& store, const std::vector<Record>& results) {
    ResultPage page;
    std::vector<Id> resultIds, taskIds;
    for (const auto& r : results) {
        page.results.insert(r.id);
        resultIds.push_back(r.id);
        if (auto t = r.integer("task_id"))
            taskIds.push_back(*t);
    }
    std::vector<Id> collaborations;
    for (auto& t : selectIn(store, "task", "id", taskIds)) {
        if (auto c = t.integer("collaboration_id"))
            collaborations.push_back(*c);
        page.tasks.emplace(t.id, std::move(t));
    }
    std::vector<Id> nodeIds;
    for (auto& n : selectIn(store, "node", "collaboration_id", collaborations)) {
        auto org = n.integer("organization_id");
        auto collaboration = n.integer("collaboration_id");
        // The first by id, as a query for the one node would find.
        if (org && collaboration && !page.nodes.count({*org, *collaboration})) {
            nodeIds.push_back(n.id);
            page.nodes.emplace(std::make_pair(*org, *collaboration), std::move(n));
        }
    }
    for (const auto& c : selectIn(store, "nodeconfig", "node_id", nodeIds))
        page.nodeConfigs[*c.integer("node_id")].push_back(c.id);
    for (auto& p : selectIn(store, "algorithmport", "result_id", resultIds))
        page.ports[*p.integer("result_id")].push_back(std::move(p));
    return page;
}

Object::Ptr taskJson(RequestContext& ctx, const Record& task, bool includeResults) {
    auto json = ctx.serialize("task", task);
    if (includeResults) {
        Array::Ptr nested = new Array;
        auto results = resultsOf(ctx.store(), task.id);
        auto page = ResultPage::load(ctx.store(), results);
        for (const auto& r : results) {
            auto item = taskResultJson(ctx, r, &page);
            item->remove("task");
            nested->add(item);
        }
        json->set("results", nested);
    }
    return json;
}

Object::Ptr resultExtras(RequestContext& ctx, const Record& result, bool includeTask, bool taskResult,
                         const ResultPage* page) {
    std::optional<ResultPage> own;
    if (!page || !page->results.count(result.id))
        page = &own.emplace(ResultPage::load(ctx.store(), {result}));
    Object::Ptr extra = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    const Record* task = nullptr;
    if (auto taskId = result.integer("task_id"))
        if (auto t = page->tasks.find(*taskId); t != page->tasks.end())
            task = &t->second;
    extra->set("node", nodeOf(*page, result, task));
    extra->set("ports", portsOf(*page, result.id));
    if (includeTask && task) {
        auto nested = taskJson(ctx, *task, false);
        nested->remove("results");
        extra->set("task", nested);
    }
    if (taskResult) {
        extra->set("organization", idOrNull(result, "organization_id"));
        extra->set("task", idOrNull(result, "task_id"));
    }
    return extra;
}

namespace {

Object::Ptr resultWith(RequestContext& ctx, const Record& result, const Object::Ptr& extra) {
    auto json = ctx.serialize("result", result);
    for (const auto& key : extra->getNames())
        json->set(key, extra->get(key));
    return json;
}

} // namespace

Object::Ptr resultJson(RequestContext& ctx, const Record& result, bool includeTask, const ResultPage* page) {
    return resultWith(ctx, result, resultExtras(ctx, result, includeTask, false, page));
}

Object::Ptr taskResultJson(RequestContext& ctx, const Record& result, const ResultPage* page) {
    return resultWith(ctx, result, resultExtras(ctx, result, false, true, page));
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
