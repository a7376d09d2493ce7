// The tasks plugin's internal interface: model declarations, the JSON views of tasks and results
// (with the derived task state), and the route handlers the entry file registers.
#pragma once

#include <dq/sdk/plugin.h>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace dq::plugins::tasks {

using sdk::Id;
using sdk::Record;
using sdk::RequestContext;
using sdk::Response;

// ---- models.cpp ----

sdk::ModelDecl taskModel();
sdk::ModelDecl resultModel();
sdk::ModelDecl portModel();
/// The list filters of /task, /result and /port (registered on the models, so every list of those
/// models, also ones served by other plugins, understands them).
void declareFilters(sdk::Registry& registry);
/// One more than the highest run_id: a new task's own run.
Id nextRunId(sdk::Store& store);

// ---- import_section.cpp ----

/// The `tasks:` list of each collaboration in `vserver import`.
void declareImportSection(sdk::Registry& registry);

// ---- views.cpp ----

/// What vantage6 derives from a task's results (section 2 of the reference).
struct TaskState {
    std::string status;                    ///< unknown, failed, active, initializing, pending, completed
    bool complete = true;                  ///< every result has finished_at (vacuously true)
    std::optional<std::string> finishedAt; ///< stored form; max finished_at when complete
};
TaskState deriveState(const std::vector<Record>& results);
/// A result still running or waiting: only these are killed.
bool isRunning(const std::string& status);
std::vector<Record> resultsOf(sdk::Store& store, Id taskId);

/// Task JSON; `includeResults` nests the results as TaskResult objects (TaskIncluded).
/// Page decorator of the task model: `complete`, `finished_at` and `status`, derived from the
/// results, wherever a task is serialized (also in other plugins' lists such as
/// /collaboration/<id>/task); one query for a page of tasks.
void addDerivedStates(sdk::Store& store, const std::vector<Record>& tasks,
                      const std::vector<Poco::JSON::Object*>& jsons);
/// Insert hooks: `task_created` to the task's collaboration; `new_task` (the task id) to the room
/// of the organization whose node runs the new result. Made by the API, the shell or an import alike.
void announceTask(sdk::Store& store, sdk::Events& events, const Record& task);
void announceResult(sdk::Store& store, sdk::Events& events, const Record& result);
Poco::JSON::Object::Ptr taskJson(RequestContext& ctx, const Record& task, bool includeResults);
/// What the JSON of a page of results needs besides the results, loaded with a few queries for the
/// whole page: their tasks, the nodes that run them with their configs, their ports.
struct ResultPage {
    std::set<Id> results; ///< the results it was loaded for
    std::map<Id, Record> tasks;
    std::map<std::pair<Id, Id>, Record> nodes; ///< (organization, collaboration) -> node
    std::map<Id, std::vector<Id>> nodeConfigs; ///< node -> its nodeconfig ids
    std::map<Id, std::vector<Record>> ports;   ///< result -> its ports
    static ResultPage load(sdk::Store& store, const std::vector<Record>& results);
};
/// What a result's JSON has besides serialize()'s: `node` and `ports`; with `includeTask` the task
/// object minus its results in place of the task link; for a TaskResult (`taskResult`) raw ids for
/// organization and task. `page`: loaded for a list; a result it does not cover is loaded on its own.
Poco::JSON::Object::Ptr resultExtras(RequestContext& ctx, const Record& result, bool includeTask, bool taskResult,
                                     const ResultPage* page);
/// Result JSON; `includeTask` replaces the task link with the task object minus its results.
/// `page`: loaded for a list; a result it does not cover is loaded on its own.
Poco::JSON::Object::Ptr resultJson(RequestContext& ctx, const Record& result, bool includeTask,
                                   const ResultPage* page = nullptr);
/// TaskResult: a Result with raw ids for organization and task.
Poco::JSON::Object::Ptr taskResultJson(RequestContext& ctx, const Record& result,
                                       const ResultPage* page = nullptr);
Poco::JSON::Object::Ptr portJson(RequestContext& ctx, const Record& port);

// ---- shared checks (views.cpp) ----

/// The caller's organization is a member of `collaborationId` (false for a task without one).
bool inCollaboration(RequestContext& ctx, const sdk::Value& collaborationId);
/// `column IN (ids)`, or a condition that matches nothing when `ids` is empty.
sdk::Condition columnIn(const std::string& column, const std::vector<Id>& ids);
/// `<prefix>?, ?, ...))` over the ids: rows whose task is in one of `collaborations`, where `prefix`
/// ends in "collaboration_id IN ("; matches nothing when the list is empty.
sdk::Condition inCollaborations(const std::string& prefix, const std::vector<Id>& collaborations);
/// The node that runs `result` is the caller (same organization and collaboration).
bool runsResult(RequestContext& ctx, const Record& result);
/// Sends `kill_containers` for the running results of `task` and marks them killed by user.
void killTask(RequestContext& ctx, const Record& task);

// ---- task_routes.cpp ----

Response listTasks(RequestContext& ctx);
Response createTask(RequestContext& ctx);
Response getTask(RequestContext& ctx);
Response deleteTask(RequestContext& ctx);
Response listTaskResults(RequestContext& ctx);
Response createContainerToken(RequestContext& ctx);

// ---- result_routes.cpp ----

Response listResults(RequestContext& ctx);
Response getResult(RequestContext& ctx);
Response patchResult(RequestContext& ctx);

// ---- port_routes.cpp ----

Response listPorts(RequestContext& ctx);
Response createPort(RequestContext& ctx);
Response deletePorts(RequestContext& ctx);
Response getPort(RequestContext& ctx);

// ---- kill_routes.cpp ----

Response killTaskRoute(RequestContext& ctx);
Response killNodeTasks(RequestContext& ctx);

} // namespace dq::plugins::tasks
