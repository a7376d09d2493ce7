// The users plugin: user accounts, login and token refresh, password changes, and who a user is.
#include "users.h"

namespace dq::plugins::users {

class UsersPlugin : public sdk::Plugin {
public:
    sdk::PluginInfo info() const override {
        return {"users",
                sdk::kServerVersion,
                "Users, login and passwords (/user, /token/user, /password/change)",
                {"organizations", "roles"}};
    }

    void declare(sdk::Registry& registry) override {
        declareModels(registry, passwords_);
        declareRules(registry);
        declareSettings(registry);
        declareRoutes(registry);
        declareAuthRoutes(registry, dummyHash_);
        declareRecoveryRoutes(registry);
        declareCommands(registry);
        declareImportSection(registry);
        registry.provide(sdk::kUserIdentityService, makeIdentityProvider());
    }

    void start(sdk::Services& services) override {
        *passwords_ = &services.passwords();
        *dummyHash_ = services.passwords().hash(sdk::nowUtc() + " is nobody's password");
        ensureRootUser(services);
    }

private:
    std::shared_ptr<sdk::Passwords*> passwords_ = std::make_shared<sdk::Passwords*>(nullptr);
    std::shared_ptr<std::string> dummyHash_ = std::make_shared<std::string>();
};

} // namespace dq::plugins::users

DQ_PLUGIN(dq::plugins::users::UsersPlugin)
