// The "rules" service: users hold the rules of their roles plus their direct rules; nodes and
// containers hold the rules of the fixed roles "node" and "container".
#include "roles.h"

#include <algorithm>
#include <set>

namespace dq::plugins::roles {

namespace {

class RoleRules : public sdk::RuleSource {
public:
    std::vector<sdk::RuleKey> rulesOf(sdk::Store& store, const sdk::Identity& who) override {
        std::vector<sdk::Id> roleIds, ruleIds;
        if (who.is(sdk::ClientKind::User)) {
            // The user model and its associations belong to the users plugin; reach them by name.
            roleIds = store.associated("user", who.id, "roles");
            ruleIds = store.associated("user", who.id, "rules");
        } else if (who.is(sdk::ClientKind::Node) || who.is(sdk::ClientKind::Container)) {
            if (auto role = fixedRole(store, who.is(sdk::ClientKind::Node) ? "node" : "container"))
                roleIds.push_back(role->id);
        }
        for (auto role : roleIds) {
            auto more = store.associated("role", role, "rules");
            ruleIds.insert(ruleIds.end(), more.begin(), more.end());
        }
        if (ruleIds.empty())
            return {};
        std::sort(ruleIds.begin(), ruleIds.end());
        ruleIds.erase(std::unique(ruleIds.begin(), ruleIds.end()), ruleIds.end());
        std::vector<sdk::Value> values(ruleIds.begin(), ruleIds.end());
        sdk::Query q;
        q.add(sdk::Condition::in("id", values));
        std::set<sdk::RuleKey> keys;
        for (const auto& rule : store.select("rule", q))
            if (auto key = ruleKeyOf(rule))
                keys.insert(*key);
        return {keys.begin(), keys.end()};
    }
};

} // namespace

std::shared_ptr<sdk::RuleSource> makeRuleSource() {
    return std::make_shared<RoleRules>();
}

} // namespace dq::plugins::roles
