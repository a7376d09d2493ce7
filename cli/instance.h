// A server instance as the CLI sees it: which config file, environment and data folder, from
// --name/--config/--environment/--system/--user.
#pragma once

#include "kernel/config/server_config.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace dq::cli {

/// Parsed command line: the words, then --options (value or flag).
struct Arguments {
    std::vector<std::string> words;
    std::map<std::string, std::string> options; ///< "--x y" and "--x=y"; flags map to "true"
    std::vector<std::string> errors;
    /// The command line as given, to parse again once a plugin command's own flags are known.
    std::vector<std::string> raw;

    bool flag(const std::string& name) const { return options.count(name) != 0; }
    std::optional<std::string> option(const std::string& name) const;
};

/// `flags`: option names that take no value.
Arguments parseArguments(int argc, char** argv, const std::vector<std::string>& flags);
Arguments parseArguments(const std::vector<std::string>& raw, const std::vector<std::string>& flags);

struct Instance {
    std::string name;
    std::string configFile;
    std::string dataFolder;
    bool system = true;
};

/// Config folder of a level: /etc/dataquality/server (or $DQ_SYSTEM_CONFIG_DIR) or
/// $XDG_CONFIG_HOME/dataquality/server.
std::string configFolder(bool system);
/// Data folder of an instance: /var/lib/dataquality/server/NAME (or under $DQ_SYSTEM_DATA_DIR) or
/// $XDG_DATA_HOME/dataquality/server/NAME.
std::string dataFolder(bool system, const std::string& name);

/// Resolves the instance from --config or --name (+ --system/--user); throws std::runtime_error
/// saying what to pass when neither identifies a configuration.
Instance resolveInstance(const Arguments& args);

/// Loads the instance's configuration for --environment.
kernel::ServerConfig loadConfig(const Instance& instance, const Arguments& args);

} // namespace dq::cli
