// The plugin host: finds, checks, loads, declares, starts and stops plugins (Boost.DLL).
#pragma once

#include "kernel/catalog/catalog.h"

#include <dq/sdk/plugin.h>
#include <functional>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace dq::kernel {

/// Every problem found while starting, reported at once. what() is all of them, one per line.
class StartupError : public std::runtime_error {
public:
    explicit StartupError(std::vector<std::string> problems);
    const std::vector<std::string>& problems() const { return problems_; }

private:
    std::vector<std::string> problems_;
};

struct LoadedPlugin {
    std::string name;
    std::string file;
    sdk::PluginInfo info;
    int abiMajor = 0;
    int abiMinor = 0;
    std::shared_ptr<sdk::Plugin> plugin;
    bool started = false;
};

class PluginHost {
public:
    struct Options {
        std::vector<std::string> enabled; ///< plugin names; the file is lib<name>.so
        std::vector<std::string> folders; ///< searched in order
        std::set<std::string> optional;   ///< may fail to load or start without refusing the server
    };

    explicit PluginHost(Catalog& catalog);
    /// Stops what is still started, drops the catalog's declarations, then unloads.
    ~PluginHost();

    /// Finds each file, checks its ABI marker without running it, loads it, orders by dependencies,
    /// calls declare() into the catalog and freezes it. Throws StartupError listing every problem
    /// (missing file, not a plugin, ABI mismatch, name clash, missing dependency, cycle, a throw
    /// in info/declare, conflicting declarations); nothing is left loaded then.
    /// Order: a plugin after the ones it requires; otherwise the order of `enabled`. An optional
    /// plugin that fails is skipped with a warning (and so are optional plugins requiring it),
    /// unless a plugin that is not optional requires it.
    void load(const Options& options);

    /// Calls start() in dependency order. When one throws, the ones already started are stopped
    /// in reverse order and StartupError names the plugin and the phase.
    void start(const std::function<sdk::Services&(const LoadedPlugin&)>& servicesFor);

    /// stop() in exactly the reverse start order; exceptions are kept as warnings, not propagated.
    void stop();

    /// In dependency (load) order.
    const std::vector<LoadedPlugin>& plugins() const { return plugins_; }
    /// Warnings such as an optional plugin that was skipped.
    const std::vector<std::string>& warnings() const { return warnings_; }

private:
    Catalog& catalog_;
    /// Each plugin object also keeps its library loaded (the plugin is released first).
    std::vector<LoadedPlugin> plugins_;
    std::vector<std::string> warnings_;
    /// Plugins whose failure refuses the start: not optional, or required by one that is.
    std::set<std::string> mandatory_;
};

} // namespace dq::kernel
