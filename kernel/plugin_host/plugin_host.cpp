// The plugin host: finds plugin files, checks their ABI marker without running them, loads them in
// dependency order, and drives declare / start / stop, catching everything plugin code throws.
#include "kernel/plugin_host/plugin_host.h"

// library_info.hpp uses std::vector without including it.
#include <algorithm>
#include <boost/dll/import.hpp>
#include <boost/dll/library_info.hpp>
#include <boost/dll/shared_library.hpp>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <map>
#include <vector>

namespace dq::kernel {

namespace {

using Library = boost::dll::shared_library;

const char* const kFactorySymbol = "dq_plugin_create";
const char* const kMarkerPrefix = "dq_sdk_abi_";

std::string join(const std::vector<std::string>& parts, const std::string& separator) {
    std::string out;
    for (const auto& part : parts)
        out += (out.empty() ? "" : separator) + part;
    return out;
}

/// The message of the exception being handled, whatever a plugin threw. Call only inside a catch.
std::string currentExceptionText() {
    try {
        throw;
    } catch (const std::exception& e) {
        return e.what();
    } catch (...) {
        return "unknown exception";
    }
}

/// Owns a plugin object together with its library. The plugin is declared last so it is destroyed
/// first: its destructor (and its shared_ptr's control block) is code of the library.
struct PluginKeeper {
    std::shared_ptr<Library> library;
    std::shared_ptr<sdk::Plugin> plugin;
};

/// One enabled plugin on its way through load().
struct Candidate {
    std::string name;
    bool optional = false;
    std::string file;
    int abiMajor = 0;
    int abiMinor = 0;
    std::shared_ptr<Library> library;
    std::shared_ptr<sdk::Plugin> plugin;
    sdk::PluginInfo info;
    bool hasInfo = false;
    /// What went wrong with this plugin itself (file, marker, load, info, declare).
    std::vector<std::string> failures;
    /// Not loaded further: failed, skipped, or waiting on a plugin that was.
    bool out = false;
};

std::vector<std::string> findFiles(const std::string& name, const std::vector<std::string>& folders) {
    std::vector<std::string> found;
    std::vector<std::filesystem::path> searched;
    for (const auto& folder : folders) {
        std::error_code ec;
        auto canonical = std::filesystem::weakly_canonical(folder, ec);
        if (ec)
            canonical = std::filesystem::path(folder).lexically_normal();
        // The same folder listed twice (or via a symlink) is not a second copy of the plugin.
        if (std::find(searched.begin(), searched.end(), canonical) != searched.end())
            continue;
        searched.push_back(canonical);
        auto path = std::filesystem::path(folder) / ("lib" + name + ".so");
        if (std::filesystem::is_regular_file(path, ec))
            found.push_back(path.string());
    }
    return found;
}

/// Parses "dq_sdk_abi_<major>_<minor>".
bool parseMarker(const std::string& symbol, int& major, int& minor) {
    if (symbol.rfind(kMarkerPrefix, 0) != 0)
        return false;
    const char* p = symbol.data() + std::char_traits<char>::length(kMarkerPrefix);
    const char* end = symbol.data() + symbol.size();
    auto [afterMajor, ec1] = std::from_chars(p, end, major);
    if (ec1 != std::errc() || afterMajor == end || *afterMajor != '_')
        return false;
    auto [afterMinor, ec2] = std::from_chars(afterMajor + 1, end, minor);
    return ec2 == std::errc() && afterMinor == end;
}

/// Reads the plugin's exported symbols from the file. Nothing of the file runs here: a library's
/// static initializers run at dlopen, and a plugin built for another ABI must never get that far.
bool inspect(Candidate& c) {
    if (!std::ifstream(c.file, std::ios::binary)) {
        c.failures.push_back(c.file + ": cannot be read; check its permissions");
        return false;
    }
    std::vector<std::string> symbols;
    bool hasSection = false;
    try {
        boost::dll::library_info info(c.file);
        symbols = info.symbols(sdk::kPluginSection);
        auto sections = info.sections();
        hasSection = std::find(sections.begin(), sections.end(), sdk::kPluginSection) != sections.end();
    } catch (...) {
        // Not an ELF file of this platform: reported as "not a plugin" below.
    }
    bool hasFactory = std::find(symbols.begin(), symbols.end(), kFactorySymbol) != symbols.end();
    bool hasMarker = false;
    for (const auto& symbol : symbols)
        if (parseMarker(symbol, c.abiMajor, c.abiMinor)) {
            hasMarker = true;
            break;
        }
    if (!hasFactory || !hasMarker) {
        if (hasSection && symbols.empty())
            c.failures.push_back(c.file + ": has a " + sdk::kPluginSection +
                                 " section but no symbol table (was it stripped?); strip plugins with "
                                 "--strip-debug at most, the server reads the dq_sdk_abi marker from it");
        else
            c.failures.push_back(c.file + ": not a dataquality plugin (no " + sdk::kPluginSection +
                                 " section / dq_sdk_abi marker); was it built with DQ_PLUGIN?");
        return false;
    }
    if (c.abiMajor != sdk::kAbiMajor || c.abiMinor > sdk::kAbiMinor) {
        c.failures.push_back(c.file + ": built for SDK ABI " + std::to_string(c.abiMajor) + "." +
                             std::to_string(c.abiMinor) + ", this server has ABI " +
                             std::to_string(sdk::kAbiMajor) + "." + std::to_string(sdk::kAbiMinor) +
                             "; rebuild the plugin against SDK " + std::to_string(sdk::kAbiMajor) + ".x");
        return false;
    }
    return true;
}

/// dlopen, create the plugin object, ask for its info.
bool instantiate(Candidate& c) {
    try {
        // rtld_now: an unresolved symbol fails here, not in the middle of a request.
        c.library =
            std::make_shared<Library>(boost::dll::fs::path(c.file),
                                      boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
    } catch (const std::exception& e) {
        c.failures.push_back("plugin '" + c.name + "' could not be loaded from " + c.file + ": " + e.what() +
                             "; install the libraries it needs or rebuild it against this server's SDK");
        return false;
    }
    std::shared_ptr<sdk::Plugin> created;
    try {
        // The factory is exported as an alias (a pointer in the dqplugin section): import_alias.
        auto create = boost::dll::import_alias<sdk::PluginFactory>(*c.library, kFactorySymbol);
        created = create();
    } catch (...) {
        c.failures.push_back("plugin '" + c.name + "' failed in create: " + currentExceptionText());
        return false;
    }
    if (!created) {
        c.failures.push_back("plugin '" + c.name + "' failed in create: " + kFactorySymbol +
                             " returned no plugin");
        return false;
    }
    auto keeper = std::make_shared<PluginKeeper>(PluginKeeper{c.library, std::move(created)});
    c.plugin = std::shared_ptr<sdk::Plugin>(keeper, keeper->plugin.get());
    try {
        c.info = c.plugin->info();
    } catch (...) {
        c.failures.push_back("plugin '" + c.name + "' failed in info: " + currentExceptionText());
        return false;
    }
    c.hasInfo = true;
    if (c.info.name != c.name) {
        c.failures.push_back(c.file + ": the plugin calls itself '" + c.info.name +
                             "' in info() but is enabled as '" + c.name + "'; enable it as '" + c.info.name +
                             "' (file lib" + c.info.name + ".so) or fix info().name");
        return false;
    }
    return true;
}

} // namespace

StartupError::StartupError(std::vector<std::string> problems)
    : std::runtime_error(join(problems, "\n")), problems_(std::move(problems)) {}

PluginHost::PluginHost(Catalog& catalog) : catalog_(catalog) {}

PluginHost::~PluginHost() {
    stop();
    // Declarations hold callables of the libraries: drop them before the plugins, and the plugins
    // (each holding its library) last.
    catalog_.clear();
    plugins_.clear();
}

void PluginHost::load(const Options& options) {
    if (!plugins_.empty())
        throw std::logic_error("PluginHost::load called twice");

    std::vector<std::string> problems;
    std::vector<Candidate> candidates;
    std::map<std::string, std::size_t> byName;
    for (const auto& name : options.enabled) {
        if (byName.count(name)) {
            problems.push_back("plugin '" + name + "' is listed twice in plugins.enabled; list it once");
            continue;
        }
        byName[name] = candidates.size();
        auto& c = candidates.emplace_back();
        c.name = name;
        c.optional = options.optional.count(name) > 0;
    }
    for (const auto& name : options.optional)
        if (!byName.count(name))
            warnings_.push_back("plugins.optional names '" + name +
                                "', which is not in plugins.enabled; it is ignored");

    const std::string folderList =
        options.folders.empty() ? "(no folders configured)" : join(options.folders, ", ");
    for (auto& c : candidates) {
        auto files = findFiles(c.name, options.folders);
        if (files.empty()) {
            c.failures.push_back("plugin '" + c.name + "': no file lib" + c.name + ".so in " + folderList +
                                 "; check plugins.folders or install the plugin");
            continue;
        }
        if (files.size() > 1) {
            auto last = files.back();
            files.pop_back();
            c.failures.push_back("plugin '" + c.name + "' found " +
                                 (files.size() == 1 ? "twice" : std::to_string(files.size() + 1) + " times") +
                                 ": " + join(files, ", ") + " and " + last +
                                 "; remove one or narrow plugins.folders");
            continue;
        }
        c.file = files.front();
        if (inspect(c))
            instantiate(c);
    }

    // A failure is fatal for a plugin that is not optional, and for an optional one that a fatal
    // one requires; every other failure skips the plugin with a warning.
    mandatory_.clear();
    std::vector<std::size_t> work;
    for (std::size_t i = 0; i < candidates.size(); ++i)
        if (!candidates[i].optional) {
            mandatory_.insert(candidates[i].name);
            work.push_back(i);
        }
    while (!work.empty()) {
        const auto& c = candidates[work.back()];
        work.pop_back();
        for (const auto& dependency : c.info.dependencies) {
            auto it = byName.find(dependency);
            if (it != byName.end() && mandatory_.insert(dependency).second)
                work.push_back(it->second);
        }
    }
    auto isMandatory = [&](const Candidate& c) { return mandatory_.count(c.name) > 0; };
    auto fail = [&](Candidate& c, const std::string& problem) {
        c.out = true;
        if (isMandatory(c))
            problems.push_back(problem);
        else
            warnings_.push_back("optional plugin '" + c.name + "' skipped: " + problem);
    };

    for (auto& c : candidates) {
        for (const auto& failure : c.failures)
            fail(c, failure);
        if (c.out)
            continue;
        for (const auto& dependency : c.info.dependencies)
            if (!byName.count(dependency))
                fail(c, "plugin '" + c.name + "' requires '" + dependency +
                            "', which is not enabled; add it to plugins.enabled");
    }

    // Takes out everything that requires a plugin that is out, until nothing changes. Only
    // optional plugins get a warning: a mandatory one waits on a failure already reported.
    auto dropDependents = [&] {
        for (bool changed = true; changed;) {
            changed = false;
            for (auto& c : candidates) {
                if (c.out)
                    continue;
                for (const auto& dependency : c.info.dependencies) {
                    if (!candidates[byName.at(dependency)].out)
                        continue;
                    c.out = changed = true;
                    if (!isMandatory(c))
                        warnings_.push_back("optional plugin '" + c.name + "' skipped: it requires '" +
                                            dependency + "', which was skipped");
                    break;
                }
            }
        }
    };
    dropDependents();

    // Topological order; among plugins whose requirements are placed, the one enabled first.
    std::vector<std::size_t> order;
    std::set<std::string> placed;
    for (;;) {
        std::vector<std::size_t> remaining;
        for (std::size_t i = 0; i < candidates.size(); ++i)
            if (!candidates[i].out && !placed.count(candidates[i].name))
                remaining.push_back(i);
        if (remaining.empty())
            break;
        auto ready = std::find_if(remaining.begin(), remaining.end(), [&](std::size_t i) {
            const auto& deps = candidates[i].info.dependencies;
            return std::all_of(deps.begin(), deps.end(), [&](const auto& d) { return placed.count(d) > 0; });
        });
        if (ready != remaining.end()) {
            placed.insert(candidates[*ready].name);
            order.push_back(*ready);
            continue;
        }
        // Stuck: every remaining plugin waits on another remaining one, so following the first
        // such requirement from any of them runs into a cycle.
        std::vector<std::size_t> path;
        std::size_t current = remaining.front();
        while (std::find(path.begin(), path.end(), current) == path.end()) {
            path.push_back(current);
            for (const auto& d : candidates[current].info.dependencies) {
                std::size_t next = byName.at(d);
                if (!placed.count(d)) {
                    current = next;
                    break;
                }
            }
        }
        std::vector<std::size_t> cycle(std::find(path.begin(), path.end(), current), path.end());
        std::rotate(cycle.begin(), std::min_element(cycle.begin(), cycle.end()), cycle.end());
        std::vector<std::string> names;
        for (auto i : cycle)
            names.push_back(candidates[i].name);
        names.push_back(names.front());
        const std::string message = "dependency cycle: " + join(names, " -> ");
        // In a cycle all are mandatory or none: each requires the others.
        if (isMandatory(candidates[cycle.front()]))
            problems.push_back(message + "; remove one of these requirements or disable one of the plugins");
        else
            warnings_.push_back("optional plugins " +
                                join(std::vector(names.begin(), names.end() - 1), ", ") +
                                " skipped: " + message);
        for (auto i : cycle)
            candidates[i].out = true;
        dropDependents();
    }

    for (auto i : order) {
        auto& c = candidates[i];
        auto dependency = std::find_if(c.info.dependencies.begin(), c.info.dependencies.end(),
                                       [&](const auto& d) { return candidates[byName.at(d)].out; });
        if (dependency != c.info.dependencies.end()) {
            c.out = true;
            if (!isMandatory(c))
                warnings_.push_back("optional plugin '" + c.name + "' skipped: it requires '" + *dependency +
                                    "', which was skipped");
            continue;
        }
        const auto conflictsBefore = catalog_.conflicts().size();
        std::string failure;
        {
            auto registry = catalog_.registryFor(c.name, c.library);
            try {
                c.plugin->declare(*registry);
            } catch (...) {
                failure = "plugin '" + c.name + "' failed in declare: " + currentExceptionText();
            }
        }
        if (isMandatory(c)) {
            if (!failure.empty())
                problems.push_back(failure);
            continue;
        }
        std::vector<std::string> own(catalog_.conflicts().begin() + conflictsBefore,
                                     catalog_.conflicts().end());
        if (!failure.empty())
            own.insert(own.begin(), failure);
        if (own.empty())
            continue;
        c.out = true;
        catalog_.forget(c.name);
        for (const auto& problem : own)
            warnings_.push_back("optional plugin '" + c.name + "' skipped: " + problem);
    }
    for (const auto& conflict : catalog_.conflicts())
        problems.push_back(conflict);

    if (!problems.empty()) {
        for (const auto& c : candidates)
            catalog_.forget(c.name);
        catalog_.clear();
        // Each plugin goes before its library (PluginKeeper); only then the libraries themselves.
        for (auto& c : candidates)
            c.plugin.reset();
        candidates.clear();
        mandatory_.clear();
        throw StartupError(std::move(problems));
    }

    catalog_.freeze();
    for (auto i : order) {
        auto& c = candidates[i];
        if (c.out)
            continue;
        plugins_.push_back({c.name, c.file, c.info, c.abiMajor, c.abiMinor, c.plugin, false});
    }
}

void PluginHost::start(const std::function<sdk::Services&(const LoadedPlugin&)>& servicesFor) {
    std::set<std::string> skipped;
    for (auto& p : plugins_) {
        if (p.started)
            continue;
        auto dependency = std::find_if(p.info.dependencies.begin(), p.info.dependencies.end(),
                                       [&](const auto& d) { return skipped.count(d) > 0; });
        if (dependency != p.info.dependencies.end()) {
            // Only optional plugins are skipped, and whoever requires one is optional too.
            warnings_.push_back("optional plugin '" + p.name + "' skipped: it requires '" + *dependency +
                                "', which was skipped");
            skipped.insert(p.name);
            continue;
        }
        std::string failure;
        try {
            p.plugin->start(servicesFor(p));
            p.started = true;
            continue;
        } catch (...) {
            failure = "plugin '" + p.name + "' failed in start: " + currentExceptionText();
        }
        if (!mandatory_.count(p.name)) {
            warnings_.push_back("optional plugin '" + p.name + "' skipped: " + failure);
            skipped.insert(p.name);
            continue;
        }
        stop();
        throw StartupError({failure});
    }
    for (const auto& name : skipped)
        catalog_.forget(name);
    std::erase_if(plugins_, [&](const LoadedPlugin& p) { return skipped.count(p.name) > 0; });
}

void PluginHost::stop() {
    for (auto p = plugins_.rbegin(); p != plugins_.rend(); ++p) {
        if (!p->started)
            continue;
        p->started = false;
        try {
            p->plugin->stop();
        } catch (...) {
            warnings_.push_back("plugin '" + p->name + "' failed in stop: " + currentExceptionText());
        }
    }
}

} // namespace dq::kernel
