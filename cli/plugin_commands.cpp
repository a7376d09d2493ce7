// Plugin commands run against the configured database in one transaction, without a server.
#include "commands.h"
#include "kernel/app/kernel.h"

#include <Poco/File.h>
#include <Poco/Logger.h>
#include <algorithm>
#include <iomanip>
#include <ostream>
#include <set>

namespace dq::cli {

namespace {

class CommandRun : public sdk::CommandContext {
public:
    CommandRun(const sdk::CommandDecl& decl, const Arguments& args, std::vector<std::string> positional,
               sdk::Store& store, sdk::Services& services, std::ostream& out, std::ostream& err)
        : decl_(decl), args_(args), positional_(std::move(positional)), store_(store), services_(services),
          out_(out), err_(err) {}

    std::optional<std::string> option(const std::string& name) const override {
        if (auto v = args_.option(name))
            return v;
        for (const auto& o : decl_.options)
            if (o.name == name && !o.defaultValue.empty())
                return o.defaultValue;
        return std::nullopt;
    }
    bool flag(const std::string& name) const override { return args_.flag(name); }
    const std::vector<std::string>& arguments() const override { return positional_; }
    sdk::Store& store() override { return store_; }
    sdk::Services& services() override { return services_; }
    std::ostream& out() override { return out_; }
    std::ostream& err() override { return err_; }

private:
    const sdk::CommandDecl& decl_;
    const Arguments& args_;
    std::vector<std::string> positional_;
    sdk::Store& store_;
    sdk::Services& services_;
    std::ostream& out_;
    std::ostream& err_;
};

/// Thrown to roll back the transaction of a command that returned a failure code.
struct CommandFailed {
    int code;
};

std::string joined(const std::vector<std::string>& path) {
    std::string s;
    for (const auto& p : path)
        s += (s.empty() ? "" : " ") + p;
    return s;
}

void printCommandHelp(const sdk::CommandDecl& decl, const std::string& plugin, std::ostream& out) {
    out << "usage: vserver " << joined(decl.path) << " [--config FILE | --name NAME]";
    for (const auto& o : decl.options)
        out << (o.required ? " --" : " [--") << o.name << (o.flag ? "" : " VALUE") << (o.required ? "" : "]");
    if (!decl.positionalUsage.empty())
        out << " " << decl.positionalUsage;
    out << "\n\n" << decl.summary << " (plugin " << plugin << ")\n\n";
    for (const auto& o : decl.options)
        out << "  --" << std::left << std::setw(20) << o.name << o.help
            << (o.defaultValue.empty() ? "" : " (default " + o.defaultValue + ")") << "\n";
    out << "  --config FILE / --name NAME / --environment ENV / --system / --user: which server\n";
}

} // namespace

int pluginCommand(const Arguments& given, std::ostream& out, std::ostream& err) {
    Arguments args = given;
    std::unique_ptr<kernel::Kernel> kernel;
    bool haveConfig = args.option("config") || args.option("name");
    // Without a configuration the command set is that of the bundled plugins (for --help and the
    // "needs --config" message); with one, exactly the enabled plugins' commands exist.
    kernel::Catalog bundled;
    std::unique_ptr<kernel::PluginHost> host;
    const kernel::Catalog* catalog = nullptr;
    Instance instance;
    try {
        if (haveConfig) {
            instance = resolveInstance(args);
            auto config = loadConfig(instance, args);
            Poco::Logger::root().setLevel("warning");
            Poco::File(instance.dataFolder).createDirectories();
            kernel = std::make_unique<kernel::Kernel>(config, instance.dataFolder);
            kernel->load();
            catalog = &kernel->catalog();
        } else {
            host = std::make_unique<kernel::PluginHost>(bundled);
            host->load({kernel::bundledPlugins(), kernel::defaultPluginFolders(), {}});
            catalog = &bundled;
        }
    } catch (const std::exception& e) {
        err << "vserver: " << e.what() << "\n";
        return 1;
    }

    const kernel::Declared<sdk::CommandDecl>* best = nullptr;
    for (const auto& c : catalog->commands()) {
        const auto& path = c.decl.path;
        if (path.size() > args.words.size() || (best && best->decl.path.size() >= path.size()))
            continue;
        if (std::equal(path.begin(), path.end(), args.words.begin()))
            best = &c;
    }
    if (!best) {
        bool groupKnown = false;
        for (const auto& c : catalog->commands())
            if (c.decl.path.front() == args.words.front()) {
                if (!groupKnown)
                    err << "vserver " << args.words.front() << ": choose one of:\n";
                groupKnown = true;
                err << "  vserver " << joined(c.decl.path) << "  " << c.decl.summary << "\n";
            }
        if (host)
            bundled.clear();
        return groupKnown ? 2 : -1;
    }
    // Now that the command is known, its own flags take no value.
    std::vector<std::string> flags{"help", "user", "system"};
    for (const auto& o : best->decl.options)
        if (o.flag)
            flags.push_back(o.name);
    args = parseArguments(given.raw, flags);
    for (const auto& e : args.errors) {
        err << "vserver " << joined(best->decl.path) << ": " << e << "\n";
        return 2;
    }
    if (args.flag("help")) {
        printCommandHelp(best->decl, best->plugin, out);
        return 0;
    }
    if (!kernel) {
        err << "vserver " << joined(best->decl.path) << ": which server? pass --name NAME or --config FILE\n";
        bundled.clear();
        return 2;
    }
    std::vector<std::string> positional(args.words.begin() + static_cast<long>(best->decl.path.size()),
                                        args.words.end());
    if (best->decl.positionalUsage.empty() && !positional.empty()) {
        err << "vserver " << joined(best->decl.path) << ": unexpected argument '" << positional.front()
            << "' (see --help)\n";
        return 2;
    }
    const std::set<std::string> contextOptions{"config", "name",     "environment", "system",
                                               "user",   "data-dir", "help"};
    for (const auto& [name, value] : args.options) {
        bool known = contextOptions.count(name) != 0;
        for (const auto& o : best->decl.options)
            known = known || o.name == name;
        if (!known) {
            err << "vserver " << joined(best->decl.path) << ": unknown option --" << name
                << " (see --help)\n";
            return 2;
        }
    }
    for (const auto& o : best->decl.options)
        if (o.required && !o.flag && !args.option(o.name) && o.defaultValue.empty()) {
            err << "vserver " << joined(best->decl.path) << ": --" << o.name << " is required (" << o.help
                << ")\n";
            return 2;
        }
    try {
        kernel->start();
        int code = 0;
        kernel->database().transaction([&](sdk::Store& store) {
            CommandRun run(best->decl, args, positional, store, kernel->servicesOf(best->plugin), out, err);
            code = best->decl.handler(run);
            if (code != 0)
                throw CommandFailed{code};
        });
        return code;
    } catch (const CommandFailed& failed) {
        return failed.code;
    } catch (const std::exception& e) {
        err << "vserver " << joined(best->decl.path) << ": " << e.what() << "\n";
        return 1;
    }
}

} // namespace dq::cli
