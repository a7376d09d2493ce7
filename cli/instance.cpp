// Folder conventions of cli.md: system level under /etc and /var/lib, user level under XDG folders.
#include "instance.h"

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

Arguments parseArguments(int argc, char** argv, const std::vector<std::string>& flags) {
    return parseArguments(std::vector<std::string>(argv + 1, argv + argc), flags);
}

Arguments parseArguments(const std::vector<std::string>& raw, const std::vector<std::string>& flags) {
    Arguments args;
    args.raw = raw;
    auto isFlag = [&](const std::string& n) {
        for (const auto& f : flags)
            if (f == n)
                return true;
        return false;
    };
    for (std::size_t i = 0; i < raw.size(); ++i) {
        const std::string& a = raw[i];
        if (a.rfind("--", 0) == 0 && a.size() > 2) {
            std::string name = a.substr(2);
            if (auto eq = name.find('='); eq != std::string::npos) {
                args.options[name.substr(0, eq)] = name.substr(eq + 1);
            } else if (isFlag(name) || i + 1 == raw.size() || raw[i + 1].rfind("--", 0) == 0) {
                // A known flag, or an option with nothing after it: a plugin command's flag that is
                // not known yet (its command is parsed again with its own flags).
                args.options[name] = "true";
            } else {
                args.options[name] = raw[++i];
            }
        } else if (a == "-h") {
            args.options["help"] = "true";
        } else {
            args.words.push_back(a);
        }
    }
    return args;
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
        Poco::Path path(*config);
        path.makeAbsolute();
        if (!Poco::File(path).exists())
            throw std::runtime_error("configuration file " + path.toString() + " does not exist");
        instance.configFile = path.toString();
        // With --config the name is the file's; --name stays free for plugin commands' own use.
        instance.name = path.getBaseName();
    } else if (auto name = args.option("name")) {
        instance.name = *name;
        instance.configFile = configFolder(instance.system) + "/" + *name + ".yaml";
        if (!Poco::File(instance.configFile).exists())
            throw std::runtime_error("no configuration '" + *name + "' at " + instance.configFile +
                                     (instance.system ? " (add --user for the user level)" : "") +
                                     "; create one with `vserver new --name " + *name + "`");
    } else {
        throw std::runtime_error("which server? pass --name NAME (a configuration made by `vserver new`) or "
                                 "--config FILE");
    }
    instance.dataFolder = args.option("data-dir").value_or(dataFolder(instance.system, instance.name));
    return instance;
}

kernel::ServerConfig loadConfig(const Instance& instance, const Arguments& args) {
    return kernel::ServerConfig::load(instance.configFile, args.option("environment").value_or(""));
}

} // namespace dq::cli
