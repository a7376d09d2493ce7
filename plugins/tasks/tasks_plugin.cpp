// The tasks plugin: researchers send tasks to the nodes of a collaboration, each node runs its
// result and reports back; containers get tokens and may start child tasks; users kill tasks.
#include "tasks.h"

namespace dq::plugins::tasks {

using sdk::ClientKind;
using sdk::Method;
using sdk::Operation;
using sdk::Scope;

/// "identity.container": a container token holds while its task exists and has not finished.
class ContainerIdentity : public sdk::IdentityProvider {
public:
    std::optional<sdk::Identity> resolve(sdk::Store& store, sdk::Id taskId) override {
        if (!store.find("task", taskId) || deriveState(resultsOf(store, taskId)).complete)
            return std::nullopt;
        sdk::Identity container;
        container.kind = ClientKind::Container;
        container.taskId = taskId;
        return container;
    }
};

class TasksPlugin : public sdk::Plugin {
public:
    sdk::PluginInfo info() const override {
        return {"tasks",
                "1.0.0",
                "Tasks, results, algorithm ports, kill events and container tokens.",
                {"collaborations", "nodes", "users"}};
    }

    void declare(sdk::Registry& registry) override {
        registry.model(taskModel());
        registry.model(resultModel());
        registry.model(portModel());
        registry.decoratePage("task", addDerivedStates);
        registry.afterInsert("task", announceTask);
        registry.afterInsert("result", announceResult);
        declareFilters(registry);
        declareRules(registry);
        declareRoutes(registry);
        declareImportSection(registry);
        registry.provide(sdk::kContainerIdentityService, std::make_shared<ContainerIdentity>());
    }

private:
    // The order of vantage6 3.11.1 (task, result, then port and event): it fixes the rule ids.
    static void declareRules(sdk::Registry& r) {
        r.rule({"task", Scope::Global, Operation::View, "view any task"});
        r.rule({"task", Scope::Organization, Operation::View,
                "view tasks of the collaborations of your organization", true, true});
        r.rule({"task", Scope::Global, Operation::Create, "create a task for any collaboration"});
        r.rule({"task", Scope::Organization, Operation::Create,
                "create a task for the collaborations of your organization"});
        r.rule({"task", Scope::Global, Operation::Delete, "delete any task"});
        r.rule({"task", Scope::Organization, Operation::Delete,
                "delete tasks of the collaborations of your organization"});

        r.rule({"result", Scope::Global, Operation::View, "view any result"});
        r.rule({"result", Scope::Organization, Operation::View,
                "view the results of tasks in the collaborations of your organization", true, true});

        r.rule({"port", Scope::Global, Operation::View, "view any algorithm port"});
        r.rule({"port", Scope::Organization, Operation::View,
                "view the algorithm ports of tasks in the collaborations of your organization", true, true});

        // vantage6 names receiving events VIEW and sending them CREATE.
        r.rule({"event", Scope::Organization, Operation::View, "receive events of your organization"});
        r.rule({"event", Scope::Collaboration, Operation::View,
                "receive events of the collaborations of your organization"});
        r.rule({"event", Scope::Global, Operation::View, "receive events of all collaborations"});
        r.rule({"event", Scope::Organization, Operation::Create,
                "send events (such as kill) to the nodes of your organization"});
        r.rule({"event", Scope::Collaboration, Operation::Create,
                "send events (such as kill) to the nodes of the collaborations of your organization"});
        r.rule({"event", Scope::Global, Operation::Create, "send events (such as kill) to any node"});
    }

    static void declareRoutes(sdk::Registry& r) {
        const std::vector<ClientKind> any = {ClientKind::User, ClientKind::Node, ClientKind::Container};
        const std::vector<ClientKind> user = {ClientKind::User};
        const std::vector<ClientKind> node = {ClientKind::Node};
        r.route({Method::Get, "/task", any, listTasks, "List tasks"});
        r.route({Method::Post,
                 "/task",
                 {ClientKind::User, ClientKind::Container},
                 createTask,
                 "Create a task with one result per organization"});
        sdk::RouteDoc create{Method::Post, "/task"};
        create.body = {{"collaboration_id", sdk::ApiField::Type::Integer, true},
                       {"organizations", sdk::ApiField::Type::List, true,
                        "`[{\"id\": <organization id>, \"input\": <input for its node>}]`"},
                       {"name", sdk::ApiField::Type::Text},
                       {"description", sdk::ApiField::Type::Text},
                       {"image", sdk::ApiField::Type::Text, false, "the algorithm's Docker image"},
                       {"database", sdk::ApiField::Type::Text},
                       {"master", sdk::ApiField::Type::Boolean, false, "sent by older clients; ignored"}};
        r.document(create);
        r.route({Method::Get, "/task/<id>", any, getTask, "Get a task"});
        r.route({Method::Delete, "/task/<id>", user, deleteTask, "Delete a task and its results"});
        r.route({Method::Get,
                 "/task/<id>/result",
                 {ClientKind::User, ClientKind::Container},
                 listTaskResults,
                 "List the results of a task"});

        r.route({Method::Get, "/result", any, listResults, "List results"});
        r.route({Method::Get, "/result/<id>", any, getResult, "Get a result"});
        r.route({Method::Patch, "/result/<id>", node, patchResult, "Update a result (nodes)"});

        r.route({Method::Post, "/token/container", node, createContainerToken,
                 "Token for an algorithm container of a task"});

        r.route({Method::Get, "/port", any, listPorts, "List algorithm ports"});
        r.route({Method::Post, "/port", node, createPort, "Register an algorithm port (nodes)"});
        r.route({Method::Delete, "/port", node, deletePorts, "Remove the ports of a result (nodes)"});
        r.route({Method::Get, "/port/<id>", any, getPort, "Get an algorithm port"});

        r.route({Method::Post, "/kill/task", user, killTaskRoute, "Kill the containers of a task"});
        r.route({Method::Post, "/kill/node/tasks", user, killNodeTasks, "Kill all containers of a node"});

        // For the API description: rules the kernel cannot infer from these paths.
        r.document(
            {Method::Get,
             "/task/<id>/result",
             "",
             {{"result", Scope::Global, Operation::View}, {"result", Scope::Organization, Operation::View}}});
        const std::vector<sdk::RuleKey> kill{{"event", Scope::Global, Operation::Create},
                                             {"event", Scope::Collaboration, Operation::Create},
                                             {"event", Scope::Organization, Operation::Create}};
        r.document({Method::Post, "/kill/task", "", kill});
        r.document({Method::Post, "/kill/node/tasks", "", kill});
    }
};

} // namespace dq::plugins::tasks

DQ_PLUGIN(dq::plugins::tasks::TasksPlugin)
