// The kernel assembled: configuration, plugins, database, services and the HTTP API, started in
// phases so that a failure anywhere leaves nothing half-started.
#pragma once

#include "kernel/auth/identity_resolver.h"
#include "kernel/auth/password_hasher.h"
#include "kernel/auth/token_service.h"
#include "kernel/catalog/catalog.h"
#include "kernel/config/server_config.h"
#include "kernel/db/database.h"
#include "kernel/events/event_bus.h"
#include "kernel/events/event_channel.h"
#include "kernel/events/outbox.h"
#include "kernel/http/api_server.h"
#include "kernel/plugin_host/plugin_host.h"

#include <Poco/JSON/Object.h>
#include <map>
#include <memory>
#include <string>

namespace dq::kernel {

/// The plugins shipped with the server, in a sensible default order.
std::vector<std::string> bundledPlugins();
/// The bundled plugin folder, relative to the running program (bin/../lib/dataquality/plugins).
std::vector<std::string> defaultPluginFolders();
/// The folders of plugins.folders, then the bundled plugin folder.
std::vector<std::string> pluginFolders(const std::vector<std::string>& configured);

class Kernel {
public:
    /// `dataFolder` holds the SQLite file of relative `sqlite:///` URIs.
    Kernel(ServerConfig config, std::string dataFolder);
    ~Kernel();
    Kernel(const Kernel&) = delete;
    Kernel& operator=(const Kernel&) = delete;

    /// Loads and declares the plugins, validates their settings, opens and migrates the database.
    /// Throws StartupError with every problem found.
    void load();
    /// Starts the plugins (after load()). Throws StartupError naming the plugin.
    void start();
    /// Serves HTTP on the configured address (port 0: any free port).
    void serve();
    /// Stops serving (in-flight requests finish) and stops the plugins in reverse order.
    void shutdown();

    int port() const;
    const ServerConfig& config() const { return config_; }
    Catalog& catalog() { return catalog_; }
    Database& database() { return *database_; }
    /// The HTTP server (after start()).
    ApiServer& api() { return *api_; }
    PluginHost& host() { return host_; }
    EventBus& events() { return events_; }
    TokenService& tokens() { return *tokens_; }
    /// Waits until this process has delivered every event committed so far (tests); false on timeout.
    bool settleEvents(std::chrono::milliseconds timeout = std::chrono::seconds(10));
    /// This process's name among the servers on one database: `<host>/<config name>:<configured port>`.
    std::string processName() const;
    sdk::Services& servicesOf(const std::string& plugin);

    /// `{"version", "kernel", "sdk_abi", "plugins": {name: version}}`.
    Poco::JSON::Object::Ptr versionInfo() const;

private:
    class PluginServices;
    class PluginSettings;
    std::vector<std::string> validateSettings();

    ServerConfig config_;
    std::string dataFolder_;
    Catalog catalog_;
    EventBus events_;
    std::unique_ptr<TokenService> tokens_;
    std::unique_ptr<PasswordHasher> passwords_;
    PluginHost host_;
    std::unique_ptr<Database> database_;
    std::unique_ptr<Outbox> outbox_; ///< after database_: goes first
    std::unique_ptr<IdentityResolver> identities_; ///< watches database_'s writes
    std::map<std::string, std::unique_ptr<PluginSettings>> settings_;
    std::map<std::string, std::unique_ptr<PluginServices>> services_;
    std::unique_ptr<EventChannel> channel_; ///< /socket.io/, served through api_
    std::unique_ptr<ApiServer> api_;
    bool started_ = false;
};

} // namespace dq::kernel
