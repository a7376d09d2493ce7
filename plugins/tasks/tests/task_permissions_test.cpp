// Who may list, create, view and delete tasks, and see task results: none / organization / global
// rules, for members of the task's collaboration and for an outsider.
#include "federation.h"

namespace dq::plugins::tasks::test {
namespace {

class TaskPermissions : public dq::test::BothDatabases {};

std::string path(const std::string& base, long long id, const std::string& rest = "") {
    return base + std::to_string(id) + rest;
}

TEST_P(TaskPermissions, ListingTasksFollowsTheViewScope) {
    auto& s = server();
    Federation f(s);
    auto task = f.task();
    auto none = f.user(0, {});
    auto member = f.user(2, {{"task", "ORGANIZATION", "VIEW"}});
    auto outsider = f.user(3, {{"task", "ORGANIZATION", "VIEW"}});
    auto global = f.user(3, {{"task", "GLOBAL", "VIEW"}});

    EXPECT_EQ(s.get("/task", none).status, 403);
    auto own = s.get("/task", member);
    ASSERT_EQ(own.status, 200) << own.body;
    EXPECT_EQ(idsOf(items(own)), std::vector<long long>{task});
    auto foreign = s.get("/task", outsider);
    ASSERT_EQ(foreign.status, 200) << foreign.body;
    EXPECT_EQ(items(foreign)->size(), 0u);
    EXPECT_EQ(idsOf(items(s.get("/task?include=results&page=1&per_page=20&include=metadata", global))),
              std::vector<long long>{task});
    auto node = s.get("/task", f.nodeToken(1));
    ASSERT_EQ(node.status, 200) << node.body;
    EXPECT_EQ(items(node)->size(), 1u);
}

TEST_P(TaskPermissions, CreatingTasksChecksInTheReferenceOrder) {
    auto& s = server();
    Federation f(s);
    auto none = f.user(0, {});
    auto member = f.user(0, {{"task", "ORGANIZATION", "CREATE"}});
    auto outsider = f.user(3, {{"task", "ORGANIZATION", "CREATE"}});
    auto globalOutsider = f.user(3, {{"task", "GLOBAL", "CREATE"}});

    auto missing = f.taskBody({0});
    missing->set("collaboration_id", 9999);
    auto r = s.post("/task", missing, member);
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(r.msg(), "Collaboration id=9999 not found!");

    r = s.post("/task", f.taskBody({0, 3}), member);
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.msg(), "At least one of the supplied organizations in not within the collaboration.");

    // Remove Gamma's node: it can no longer receive tasks.
    ASSERT_EQ(s.del("/node/" + std::to_string(f.nodes[2]), f.root).status, 200);
    r = s.post("/task", f.taskBody({0, 2}), member);
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.msg(), "Cannot create this task because there are no nodes registered for the following "
                       "organization(s): " +
                           std::to_string(f.orgs[2]) + ".");

    r = s.post("/task", f.taskBody({0}), outsider);
    EXPECT_EQ(r.status, 403);
    EXPECT_EQ(r.msg(), "You can only create tasks for collaborations you are participating in!");
    EXPECT_EQ(s.post("/task", f.taskBody({0}), globalOutsider).status, 403);
    EXPECT_EQ(s.post("/task", f.taskBody({0}), f.root).status, 403);
    EXPECT_EQ(s.post("/task", f.taskBody({0}), none).status, 403);
    EXPECT_EQ(s.post("/task", f.taskBody({0}), f.nodeToken(0)).status, 400);

    auto unknownField = f.taskBody({0});
    unknownField->set("colour", std::string("red"));
    EXPECT_EQ(s.post("/task", unknownField, member).status, 400);
    auto badTargets = f.taskBody({0});
    badTargets->set("organizations", std::string("all"));
    EXPECT_EQ(s.post("/task", badTargets, member).status, 400);

    EXPECT_EQ(s.post("/task", f.taskBody({0, 1}), member).status, 201);
    EXPECT_EQ(items(s.get("/result", f.root))->size(), 2u);
}

TEST_P(TaskPermissions, ViewingOneTaskNeedsGlobalOrMembership) {
    auto& s = server();
    Federation f(s);
    auto task = f.task();
    auto p = path("/task/", task);
    EXPECT_EQ(s.get(p, f.user(1, {})).status, 403);
    EXPECT_EQ(s.get(p, f.user(2, {{"task", "ORGANIZATION", "VIEW"}})).status, 200);
    EXPECT_EQ(s.get(p, f.user(3, {{"task", "ORGANIZATION", "VIEW"}})).status, 403);
    EXPECT_EQ(s.get(p, f.user(3, {{"task", "GLOBAL", "VIEW"}})).status, 200);
    auto missing = s.get("/task/9999", f.root);
    EXPECT_EQ(missing.status, 404);
    EXPECT_EQ(missing.msg(), "task id=9999 is not found");
}

TEST_P(TaskPermissions, TaskResultsNeedResultViewRights) {
    auto& s = server();
    Federation f(s);
    auto task = f.task();
    auto p = path("/task/", task, "/result");
    EXPECT_EQ(s.get(p, f.user(1, {{"task", "ORGANIZATION", "VIEW"}})).status, 403);
    auto member = s.get(p, f.user(1, {{"result", "ORGANIZATION", "VIEW"}}));
    ASSERT_EQ(member.status, 200) << member.body;
    ASSERT_EQ(items(member)->size(), 2u);
    EXPECT_EQ(items(member)->getObject(0)->getValue<long long>("task"), task);
    EXPECT_EQ(items(member)->getObject(0)->getValue<long long>("organization"), f.orgs[0]);
    EXPECT_EQ(s.get(p, f.user(3, {{"result", "ORGANIZATION", "VIEW"}})).status, 403);
    EXPECT_EQ(s.get(p, f.user(3, {{"result", "GLOBAL", "VIEW"}})).status, 200);
    EXPECT_EQ(s.get(p, f.nodeToken(0)).status, 400);
    auto missing = s.get("/task/9999/result", f.root);
    EXPECT_EQ(missing.status, 404);
    EXPECT_EQ(missing.msg(), "Task id=9999 not found");
}

TEST_P(TaskPermissions, DeletingATaskNeedsDeleteRightsAndKillsItFirst) {
    auto& s = server();
    Federation f(s);
    EventLog events(s);
    auto task = f.task();
    auto p = path("/task/", task);
    EXPECT_EQ(s.del(p, f.user(0, {{"task", "ORGANIZATION", "VIEW"}})).status, 403);
    EXPECT_EQ(s.del(p, f.user(3, {{"task", "ORGANIZATION", "DELETE"}})).status, 403);
    EXPECT_EQ(s.del(p, f.nodeToken(0)).status, 400);
    EXPECT_EQ(s.del("/task/9999", f.root).status, 404);

    auto deleted = s.del(p, f.user(1, {{"task", "ORGANIZATION", "DELETE"}}));
    ASSERT_EQ(deleted.status, 200) << deleted.body;
    EXPECT_EQ(deleted.msg(), "task id=" + std::to_string(task) + " and its result successfully deleted");
    auto kills = events.named("kill_containers");
    ASSERT_EQ(kills.size(), 1u);
    EXPECT_EQ(kills[0].room, "collaboration_" + std::to_string(f.collaboration));
    EXPECT_EQ(kills[0].payload.extract<Object::Ptr>()->getArray("kill_list")->size(), 2u);
    EXPECT_EQ(s.get(p, f.root).status, 404);

    auto second = f.task();
    f.finish(second, 0);
    f.finish(second, 1);
    events.clear();
    EXPECT_EQ(s.del(path("/task/", second), f.user(3, {{"task", "GLOBAL", "DELETE"}})).status, 200);
    EXPECT_EQ(events.named("kill_containers").size(), 0u);
}

DQ_ON_BOTH_DATABASES(TaskPermissions);

} // namespace
} // namespace dq::plugins::tasks::test
