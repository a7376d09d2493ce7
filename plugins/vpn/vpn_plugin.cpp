// Entry of the vpn plugin: EduVPN settings, node routes for OpenVPN configs, container route for
// algorithm addresses.
#include "vpn.h"

#include <Poco/NumberParser.h>
#include <Poco/String.h>
#include <stdexcept>

namespace dq::plugins::vpn {

using Type = sdk::SettingDecl::Type;

void declareSettings(sdk::Registry& registry) {
    registry.setting(
        {"url", Type::Text, "", "EduVPN portal URL (empty: this server offers no VPN)", "vpn_server.url"});
    registry.setting({"redirect_url", Type::Text, "", "OAuth redirect URL registered for client_id",
                      "vpn_server.redirect_url"});
    registry.setting(
        {"client_id", Type::Text, "", "OAuth client id at the EduVPN server", "vpn_server.client_id"});
    registry.setting({"client_secret", Type::Text, "", "OAuth client secret", "vpn_server.client_secret"});
    registry.setting({"portal_username", Type::Text, "", "EduVPN portal user the server logs in as",
                      "vpn_server.portal_username"});
    registry.setting(
        {"portal_userpass", Type::Text, "", "password of portal_username", "vpn_server.portal_userpass"});
    registry.setting(
        {"timeout_seconds", Type::Integer, "10", "seconds the whole exchange with the EduVPN server may take",
         "", [](const std::string& v) {
             int n = 0;
             return Poco::NumberParser::tryParse(v, n) && n >= 1 && n <= 300 ? "" : "an integer 1-300";
         }});
}

VpnConfig configFrom(const sdk::Settings& settings) {
    auto text = [&](const char* key) { return settings.has(key) ? settings.text(key) : std::string(); };
    VpnConfig config{text("url"),
                     text("redirect_url"),
                     text("client_id"),
                     text("client_secret"),
                     text("portal_username"),
                     text("portal_userpass"),
                     static_cast<int>(settings.integer("timeout_seconds"))};
    if (!config.configured())
        return config;
    std::string missing;
    for (const char* key :
         {"redirect_url", "client_id", "client_secret", "portal_username", "portal_userpass"})
        if (text(key).empty())
            missing += std::string(missing.empty() ? "" : ", ") + "vpn_server." + key;
    if (!missing.empty())
        throw std::runtime_error(
            "vpn plugin: vpn_server.url is set, so the rest of the vpn_server block is needed "
            "too; missing: " +
            missing + " (or remove vpn_server.url to run without VPN)");
    auto scheme = Poco::toLower(config.url.substr(0, config.url.find(':')));
    if (scheme != "http" && scheme != "https")
        throw std::runtime_error("vpn plugin: vpn_server.url must start with http:// or https://, got \"" +
                                 config.url + "\"");
    return config;
}

class VpnPlugin : public sdk::Plugin {
public:
    sdk::PluginInfo info() const override {
        return {"vpn",
                sdk::kServerVersion,
                "VPN between algorithm containers (EduVPN configs, algorithm addresses)",
                {"nodes", "tasks"}};
    }

    void declare(sdk::Registry& registry) override {
        declareSettings(registry);
        declareRoutes(registry, config_);
    }

    void start(sdk::Services& services) override {
        *config_ = configFrom(services.settings());
        if (config_->configured())
            services.log().information("vpn: node VPN configs come from %s", config_->url);
        else
            services.log().information("vpn: no vpn_server.url configured; /vpn answers 501");
    }

private:
    std::shared_ptr<VpnConfig> config_ = std::make_shared<VpnConfig>();
};

} // namespace dq::plugins::vpn

DQ_PLUGIN(dq::plugins::vpn::VpnPlugin)
