// Built-in commands: start (foreground), plugins, version, help; everything else goes to plugins.
#include "commands.h"

#include "cli/shell/shell_command.h"
#include "kernel/app/kernel.h"
#include "kernel/log/logging.h"

#include <Poco/File.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Path.h>
#include <Poco/StreamCopier.h>
#include <csignal>
#include <iomanip>
#include <iostream>

namespace dq::cli {

namespace {

const std::vector<std::string> kFlags{"help",     "user",      "system", "attach", "all", "non-interactive",
                                      "drop-all", "foreground"};

const char* kContextHelp = "  --config FILE         configuration file (any path)\n"
                           "  --name NAME           configuration by name (from vserver new)\n"
                           "  --environment ENV     dev, test, acc or prod (default: the only one)\n"
                           "  --system | --user     which folder level (default: system)\n";

struct BuiltIn {
    std::string name;
    std::string summary;
    int (*run)(const Arguments&, std::ostream&, std::ostream&);
};

const std::vector<BuiltIn>& builtIns() {
    static const std::vector<BuiltIn> commands{
        {"new", "create a server configuration (interactive wizard, or flags with --non-interactive)",
         newCommand},
        {"start", "start a server in the background (--foreground: in this terminal)", startCommand},
        {"stop", "stop a running server (in-flight requests finish); --all for every server", stopCommand},
        {"files", "list the files a server uses: configuration, log, database, pid", filesCommand},
        {"attach", "show the live log of a server", attachCommand},
        {"list", "list the server configurations and whether each runs", listCommand},
        {"plugins", "list the plugins of a configuration: version, ABI, file, routes, rules, commands",
         pluginsCommand},
        {"import", "import organizations, users, collaborations, nodes and tasks from a YAML file",
         importCommand},
        {"shell", "an interactive Python shell on the database: db.Organization, db.User, ...", shellCommand},
        {"version", "versions of the CLI, kernel, SDK ABI and plugins (and of a running server)",
         versionCommand},
    };
    return commands;
}

/// Plugins enabled by the config when one is given, else the bundled ones; loaded only to read
/// their declarations (no database).
/// The enabled plugins, loaded and declared but not started. Members go in reverse order: the host
/// first, as it clears the catalog's callables before it unloads the libraries behind them.
struct Declarations {
    std::unique_ptr<kernel::Catalog> catalog;
    std::unique_ptr<kernel::PluginHost> host;
};

Declarations declarations(const Arguments& args) {
    kernel::PluginHost::Options options;
    options.enabled = kernel::bundledPlugins();
    options.folders = kernel::defaultPluginFolders();
    if (args.option("config") || args.option("name")) {
        auto config = loadConfig(resolveInstance(args), args);
        if (!config.plugins.enabled.empty())
            options.enabled = config.plugins.enabled;
        if (!config.plugins.folders.empty())
            options.folders = config.plugins.folders;
        options.optional = config.plugins.optional;
    }
    Declarations loaded;
    loaded.catalog = std::make_unique<kernel::Catalog>();
    loaded.host = std::make_unique<kernel::PluginHost>(*loaded.catalog);
    loaded.host->load(options);
    return loaded;
}

void printHelp(const Arguments& args, std::ostream& out) {
    out << "usage: vserver COMMAND [OPTIONS]\n\n"
        << "dataquality-server: a federated-analysis server, wire-compatible with vantage6 3.x.\n\n"
        << "Built-in commands:\n";
    for (const auto& c : builtIns())
        out << "  " << std::left << std::setw(28) << c.name << c.summary << "\n";
    try {
        auto [catalog, host] = declarations(args);
        out << "\nCommands of the enabled plugins:\n";
        for (const auto& c : catalog->commands()) {
            std::string path;
            for (const auto& p : c.decl.path)
                path += (path.empty() ? "" : " ") + p;
            out << "  " << std::left << std::setw(28) << path << c.decl.summary << "  [" << c.plugin << "]\n";
        }
    } catch (const std::exception& e) {
        out << "\n(plugin commands unavailable: " << e.what() << ")\n";
    }
    out << "\nOptions of commands that act on a server:\n"
        << kContextHelp << "\nRun `vserver COMMAND --help` for a command's options.\n";
}

} // namespace

void reportStartupError(const std::exception& e, std::ostream& err) {
    err << "vserver: the server did not start:\n";
    std::string text = e.what();
    std::size_t start = 0;
    while (start < text.size()) {
        auto end = text.find('\n', start);
        if (end == std::string::npos)
            end = text.size();
        err << "  - " << text.substr(start, end - start) << "\n";
        start = end + 1;
    }
}

int pluginsCommand(const Arguments& args, std::ostream& out, std::ostream& err) {
    if (args.flag("help")) {
        out << "usage: vserver plugins [--config FILE | --name NAME]\n\n"
            << "Lists the plugins a configuration enables (default: all bundled): name, version, SDK ABI,\n"
            << "file, and what each declares (routes, rules, commands).\n\n"
            << kContextHelp;
        return 0;
    }
    try {
        auto [catalog, host] = declarations(args);
        for (const auto& p : host->plugins()) {
            out << p.name << " " << p.info.version << "  (ABI " << p.abiMajor << "." << p.abiMinor << ")\n"
                << "  " << p.info.description << "\n"
                << "  file:     " << p.file << "\n";
            if (!p.info.dependencies.empty()) {
                out << "  requires:";
                for (const auto& r : p.info.dependencies)
                    out << " " << r;
                out << "\n";
            }
            for (const auto& r : catalog->routes())
                if (r.plugin == p.name)
                    out << "  route:    " << sdk::toString(r.decl.method) << " " << r.decl.path << "\n";
            for (const auto& r : catalog->rules())
                if (r.plugin == p.name)
                    out << "  rule:     " << r.decl.resource << " " << sdk::toString(r.decl.scope) << " "
                        << sdk::toString(r.decl.operation) << "\n";
            for (const auto& c : catalog->commands())
                if (c.plugin == p.name) {
                    out << "  command: ";
                    for (const auto& part : c.decl.path)
                        out << " " << part;
                    out << "\n";
                }
        }
        return 0;
    } catch (const std::exception& e) {
        reportStartupError(e, err);
        return 1;
    }
}

int versionCommand(const Arguments& args, std::ostream& out, std::ostream& err) {
    if (args.flag("help")) {
        out << "usage: vserver version [--config FILE | --name NAME]\n\n"
            << "Prints the versions of the CLI, kernel, SDK ABI and plugins; with a configuration whose\n"
            << "server is running, also what that server reports.\n\n"
            << kContextHelp;
        return 0;
    }
    out << "vserver " << sdk::kServerVersion << "\nkernel  " << sdk::kServerVersion << "\nSDK ABI "
        << sdk::kAbiMajor << "." << sdk::kAbiMinor << "\n";
    try {
        auto [catalog, host] = declarations(args);
        for (const auto& p : host->plugins())
            out << "plugin  " << p.name << " " << p.info.version << "\n";
    } catch (const std::exception& e) {
        err << "plugins: " << e.what() << "\n";
    }
    if (args.option("config") || args.option("name")) {
        try {
            auto config = loadConfig(resolveInstance(args), args);
            std::string host = config.ip == "0.0.0.0" ? "127.0.0.1" : config.ip;
            Poco::Net::HTTPClientSession session(host, static_cast<Poco::UInt16>(config.port));
            session.setTimeout(Poco::Timespan(3, 0));
            Poco::Net::HTTPRequest request("GET", config.apiPath + "/version");
            session.sendRequest(request);
            Poco::Net::HTTPResponse response;
            std::string body;
            Poco::StreamCopier::copyToString(session.receiveResponse(response), body);
            out << "running server: " << body << "\n";
        } catch (const std::exception&) {
            out << "running server: not reachable\n";
        }
    }
    return 0;
}

int run(int argc, char** argv, std::ostream& out, std::ostream& err) {
    auto args = parseArguments(argc, argv, kFlags);
    for (const auto& e : args.errors) {
        err << "vserver: " << e << "\n";
        return 2;
    }
    if (args.words.empty() || args.words[0] == "help") {
        printHelp(args, out);
        return args.words.empty() && !args.flag("help") ? 2 : 0;
    }
    for (const auto& c : builtIns())
        if (c.name == args.words[0])
            return c.run(args, out, err);
    int code = pluginCommand(args, out, err);
    if (code != -1)
        return code;
    err << "vserver: unknown command '" << args.words[0] << "'; run `vserver --help` for the list\n";
    return 2;
}

} // namespace dq::cli
