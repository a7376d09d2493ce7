// Folder conventions of cli.md: system level under /etc and /var/lib, user level under XDG folders.
#include "instance.h"

#include "kernel/db/database_uri.h"

#include <Poco/Data/PostgreSQL/Connector.h>
#include <Poco/Data/Session.h>
#include <Poco/File.h>
#include <Poco/Path.h>
#include <cstdlib>
#include <stdexcept>

namespace dq::cli {

namespace {

std::string envOr(const char* name, const std::string& fallback) {
    const char* v = std::getenv(name);
    return v && *v ? v : fallback;
}

std::string home() {
    return envOr("HOME", "/root");
}

} // namespace

std::optional<std::string> Arguments::option(const std::string& name) const {
    auto it = options.find(name);
    if (it == options.end())
        return std::nullopt;
    return it->second;
}

std::string configFolder(bool system) {
    if (system)
        return envOr("DQ_SYSTEM_CONFIG_DIR", "/etc/dataquality/server");
    return envOr("XDG_CONFIG_HOME", home() + "/.config") + "/dataquality/server";
}

std::string dataFolder(bool system, const std::string& name) {
    if (system)
        return envOr("DQ_SYSTEM_DATA_DIR", "/var/lib/dataquality/server") + "/" + name;
    return envOr("XDG_DATA_HOME", home() + "/.local/share") + "/dataquality/server/" + name;
}

Instance resolveInstance(const Arguments& args) {
    Instance instance;
    instance.system = !args.flag("user");
    if (auto config = args.option("config")) {
        if (args.option("name"))
            throw std::runtime_error("give --config FILE or --name NAME, not both");
        Poco::Path path(*config);
        path.makeAbsolute();
        if (!Poco::File(path).exists())
            throw std::runtime_error("configuration file " + path.toString() + " does not exist");
        instance.configFile = path.toString();
        instance.name = path.getBaseName();
        // The file of a level's folder is that level's server, whichever flag came with it.
        for (bool system : {true, false}) {
            Poco::Path folder(configFolder(system));
            folder.makeDirectory();
            if (path.parent().toString() == folder.toString()) {
                if (args.flag(system ? "user" : "system"))
                    throw std::runtime_error(instance.configFile + " is a " +
                                             (system ? "system" : "user") + "-level configuration; drop --" +
                                             (system ? "user" : "system"));
                instance.system = system;
            }
        }
    } else if (auto name = args.option("name")) {
        instance.name = *name;
        instance.configFile = configFolder(instance.system) + "/" + *name + ".yaml";
        if (!Poco::File(instance.configFile).exists())
            throw std::runtime_error("no configuration '" + *name + "' at " + instance.configFile +
                                     (instance.system ? " (add --user for the user level)" : "") +
                                     "; create one with `vserver new --name " + *name +
                                     (instance.system ? "" : " --user") + "`");
    } else {
        throw std::runtime_error("which server? pass --name NAME (a configuration made by `vserver new`) or "
                                 "--config FILE");
    }
    instance.dataFolder = args.option("data-dir").value_or(dataFolder(instance.system, instance.name));
    instance.logFolder = instance.dataFolder;
    if (args.option("data-dir"))
        instance.logFolder = instance.dataFolder = Poco::Path(instance.dataFolder).absolute().toString();
    else if (instance.system)
        instance.logFolder = envOr("DQ_SYSTEM_LOG_DIR", "/var/log/dataquality");
    return instance;
}

kernel::ServerConfig loadConfig(const Instance& instance, const Arguments& args) {
    return kernel::ServerConfig::load(instance.configFile, args.option("environment").value_or(""));
}

namespace {

/// Whether the PostgreSQL database holds the kernel's schema table, i.e. a server migrated it.
/// When it cannot be asked, the kernel's own connection attempt reports why.
bool hasSchema(const kernel::DatabaseUri& uri) {
    try {
        Poco::Data::PostgreSQL::Connector::registerConnector();
        Poco::Data::Session session(uri.connector(), uri.connectionString());
        bool found = false;
        session << "SELECT to_regclass('dq_schema') IS NOT NULL", Poco::Data::Keywords::into(found),
            Poco::Data::Keywords::now;
        return found;
    } catch (const Poco::Exception&) {
        return true;
    }
}

} // namespace

void requireDatabase(const Instance& instance, const kernel::ServerConfig& config) {
    auto uri = kernel::DatabaseUri::parse(config.uri, instance.dataFolder);
    if (uri.kind == kernel::DatabaseUri::Kind::Postgresql) {
        if (hasSchema(uri))
            return;
        throw std::runtime_error("server " + instance.name + " has no database yet: " + uri.display() +
                                 " holds no tables of a dataquality-server (configuration " + instance.configFile +
                                 "); nothing was created. Start the server once (`vserver start`) or import into it "
                                 "(`vserver import`) to make them");
    }
    if (uri.path == ":memory:" || Poco::File(uri.path).exists())
        return;
    throw std::runtime_error("server " + instance.name + " has no database yet: looked for " + uri.path +
                             " (configuration " + instance.configFile + ", data folder " + instance.dataFolder +
                             "); nothing was created. Start the server once (`vserver start`) or import into it "
                             "(`vserver import`) to make it; or pass the --data-dir or --user/--system "
                             "that `vserver start` used");
}

} // namespace dq::cli
