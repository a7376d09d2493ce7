// The `participants:` of each collaboration in `vserver import`: a node for each participant's
// organization in the collaboration, logging in with the given api key. Keys are hashed (or checked
// against the stored hash) before the write transaction opens, as the users' passwords are.
#include "nodes.h"

#include <map>
#include <regex>

namespace dq::plugins::nodes {

namespace {

class ParticipantsSection : public sdk::ImportSection {
public:
    explicit ParticipantsSection(std::shared_ptr<NodesState> state) : state_(std::move(state)) {}

    void check(const sdk::ImportValue& value, const sdk::ImportParent& parent, sdk::ImportCheck& check) override {
        // The collaborations plugin reports what is no list, no mapping, or lacks a name.
        static const std::regex uuid(
            "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$");
        const auto* collaboration = parent.entry->find("name");
        for (const auto& p : value.items) {
            if (!p.isMap())
                continue;
            auto key = check.text(p, "api_key", true);
            if (key && !std::regex_match(*key, uuid))
                check.problem(*p.find("api_key"), "expected a UUID such as 0d2b5f2e-1c1a-4c7e-9d1a-aa0000000001");
            else if (key && collaboration && collaboration->isScalar() && p.find("name") && p.find("name")->isScalar())
                secrets_.push_back({keyOf(p.find("name")->text, collaboration->text), *key});
        }
    }

    void prepare(sdk::ImportContext& context) override {
        std::map<std::string, std::string> stored;
        context.read([&](sdk::Store& store) {
            for (const auto& row : store
                                       .query("SELECT o.name, c.name, n.api_key FROM node n "
                                              "JOIN organization o ON n.organization_id = o.id "
                                              "JOIN collaboration c ON n.collaboration_id = c.id")
                                       .rows)
                if (!row[0].isEmpty() && !row[1].isEmpty() && !row[2].isEmpty())
                    stored[keyOf(row[0].convert<std::string>(), row[1].convert<std::string>())] =
                        row[2].convert<std::string>();
        });
        for (auto& s : secrets_)
            if (auto it = stored.find(s.key); it != stored.end())
                s.stored = it->second;
        context.verifyOrHash<Secret>(
            secrets_, [&](Secret& s) { s.columns = apiKeyColumns(context.passwords(), state_->pepper, s.clear); });
        for (auto& s : secrets_)
            byKey_[s.key] = &s;
    }

    void apply(const sdk::ImportValue& value, const sdk::ImportParent& parent, sdk::Store& store,
               sdk::ImportContext& context) override {
        const auto collaboration = parent.entry->find("name")->text;
        for (const auto& p : value.items) {
            const auto organization = p.find("name")->text;
            auto organizationId = context.idOf(p);
            if (!organizationId)
                throw std::logic_error("nodes: participant '" + organization + "' was not resolved to an organization");
            auto& secret = *byKey_.at(keyOf(organization, collaboration));
            auto existing = store.select(
                "node", sdk::Query()
                            .add(sdk::Condition::equal("organization_id", *organizationId))
                            .add(sdk::Condition::equal("collaboration_id", parent.id)));
            if (existing.empty()) {
                auto node = columnsOf(secret, context);
                node.set("name", organization + " - " + collaboration + " Node")
                    .set("organization_id", *organizationId)
                    .set("collaboration_id", parent.id);
                store.insert("node", node);
                context.count("nodes", sdk::ImportOutcome::Created);
            } else if (!secret.same || existing.front().text("api_key") != secret.stored) {
                // The node keeps its sessions, as it always did through the import (nodes of a
                // running federation stay connected while their keys are re-imported).
                store.update("node", existing.front().id, columnsOf(secret, context));
                context.count("nodes", sdk::ImportOutcome::Updated);
            } else {
                context.count("nodes", sdk::ImportOutcome::Unchanged);
            }
        }
    }

private:
    struct Secret {
        std::string key, clear;
        std::string stored;  ///< the hash stored before the import
        bool same = false;   ///< `stored` is the hash of `clear`
        sdk::Record columns; ///< the columns that store `clear` otherwise
    };

    static std::string keyOf(const std::string& organization, const std::string& collaboration) {
        return organization + "\n" + collaboration;
    }

    /// The columns to store; hashed now only when the stored key changed since prepare() (another import).
    sdk::Record columnsOf(Secret& secret, sdk::ImportContext& context) const {
        if (secret.columns.values.empty())
            secret.columns = apiKeyColumns(context.passwords(), state_->pepper, secret.clear);
        return secret.columns;
    }

    std::shared_ptr<NodesState> state_;
    std::vector<Secret> secrets_;
    std::map<std::string, Secret*> byKey_;
};

} // namespace

void declareImportSection(sdk::Registry& registry, const std::shared_ptr<NodesState>& state) {
    registry.importSection({"participants", "collaborations", {"name", "api_key"},
                            "a node per participant of the collaboration, logging in with api_key (a UUID, "
                            "stored hashed)",
                            [state] { return std::make_shared<ParticipantsSection>(state); }});
}

} // namespace dq::plugins::nodes
