// The `organizations:` section of `vserver import`: one organization per entry, found again by name.
#include "organizations.h"

namespace dq::plugins::organizations {

namespace {

class OrganizationsSection : public sdk::ImportSection {
public:
    void check(const sdk::ImportValue& value, const sdk::ImportParent&, sdk::ImportCheck& check) override {
        if (!check.isList(value, "organizations"))
            return;
        for (const auto* entry : check.mappings(value, "name, domain, address1, ..."))
            for (const auto& field : kEditableFields)
                if (auto text = check.text(*entry, field, field == "name"); text && field == "name")
                    check.unique(*entry->find("name"), *text, names_);
    }

    void apply(const sdk::ImportValue& value, const sdk::ImportParent&, sdk::Store& store,
               sdk::ImportContext& context) override {
        for (const auto& entry : value.items) {
            // A key given without a value (`address2:`) is "", as the API stores it.
            sdk::Record wanted;
            for (const auto& field : kEditableFields)
                if (const auto* v = entry.find(field))
                    wanted.set(field, v->text);
            auto existing = store.select(kModel, sdk::Query().add(sdk::Condition::equal("name", wanted.text("name"))));
            sdk::Id id;
            if (existing.empty()) {
                id = store.insert(kModel, wanted);
                context.count("organizations", sdk::ImportOutcome::Created);
            } else {
                id = existing.front().id;
                sdk::Record changes;
                for (const auto& [field, v] : wanted.values)
                    if (existing.front().text(field) != v.toString())
                        changes.set(field, v);
                if (!changes.values.empty())
                    store.update(kModel, id, changes);
                context.count("organizations",
                              changes.values.empty() ? sdk::ImportOutcome::Unchanged : sdk::ImportOutcome::Updated);
            }
            context.imported(entry, id);
        }
    }

private:
    std::vector<std::string> names_;
};

} // namespace

void declareImportSection(sdk::Registry& registry) {
    registry.importSection({"organizations", "", kEditableFields,
                            "organizations, by name: name, domain, address1, address2, zipcode, country, "
                            "public_key (base64)",
                            [] { return std::make_shared<OrganizationsSection>(); }});
}

} // namespace dq::plugins::organizations
