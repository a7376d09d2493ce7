// The roles plugin: roles, the rules every plugin declares, and which identity holds which rule.
#include "roles.h"

namespace dq::plugins::roles {

class RolesPlugin : public sdk::Plugin {
public:
    sdk::PluginInfo info() const override {
        return {"roles", sdk::kServerVersion, "Roles and permission rules (/role, /rule)", {"organizations"}};
    }

    void declare(sdk::Registry& registry) override {
        declareModels(registry);
        declareRules(registry);
        declareRoutes(registry);
        declareCommands(registry);
        registry.provide(sdk::kRuleSourceService, makeRuleSource());
    }

    void start(sdk::Services& services) override {
        auto declared = services.declaredRules();
        services.transaction([&](sdk::Store& store) { syncRulesAndRoles(store, declared, services.log()); });
    }
};

} // namespace dq::plugins::roles

DQ_PLUGIN(dq::plugins::roles::RolesPlugin)
