// The `collaborations:` section of `vserver import`: collaborations found again by name, whose
// members are the organizations named under `participants` (members are added, never removed).
// Each participant entry is imported as its organization's id, for the sections nested here (the
// nodes plugin's node per participant, the tasks plugin's results).
#include "collaborations.h"

#include <algorithm>

namespace dq::plugins::collaborations {

namespace {

class CollaborationsSection : public sdk::ImportSection {
public:
    void check(const sdk::ImportValue& value, const sdk::ImportParent&, sdk::ImportCheck& check) override {
        if (!check.isList(value, "collaborations"))
            return;
        for (const auto* entry : check.mappings(value, "name, encrypted, participants, tasks")) {
            if (auto name = check.text(*entry, "name", true))
                check.unique(*entry->find("name"), *name, names_);
            check.boolean(*entry, "encrypted");
            if (const auto* participants = check.list(*entry, "participants", "organizations (name, api_key)"))
                for (const auto* p : check.mappings(*participants, "name and api_key"))
                    check.text(*p, "name", true);
        }
    }

    void apply(const sdk::ImportValue& value, const sdk::ImportParent&, sdk::Store& store,
               sdk::ImportContext& context) override {
        for (const auto& entry : value.items) {
            auto name = entry.find("name")->text;
            bool encrypted = true; // vantage6's default
            if (const auto* e = entry.find("encrypted"))
                encrypted = e->boolean().value_or(true);
            std::vector<sdk::Id> members;
            if (const auto* participants = entry.find("participants"))
                for (const auto& p : participants->items) {
                    auto organization = p.find("name")->text;
                    auto found = store.select("organization",
                                              sdk::Query().add(sdk::Condition::equal("name", organization)));
                    if (found.empty())
                        throw std::runtime_error("collaboration '" + name + "': participant '" + organization +
                                                 "' is no organization in the file or the database (" + p.path +
                                                 ", line " + std::to_string(p.line) + ")");
                    members.push_back(found.front().id);
                    context.imported(p, found.front().id);
                }
            auto existing = store.select("collaboration", sdk::Query().add(sdk::Condition::equal("name", name)));
            sdk::Id id;
            if (existing.empty()) {
                sdk::Record r;
                r.set("name", name).set("encrypted", encrypted);
                id = store.insert("collaboration", r);
                store.setAssociated("collaboration", id, "organizations", members);
                context.count("collaborations", sdk::ImportOutcome::Created);
            } else {
                id = existing.front().id;
                bool changed = false;
                if (existing.front().boolean("encrypted") != encrypted) {
                    sdk::Record r;
                    r.set("encrypted", encrypted);
                    store.update("collaboration", id, r);
                    changed = true;
                }
                auto current = store.associated("collaboration", id, "organizations");
                for (auto m : members)
                    if (std::find(current.begin(), current.end(), m) == current.end()) {
                        current.push_back(m);
                        changed = true;
                    }
                if (changed)
                    store.setAssociated("collaboration", id, "organizations", current);
                context.count("collaborations", changed ? sdk::ImportOutcome::Updated : sdk::ImportOutcome::Unchanged);
            }
            context.imported(entry, id);
        }
    }

private:
    std::vector<std::string> names_;
};

} // namespace

void declareImportSection(sdk::Registry& registry) {
    registry.importSection({"collaborations", "", {"name", "encrypted", "participants"},
                            "collaborations, by name: name, encrypted (default true), participants (the "
                            "member organizations, by name)",
                            [] { return std::make_shared<CollaborationsSection>(); }});
}

} // namespace dq::plugins::collaborations
