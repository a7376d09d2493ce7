// The `tasks:` list of each collaboration in `vserver import`: image names. The k-th entry naming
// an image is the k-th task with that image in the collaboration (top-level tasks, in id order), so
// `["hello-world", "hello-world"]` makes two tasks and importing the file again makes none. A new
// task gets the next run_id, the first participant as initiator, and a pending result for each
// participant, as vantage6's import makes them.
#include "tasks.h"

#include <map>

namespace dq::plugins::tasks {

namespace {

class TasksSection : public sdk::ImportSection {
public:
    void check(const sdk::ImportValue& value, const sdk::ImportParent&, sdk::ImportCheck& check) override {
        if (!check.isList(value, "image names"))
            return;
        for (const auto& image : value.items)
            if (!image.isScalar() || image.text.empty())
                check.problem(image, "expected an image name");
    }

    void apply(const sdk::ImportValue& value, const sdk::ImportParent& parent, sdk::Store& store,
               sdk::ImportContext& context) override {
        // The participants, as the collaborations plugin resolved them to organizations.
        std::vector<Id> participants;
        if (const auto* list = parent.entry->find("participants"))
            for (const auto& p : list->items)
                if (auto id = context.idOf(p))
                    participants.push_back(*id);
        std::map<std::string, std::int64_t> seen;
        for (const auto& image : value.items) {
            auto k = ++seen[image.text];
            auto existing = store.count("task", sdk::Query()
                                                    .add(sdk::Condition::equal("collaboration_id", parent.id))
                                                    .add(sdk::Condition::equal("image", image.text))
                                                    .add(sdk::Condition::isNull("parent_id")));
            if (existing >= k) {
                context.count("tasks", sdk::ImportOutcome::Unchanged);
                continue;
            }
            Record task;
            task.set("name", std::string("Example task"))
                .set("description", std::string("Imported by vserver import"))
                .set("image", image.text)
                .set("collaboration_id", parent.id)
                .set("run_id", nextRunId(store))
                .set("database", std::string("default"))
                .set("created_at", sdk::nowUtc());
            if (!participants.empty())
                task.set("initiator_id", participants.front());
            auto taskId = store.insert("task", task);
            for (auto organization : participants) {
                Record result;
                result.set("task_id", taskId)
                    .set("organization_id", organization)
                    .set("input", std::string(""))
                    .set("status", std::string("pending"))
                    .set("assigned_at", sdk::nowUtc());
                store.insert("result", result);
            }
            context.count("tasks", sdk::ImportOutcome::Created);
        }
    }
};

} // namespace

void declareImportSection(sdk::Registry& registry) {
    registry.importSection({"tasks", "collaborations", {},
                            "image names: the k-th entry of an image is the k-th task with that image in "
                            "the collaboration, with a result per participant",
                            [] { return std::make_shared<TasksSection>(); }});
}

} // namespace dq::plugins::tasks
