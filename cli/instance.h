// A server instance as the CLI sees it: which config file, environment and data folder, from
// --name/--config/--environment/--system/--user/--data-dir. A server is its configuration file:
// however the file is named, the same data folder (database, log, pid file) belongs to it.
#pragma once

#include "kernel/config/server_config.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace dq::cli {

/// A parsed command line (see command_line.h): the command path and its positional arguments,
/// then the options given (flags map to "true").
struct Arguments {
    std::vector<std::string> words;
    std::map<std::string, std::string> options;

    bool flag(const std::string& name) const { return options.count(name) != 0; }
    std::optional<std::string> option(const std::string& name) const;
};

struct Instance {
    std::string name;
    std::string configFile;
    std::string dataFolder;
    /// Where its log goes: /var/log/dataquality (or $DQ_SYSTEM_LOG_DIR) for a system-level server
    /// in its default data folder, else the data folder.
    std::string logFolder;
    bool system = true;
};

/// Config folder of a level: /etc/dataquality/server (or $DQ_SYSTEM_CONFIG_DIR) or
/// $XDG_CONFIG_HOME/dataquality/server.
std::string configFolder(bool system);
/// Data folder of an instance: /var/lib/dataquality/server/NAME (or under $DQ_SYSTEM_DATA_DIR) or
/// $XDG_DATA_HOME/dataquality/server/NAME.
std::string dataFolder(bool system, const std::string& name);

/// Resolves the instance from --config or --name (+ --system/--user); throws std::runtime_error
/// saying what to pass when neither identifies a configuration. A --config file inside a level's
/// folder is that level's configuration (as if named by --name); another file takes its level
/// from --system/--user.
Instance resolveInstance(const Arguments& args);

/// Loads the instance's configuration for --environment.
kernel::ServerConfig loadConfig(const Instance& instance, const Arguments& args);

/// Commands that work on an existing server (all but new, start and import) never create its
/// database: throws, saying where the database was looked for and how to make one, when the
/// server has none yet.
void requireDatabase(const Instance& instance, const kernel::ServerConfig& config);

} // namespace dq::cli
