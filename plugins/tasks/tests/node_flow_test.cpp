// The whole node flow over HTTP: a researcher sends a task, nodes find and run their results, a
// container starts a child task, and the task ends completed with the right derived fields.
#include "federation.h"

namespace dq::plugins::tasks::test {
namespace {

class NodeFlow : public dq::test::BothDatabases {};

Object::Ptr link(const Object::Ptr& o, const std::string& key) {
    return o->getObject(key);
}

TEST_P(NodeFlow, TaskRunsThroughBothNodesAndEndsCompleted) {
    auto& s = server();
    Federation f(s);
    EventLog events(s);
    auto researcher = f.user(0, {{"task", "ORGANIZATION", "CREATE"},
                                 {"task", "ORGANIZATION", "VIEW"},
                                 {"result", "ORGANIZATION", "VIEW"}});

    // Structured input is stored JSON-encoded; a string (e.g. encrypted) is stored as given.
    auto body = f.taskBody({0, 1});
    Object::Ptr structured = new Object;
    structured->set("method", std::string("avg"));
    body->getArray("organizations")->getObject(0)->set("input", structured);
    auto created = s.post("/task", body, researcher);
    ASSERT_EQ(created.status, 201) << created.body;
    auto task = created.object();
    auto taskId = task->getValue<long long>("id");
    auto runId = task->getValue<long long>("run_id");
    EXPECT_EQ(runId, 1);
    EXPECT_EQ(task->getValue<std::string>("name"), "average");
    EXPECT_EQ(task->getValue<std::string>("image"), "hello-world");
    EXPECT_EQ(task->getValue<std::string>("database"), "default");
    EXPECT_EQ(task->getValue<long long>("initiator"), f.orgs[0]);
    EXPECT_EQ(task->getValue<long long>("init_user"), f.userIds["user1"]);
    EXPECT_EQ(link(task, "collaboration")->getValue<long long>("id"), f.collaboration);
    EXPECT_EQ(link(task, "collaboration")->getValue<std::string>("link"),
              "/api/collaboration/" + std::to_string(f.collaboration));
    EXPECT_TRUE(task->isNull("parent"));
    EXPECT_TRUE(task->isNull("children"));
    EXPECT_EQ(task->getArray("results")->size(), 2u);
    EXPECT_EQ(task->getValue<std::string>("status"), "pending");
    EXPECT_FALSE(task->getValue<bool>("complete"));
    EXPECT_TRUE(task->isNull("finished_at"));
    EXPECT_FALSE(task->has("collaboration_id"));
    EXPECT_NE(task->getValue<std::string>("created_at").find("+00:00"), std::string::npos);

    auto room = "collaboration_" + std::to_string(f.collaboration);
    auto announced = events.named("task_created");
    ASSERT_EQ(announced.size(), 1u);
    EXPECT_EQ(announced[0].room, room);
    auto payload = announced[0].payload.extract<Object::Ptr>();
    EXPECT_EQ(payload->getValue<long long>("task_id"), taskId);
    EXPECT_EQ(payload->getValue<long long>("run_id"), runId);
    EXPECT_EQ(payload->getValue<long long>("collaboration_id"), f.collaboration);
    EXPECT_EQ(payload->getValue<long long>("init_org_id"), f.orgs[0]);
    // One new_task per result, to the room of the organization whose node runs it (and none to the
    // third organization, which got no result).
    auto newTask = events.named("new_task");
    ASSERT_EQ(newTask.size(), 2u);
    for (int i = 0; i < 2; ++i) {
        EXPECT_EQ(newTask[i].room, room + "_organization_" + std::to_string(f.orgs[i]));
        EXPECT_EQ(newTask[i].payload.convert<long long>(), taskId);
    }

    // Each node finds exactly its own open result, with the task included.
    std::vector<std::string> nodeTokens{f.nodeToken(0), f.nodeToken(1), f.nodeToken(2)};
    std::vector<long long> resultIds;
    for (int i = 0; i < 2; ++i) {
        auto open =
            s.get("/result?state=open&include=task&node_id=" + std::to_string(f.nodes[i]), nodeTokens[i]);
        ASSERT_EQ(open.status, 200) << open.body;
        auto list = items(open);
        ASSERT_EQ(list->size(), 1u) << open.body;
        auto result = list->getObject(0);
        resultIds.push_back(result->getValue<long long>("id"));
        EXPECT_EQ(link(result, "organization")->getValue<long long>("id"), f.orgs[i]);
        EXPECT_EQ(result->getValue<std::string>("status"), "pending");
        EXPECT_FALSE(result->isNull("assigned_at"));
        EXPECT_TRUE(result->isNull("started_at"));
        auto nestedTask = result->getObject("task");
        EXPECT_EQ(nestedTask->getValue<long long>("id"), taskId);
        EXPECT_EQ(nestedTask->getValue<long long>("initiator"), f.orgs[0]);
        EXPECT_FALSE(nestedTask->has("results"));
        auto node = result->getObject("node");
        EXPECT_EQ(node->getValue<long long>("id"), f.nodes[i]);
        EXPECT_EQ(result->getArray("ports")->size(), 0u);
    }
    EXPECT_EQ(s.get("/result/" + std::to_string(resultIds[0]), nodeTokens[0])
                  .object()
                  ->getValue<std::string>("input"),
              "{\"method\":\"avg\"}");
    EXPECT_EQ(s.get("/result/" + std::to_string(resultIds[1]), nodeTokens[1])
                  .object()
                  ->getValue<std::string>("input"),
              "input-for-1");
    auto gammaOpen = s.get("/result?state=open&node_id=" + std::to_string(f.nodes[2]), nodeTokens[2]);
    ASSERT_EQ(gammaOpen.status, 200);
    EXPECT_EQ(items(gammaOpen)->size(), 0u);

    // The node's sequence: started_at, then status, then the outcome. Each PATCH changes only
    // what it sends.
    auto resultPath = "/result/" + std::to_string(resultIds[0]);
    auto started =
        s.patch(resultPath, json({{"started_at", std::string("2024-01-01T09:00:00.000000")}}), nodeTokens[0]);
    ASSERT_EQ(started.status, 200) << started.body;
    EXPECT_EQ(started.object()->getValue<std::string>("started_at"), "2024-01-01T09:00:00+00:00");
    EXPECT_EQ(started.object()->getValue<std::string>("status"), "pending");
    EXPECT_EQ(started.object()->getValue<std::string>("input"), "{\"method\":\"avg\"}");
    auto active = s.patch(resultPath, json({{"status", std::string("active")}}), nodeTokens[0]);
    ASSERT_EQ(active.status, 200) << active.body;
    EXPECT_EQ(active.object()->getValue<std::string>("started_at"), "2024-01-01T09:00:00+00:00");
    ASSERT_EQ(events.named("status_update").size(), 2u);
    EXPECT_EQ(events.named("status_update")[1].room, room);
    EXPECT_EQ(
        events.named("status_update")[1].payload.extract<Object::Ptr>()->getValue<long long>("result_id"),
        resultIds[0]);
    EXPECT_EQ(s.get("/task/" + std::to_string(taskId), researcher).object()->getValue<std::string>("status"),
              "active");

    // The container of Alpha's run gets a token and starts a child task for Beta.
    auto tokenReply =
        s.post("/token/container", json({{"task_id", taskId}, {"image", std::string("hello-world")}}),
               nodeTokens[0]);
    ASSERT_EQ(tokenReply.status, 200) << tokenReply.body;
    auto container = tokenReply.object()->getValue<std::string>("container_token");
    auto child = s.post("/task", f.taskBody({1}), container);
    ASSERT_EQ(child.status, 201) << child.body;
    auto childId = idOf(child);
    EXPECT_EQ(child.object()->getValue<long long>("run_id"), runId);
    EXPECT_EQ(link(child.object(), "parent")->getValue<long long>("id"), taskId);
    EXPECT_EQ(child.object()->getValue<long long>("init_user"), f.userIds["user1"]);
    EXPECT_EQ(child.object()->getValue<long long>("initiator"), f.orgs[0]);
    auto parent = s.get("/task/" + std::to_string(taskId), researcher).object();
    ASSERT_FALSE(parent->isNull("children"));
    EXPECT_EQ(idsOf(parent->getArray("children")), std::vector<long long>{childId});
    auto viaContainer = s.get("/task/" + std::to_string(taskId) + "/result", container);
    EXPECT_EQ(viaContainer.status, 200) << viaContainer.body;

    // Both nodes finish; the later finished_at is the task's.
    auto done = s.patch(resultPath,
                        json({{"result", std::string("b64-result")},
                              {"log", std::string("all good")},
                              {"status", std::string("completed")},
                              {"finished_at", std::string("2024-01-01T10:00:00.000000")}}),
                        nodeTokens[0]);
    ASSERT_EQ(done.status, 200) << done.body;
    EXPECT_EQ(done.object()->getValue<std::string>("result"), "b64-result");
    EXPECT_EQ(done.object()->getValue<std::string>("log"), "all good");
    EXPECT_EQ(done.object()->getValue<std::string>("started_at"), "2024-01-01T09:00:00+00:00");
    auto again = s.patch(resultPath, json({{"status", std::string("active")}}), nodeTokens[0]);
    EXPECT_EQ(again.status, 400);
    EXPECT_EQ(again.msg(), "Cannot update an already finished result!");

    auto midway = s.get("/task/" + std::to_string(taskId), researcher).object();
    EXPECT_FALSE(midway->getValue<bool>("complete"));
    EXPECT_TRUE(midway->isNull("finished_at"));
    EXPECT_EQ(midway->getValue<std::string>("status"), "pending");

    auto beta = s.patch("/result/" + std::to_string(resultIds[1]),
                        json({{"status", std::string("completed")},
                              {"result", std::string("r")},
                              {"finished_at", std::string("2024-01-01T11:30:00+00:00")}}),
                        nodeTokens[1]);
    ASSERT_EQ(beta.status, 200) << beta.body;

    auto finished = s.get("/task/" + std::to_string(taskId) + "?include=results", researcher);
    ASSERT_EQ(finished.status, 200) << finished.body;
    auto t = finished.object();
    EXPECT_TRUE(t->getValue<bool>("complete"));
    EXPECT_EQ(t->getValue<std::string>("status"), "completed");
    EXPECT_EQ(t->getValue<std::string>("finished_at"), "2024-01-01T11:30:00+00:00");
    auto nested = t->getArray("results");
    ASSERT_EQ(nested->size(), 2u);
    EXPECT_EQ(nested->getObject(0)->getValue<long long>("organization"), f.orgs[0]);
    EXPECT_FALSE(nested->getObject(0)->has("task"));

    EXPECT_EQ(items(s.get("/result?state=open&node_id=" + std::to_string(f.nodes[0]), nodeTokens[0]))->size(),
              0u);
    // A finished task gives no more container tokens.
    auto late = s.post("/token/container", json({{"task_id", taskId}, {"image", std::string("hello-world")}}),
                       nodeTokens[0]);
    EXPECT_EQ(late.status, 400);
    EXPECT_EQ(late.msg(), "Task is already finished!");
    // Nor does the token of a container of a finished task work any more.
    auto orphan = s.post("/task", f.taskBody({1}), container);
    EXPECT_EQ(orphan.status, 401);
    EXPECT_EQ(orphan.msg().rfind("Container-token is not valid", 0), 0u) << orphan.body;
}

TEST_P(NodeFlow, RunIdsIncreaseAndTaskListsNewestFirst) {
    auto& s = server();
    Federation f(s);
    auto first = f.task();
    auto second = f.task();
    auto list = s.get("/task", f.root);
    ASSERT_EQ(list.status, 200) << list.body;
    EXPECT_EQ(idsOf(items(list)), (std::vector<long long>{second, first}));
    EXPECT_EQ(items(list)->getObject(0)->getValue<long long>("run_id"), 2);
    EXPECT_EQ(items(list)->getObject(1)->getValue<long long>("run_id"), 1);
}

TEST_P(NodeFlow, ListFiltersSelectByTheirOwnField) {
    auto& s = server();
    Federation f(s);
    auto first = f.task({0, 1});
    auto second = f.task({2});
    f.finish(first, 0, "2024-03-01T10:00:00.000000");

    auto byStatus = [&](const std::string& status) {
        auto r = s.get("/task?status=" + status, f.root);
        EXPECT_EQ(r.status, 200) << r.body;
        return idsOf(items(r));
    };
    EXPECT_EQ(byStatus("pending"), (std::vector<long long>{second, first}));
    EXPECT_EQ(byStatus("completed"), std::vector<long long>{});
    EXPECT_EQ(byStatus("nonsense"), std::vector<long long>{});
    f.finish(first, 1);
    EXPECT_EQ(byStatus("completed"), std::vector<long long>{first});

    auto byResult = s.get("/task?result_id=" + std::to_string(f.resultOf(second, 2)), f.root);
    EXPECT_EQ(idsOf(items(byResult)), std::vector<long long>{second});
    EXPECT_EQ(items(s.get("/task?name=aver%25", f.root))->size(), 2u);
    EXPECT_EQ(items(s.get("/task?name=nothing%25", f.root))->size(), 0u);

    // finished_from compares finished_at (vantage6 3.11.1 compared assigned_at).
    auto finishedFrom = s.get("/result?finished_from=2024-02-01", f.root);
    ASSERT_EQ(finishedFrom.status, 200) << finishedFrom.body;
    EXPECT_EQ(idsOf(items(finishedFrom)), std::vector<long long>{f.resultOf(first, 0)});
    auto startedFrom = s.get("/result?started_from=2000-01-01", f.root);
    EXPECT_EQ(items(startedFrom)->size(), 0u);
    EXPECT_EQ(items(s.get("/result?assigned_from=2000-01-01", f.root))->size(), 3u);
    EXPECT_EQ(s.get("/result?finished_from=yesterday", f.root).status, 400);
    EXPECT_EQ(items(s.get("/result?state=open", f.root))->size(), 1u);
    EXPECT_EQ(s.get("/result?node_id=abc", f.root).status, 400);
}

DQ_ON_BOTH_DATABASES(NodeFlow);

} // namespace
} // namespace dq::plugins::tasks::test
