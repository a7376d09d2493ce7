// Results, ports, container tokens and kill requests: who may do what, and what deleting a task or
// its collaboration leaves behind.
#include "federation.h"

namespace dq::plugins::tasks::test {
namespace {

class ResultAccess : public dq::test::BothDatabases {};

std::string at(const std::string& base, long long id) {
    return base + std::to_string(id);
}

TEST_P(ResultAccess, ViewingResultsFollowsTheViewScope) {
    auto& s = server();
    Federation f(s);
    auto task = f.task();
    auto result = f.resultOf(task, 0);
    auto none = f.user(2, {});
    auto member = f.user(2, {{"result", "ORGANIZATION", "VIEW"}});
    auto outsider = f.user(3, {{"result", "ORGANIZATION", "VIEW"}});
    auto global = f.user(3, {{"result", "GLOBAL", "VIEW"}});

    EXPECT_EQ(s.get("/result", none).status, 403);
    EXPECT_EQ(items(s.get("/result", member))->size(), 2u);
    auto foreign = s.get("/result", outsider);
    ASSERT_EQ(foreign.status, 200);
    EXPECT_EQ(items(foreign)->size(), 0u);
    EXPECT_EQ(items(s.get("/result?include=task", global))->size(), 2u);

    EXPECT_EQ(s.get(at("/result/", result), none).status, 403);
    EXPECT_EQ(s.get(at("/result/", result), member).status, 200);
    EXPECT_EQ(s.get(at("/result/", result), outsider).status, 403);
    auto withTask = s.get(at("/result/", result) + "?include=task", global);
    ASSERT_EQ(withTask.status, 200);
    EXPECT_EQ(withTask.object()->getObject("task")->getValue<long long>("id"), task);
    auto missing = s.get("/result/9999", f.root);
    EXPECT_EQ(missing.status, 404);
    EXPECT_EQ(missing.msg(), "Result id=9999 not found!");
}

TEST_P(ResultAccess, OnlyTheOwningNodePatchesAResult) {
    auto& s = server();
    Federation f(s);
    auto task = f.task();
    auto result = at("/result/", f.resultOf(task, 0));
    auto update = json({{"status", std::string("active")}});
    auto foreign = s.patch(result, update, f.nodeToken(1));
    EXPECT_EQ(foreign.status, 403);
    EXPECT_EQ(foreign.msg(), "This is not your result to PATCH!");
    EXPECT_EQ(s.patch(result, update, f.root).status, 400);
    EXPECT_EQ(s.patch("/result/9999", update, f.nodeToken(0)).status, 404);
    EXPECT_EQ(s.patch(result, json({{"finished_at", std::string("soon")}}), f.nodeToken(0)).status, 400);
    EXPECT_EQ(s.patch(result, json({{"colour", std::string("red")}}), f.nodeToken(0)).status, 400);
    EXPECT_EQ(s.patch(result, update, f.nodeToken(0)).status, 200);
}

TEST_P(ResultAccess, ContainerTokensOnlyForTheNodesOwnRunningTasks) {
    auto& s = server();
    Federation f(s);
    auto task = f.task();
    auto request = [&](long long id, const std::string& image) {
        return json({{"task_id", id}, {"image", image}});
    };
    auto node = f.nodeToken(2);
    EXPECT_EQ(s.post("/token/container", request(task, "hello-world"), f.root).status, 400);
    auto missing = s.post("/token/container", request(9999, "hello-world"), node);
    EXPECT_EQ(missing.status, 400);
    EXPECT_EQ(missing.msg(), "Master task does not exist!");
    auto image = s.post("/token/container", request(task, "other-image"), node);
    EXPECT_EQ(image.status, 403);
    EXPECT_EQ(image.msg(), "Image and task do no match");
    EXPECT_EQ(s.post("/token/container", request(task, "hello-world"), node).status, 200);

    // A node of another collaboration.
    auto other = s.post(
        "/collaboration",
        json({{"name", std::string("Other")}, {"organization_ids", dq::test::ids({f.orgs[3]})}}), f.root);
    ASSERT_EQ(other.status, 200) << other.body;
    auto outsiderNode =
        s.post("/node", json({{"collaboration_id", idOf(other)}, {"organization_id", f.orgs[3]}}), f.root);
    ASSERT_EQ(outsiderNode.status, 201) << outsiderNode.body;
    auto login =
        s.post("/token/node", json({{"api_key", outsiderNode.object()->getValue<std::string>("api_key")}}));
    auto foreign = s.post("/token/container", request(task, "hello-world"),
                          login.object()->getValue<std::string>("access_token"));
    EXPECT_EQ(foreign.status, 403);
    EXPECT_EQ(foreign.msg(), "You are not within the collaboration");
}

TEST_P(ResultAccess, ContainerTokenEndsWhenItsTaskIsDeletedOrFinished) {
    auto& s = server();
    Federation f(s);
    auto finished = f.task(), deleted = f.task();
    auto tokenFor = [&](long long task) {
        auto r = s.post("/token/container", json({{"task_id", task}, {"image", std::string("hello-world")}}),
                        f.nodeToken(0));
        EXPECT_EQ(r.status, 200) << r.body;
        return r.status == 200 ? r.object()->getValue<std::string>("container_token") : "";
    };
    auto ofFinished = tokenFor(finished), ofDeleted = tokenFor(deleted);
    ASSERT_EQ(s.get(at("/task/", finished), ofFinished).status, 200);
    ASSERT_EQ(s.get(at("/task/", finished), ofDeleted).status, 200);

    ASSERT_EQ(s.del(at("/task/", deleted), f.root).status, 200);
    auto afterDelete = s.get(at("/task/", finished), ofDeleted);
    EXPECT_EQ(afterDelete.status, 401) << afterDelete.body;

    f.finish(finished, 0);
    // One of two results finished: the task still runs, and so may its containers.
    EXPECT_EQ(s.get(at("/task/", finished), ofFinished).status, 200);
    f.finish(finished, 1);
    auto afterFinish = s.get(at("/task/", finished), ofFinished);
    EXPECT_EQ(afterFinish.status, 401) << afterFinish.body;
}

TEST_P(ResultAccess, PortsBelongToTheNodeThatRunsTheResult) {
    auto& s = server();
    Federation f(s);
    auto task = f.task();
    auto result = f.resultOf(task, 0);
    auto port = json({{"port", 8888}, {"result_id", result}, {"label", std::string("api")}});
    EXPECT_EQ(s.post("/port", port, f.nodeToken(1)).status, 403);
    EXPECT_EQ(s.post("/port", port, f.root).status, 400);
    EXPECT_EQ(s.post("/port", json({{"port", 1}, {"result_id", 9999}}), f.nodeToken(0)).status, 404);
    auto created = s.post("/port", port, f.nodeToken(0));
    ASSERT_EQ(created.status, 201) << created.body;
    auto portId = idOf(created);
    EXPECT_EQ(created.object()->getValue<long long>("port"), 8888);
    EXPECT_EQ(created.object()->getValue<std::string>("label"), "api");
    EXPECT_EQ(created.object()->getValue<long long>("result"), result);

    auto shown = s.get(at("/result/", result), f.root).object()->getArray("ports");
    ASSERT_EQ(shown->size(), 1u);
    EXPECT_EQ(shown->getObject(0)->getValue<long long>("port"), 8888);

    auto none = f.user(1, {});
    auto member = f.user(1, {{"port", "ORGANIZATION", "VIEW"}});
    auto outsider = f.user(3, {{"port", "ORGANIZATION", "VIEW"}});
    auto global = f.user(3, {{"port", "GLOBAL", "VIEW"}});
    EXPECT_EQ(s.get("/port", none).status, 403);
    EXPECT_EQ(idsOf(items(s.get("/port?task_id=" + std::to_string(task), member))),
              std::vector<long long>{portId});
    EXPECT_EQ(items(s.get("/port?run_id=99", member))->size(), 0u);
    EXPECT_EQ(items(s.get("/port", outsider))->size(), 0u);
    EXPECT_EQ(items(s.get("/port", global))->size(), 1u);
    EXPECT_EQ(s.get(at("/port/", portId), member).status, 200);
    EXPECT_EQ(s.get(at("/port/", portId), outsider).status, 403);
    EXPECT_EQ(s.get(at("/port/", portId), global).status, 200);
    EXPECT_EQ(s.get(at("/port/", portId), none).status, 403);
    EXPECT_EQ(s.get("/port/9999", global).status, 404);

    auto noResult = s.del("/port", f.nodeToken(0));
    EXPECT_EQ(noResult.status, 400);
    EXPECT_EQ(noResult.msg(), "The result_id argument is required!");
    EXPECT_EQ(s.del("/port?result_id=" + std::to_string(result), f.nodeToken(1)).status, 403);
    auto removed = s.del("/port?result_id=" + std::to_string(result), f.nodeToken(0));
    EXPECT_EQ(removed.status, 200);
    EXPECT_EQ(removed.msg(), "Ports removed from the database.");
    EXPECT_EQ(items(s.get("/port", global))->size(), 0u);
}

TEST_P(ResultAccess, KillingATaskNeedsEventCreateRights) {
    auto& s = server();
    Federation f(s);
    EventLog events(s);
    auto task = f.task();
    auto body = json({{"id", task}});
    auto noId = s.post("/kill/task", json({}), f.root);
    EXPECT_EQ(noId.status, 400);
    EXPECT_EQ(noId.msg(), "No task id provided!");
    EXPECT_EQ(s.post("/kill/task", json({{"id", 9999}}), f.root).status, 404);
    EXPECT_EQ(s.post("/kill/task", body, f.user(0, {{"task", "GLOBAL", "DELETE"}})).status, 403);
    EXPECT_EQ(s.post("/kill/task", body, f.user(3, {{"event", "ORGANIZATION", "CREATE"}})).status, 403);
    EXPECT_EQ(s.post("/kill/task", body, f.nodeToken(0)).status, 400);
    EXPECT_EQ(events.named("kill_containers").size(), 0u);

    auto killed = s.post("/kill/task", body, f.user(1, {{"event", "ORGANIZATION", "CREATE"}}));
    ASSERT_EQ(killed.status, 200) << killed.body;
    EXPECT_EQ(killed.msg(), "Nodes have been instructed to kill any containers running for task " +
                                std::to_string(task) + ".");
    auto kills = events.named("kill_containers");
    ASSERT_EQ(kills.size(), 1u);
    auto payload = kills[0].payload.extract<Object::Ptr>();
    EXPECT_EQ(payload->getValue<long long>("collaboration_id"), f.collaboration);
    auto first = payload->getArray("kill_list")->getObject(0);
    EXPECT_EQ(first->getValue<long long>("task_id"), task);
    EXPECT_TRUE(first->has("result_id"));
    EXPECT_TRUE(first->has("organization_id"));
    auto after = s.get(at("/task/", task), f.root).object();
    EXPECT_EQ(after->getValue<std::string>("status"), "failed");
    // Killed results count as finished, so the task cannot be killed again.
    EXPECT_EQ(s.post("/kill/task", body, f.user(3, {{"event", "GLOBAL", "CREATE"}})).status, 400);
}

TEST_P(ResultAccess, KillingANodesTasksNeedsEventCreateRightsForThatNode) {
    auto& s = server();
    Federation f(s);
    EventLog events(s);
    auto body = json({{"id", f.nodes[1]}});
    EXPECT_EQ(s.post("/kill/node/tasks", json({}), f.root).status, 400);
    EXPECT_EQ(s.post("/kill/node/tasks", json({{"id", 9999}}), f.root).status, 404);
    auto offline = s.post("/kill/node/tasks", body, f.root);
    EXPECT_EQ(offline.status, 400) << offline.body;
    f.setOnline(1);

    EXPECT_EQ(s.post("/kill/node/tasks", body, f.user(1, {{"task", "GLOBAL", "CREATE"}})).status, 403);
    EXPECT_EQ(s.post("/kill/node/tasks", body, f.user(0, {{"event", "ORGANIZATION", "CREATE"}})).status, 403);
    EXPECT_EQ(s.post("/kill/node/tasks", body, f.user(3, {{"event", "COLLABORATION", "CREATE"}})).status,
              403);
    EXPECT_EQ(events.named("kill_containers").size(), 0u);

    EXPECT_EQ(s.post("/kill/node/tasks", body, f.user(1, {{"event", "ORGANIZATION", "CREATE"}})).status, 200);
    EXPECT_EQ(s.post("/kill/node/tasks", body, f.user(0, {{"event", "COLLABORATION", "CREATE"}})).status,
              200);
    EXPECT_EQ(s.post("/kill/node/tasks", body, f.user(3, {{"event", "GLOBAL", "CREATE"}})).status, 200);
    auto kills = events.named("kill_containers");
    ASSERT_EQ(kills.size(), 3u);
    EXPECT_EQ(kills[0].room, "collaboration_" + std::to_string(f.collaboration));
    auto payload = kills[0].payload.extract<Object::Ptr>();
    EXPECT_EQ(payload->getValue<long long>("node_id"), f.nodes[1]);
    EXPECT_EQ(payload->getValue<long long>("collaboration_id"), f.collaboration);
}

TEST_P(ResultAccess, DeletingTasksOrTheirCollaborationLeavesNoBrokenRows) {
    auto& s = server();
    Federation f(s);
    auto parent = f.task();
    auto nodeA = f.nodeToken(0);
    auto container =
        s.post("/token/container", json({{"task_id", parent}, {"image", std::string("hello-world")}}), nodeA);
    ASSERT_EQ(container.status, 200) << container.body;
    auto child =
        s.post("/task", f.taskBody({1}), container.object()->getValue<std::string>("container_token"));
    ASSERT_EQ(child.status, 201) << child.body;
    auto childId = idOf(child);
    ASSERT_EQ(s.post("/port", json({{"port", 1}, {"result_id", f.resultOf(parent, 0)}}), nodeA).status, 201);

    ASSERT_EQ(s.del(at("/task/", parent), f.root).status, 200);
    auto orphan = s.get(at("/task/", childId), f.root);
    ASSERT_EQ(orphan.status, 200) << orphan.body;
    EXPECT_TRUE(orphan.object()->isNull("parent"));
    EXPECT_EQ(items(s.get("/result", f.root))->size(), 1u);
    EXPECT_EQ(items(s.get("/port", f.root))->size(), 0u);

    f.task();
    auto gone = s.del(at("/collaboration/", f.collaboration), f.root);
    ASSERT_EQ(gone.status, 200) << gone.body;
    auto tasks = s.get("/task?include=results", f.root);
    EXPECT_EQ(tasks.status, 200) << tasks.body;
    auto results = s.get("/result?include=task", f.root);
    EXPECT_EQ(results.status, 200) << results.body;
    EXPECT_EQ(s.get("/result", f.user(0, {{"result", "ORGANIZATION", "VIEW"}})).status, 200);
    EXPECT_EQ(s.get("/task", f.user(0, {{"task", "ORGANIZATION", "VIEW"}})).status, 200);
    EXPECT_EQ(s.get("/port", f.root).status, 200);
}

DQ_ON_BOTH_DATABASES(ResultAccess);

} // namespace
} // namespace dq::plugins::tasks::test
