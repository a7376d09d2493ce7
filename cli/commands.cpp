// The built-in commands declared for the command line, the dispatcher, and plugins/version.
#include "commands.h"

#include "cli/command_line.h"
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

struct BuiltIn {
    CommandSpec spec;
    int (*run)(const Arguments&, std::ostream&, std::ostream&);
};

const std::vector<BuiltIn>& builtIns() {
    static const std::vector<BuiltIn> commands{
        {{{"new"},
          "create a server configuration (interactive wizard, or flags with --non-interactive)",
          "Writes a new configuration (system level by default: /etc/dataquality/server/NAME.yaml;\n"
          "--user: $XDG_CONFIG_HOME/dataquality/server/NAME.yaml). Asks for each setting with a default;\n"
          "every setting can also be given as an option, and --non-interactive takes the defaults for\n"
          "the rest. Refuses to overwrite an existing configuration.",
          {{"non-interactive", "take the defaults for settings not given as options", true},
           {"description", "what the server is for", false, false, "", "TEXT"},
           {"type", "dev, test, acc or prod", false, false, "prod", "TYPE"},
           {"ip", "address to listen on; 0.0.0.0 for all", false, false, "127.0.0.1", "ADDRESS"},
           {"port", "port to listen on", false, false, "5000", "N"},
           {"api-path", "path of the API", false, false, "/api", "PATH"},
           {"uri", "database URI", false, false, "sqlite:///NAME.sqlite", "DATABASE-URI"},
           {"log-level", "CRITICAL, ERROR, WARNING, INFO or DEBUG", false, false, "INFO", "LEVEL"},
           {"jwt-secret", "keep a constant JWT secret, so tokens survive restarts", false, false, "y", "y|n"},
           {"two-factor", "users log in with a TOTP code after their password", false, false, "n", "y|n"},
           {"plugins", "plugins to enable, comma-separated", false, false, "all bundled", "A,B,..."},
           {"smtp-server", "mail server for password-reset mails", false, false, "", "HOST"},
           {"smtp-port", "port of the mail server", false, false, "25", "N"},
           {"smtp-username", "user name at the mail server", false, false, "", "USER"},
           {"smtp-password", "password at the mail server", false, false, "", "PASSWORD"},
           {"vpn-url", "EduVPN server for node VPN configs", false, false, "", "URL"},
           {"vpn-portal-username", "EduVPN portal user name", false, false, "", "USER"},
           {"vpn-portal-password", "EduVPN portal password", false, false, "", "PASSWORD"},
           {"vpn-client-id", "EduVPN OAuth client id", false, false, "", "ID"},
           {"vpn-client-secret", "EduVPN OAuth client secret", false, false, "", "SECRET"},
           {"vpn-redirect-url", "EduVPN OAuth redirect URL", false, false, "", "URL"}},
          "",
          "",
          0,
          0,
          ServerOptions::Level},
         newCommand},
        {{{"start"},
          "start a server in the background (--foreground: in this terminal)",
          "Starts the server in the background (pid file, log and console output in its data folder)\n"
          "and returns once it answers; refuses when it already runs or the port is taken. Config\n"
          "warnings are printed here and written to the log. On first start with an empty database the\n"
          "user root/root is created: change its password.",
          {{"attach", "follow the log after starting (Ctrl-C detaches; the server keeps running)", true},
           {"foreground", "run in this terminal (or under systemd) until Ctrl-C / SIGTERM", true}}},
         startCommand},
        {{{"stop"},
          "stop a running server (in-flight requests finish); --all for every server",
          "Stops a running server: it stops accepting, lets in-flight requests finish, then exits.",
          {{"all", "stop every running server of both levels", true}}},
         stopCommand},
        {{{"files"},
          "list the files a server uses: configuration, log, database, pid",
          "Lists the files a server uses: configuration, log, console output (where a crash report\n"
          "goes), database, pid file and data folder."},
         filesCommand},
        {{{"attach"},
          "show the live log of a server (the last lines, and why it stopped, when it runs no more)",
          "Shows the last lines of a running server's log and follows it in this terminal; Ctrl-C\n"
          "detaches. For a server that is not running, prints the last lines of its log and why it\n"
          "stopped, then exits.",
          {{"lines", "how many of the log's last lines to show", false, false, "20", "N"}}},
         attachCommand},
        {{{"list"},
          "list the server configurations: status, URL, pid",
          "Lists the server configurations of both levels with their environments, whether each runs,\n"
          "its URL and its pid.",
          {},
          "",
          "",
          0,
          0,
          ServerOptions::None},
         listCommand},
        {{{"remove"},
          "delete a configuration (and, with --data, its data); refuses while the server runs",
          "Deletes a server's configuration file; with --data also its data folder (database, logs,\n"
          "pid file). A PostgreSQL database is not dropped: the message says which it was.\n"
          "Refuses while the server runs: stop it first.",
          {{"data", "also delete the data folder (the SQLite database and the logs)", true}}},
         removeCommand},
        {{{"plugins"},
          "list the plugins of a configuration: version, ABI, file, routes, rules, commands",
          "Lists the plugins a configuration enables (default: all bundled): name, version, SDK ABI,\n"
          "file, and what each declares (routes, rules, commands)."},
         pluginsCommand},
        {{{"import"},
          "import organizations, users, collaborations, nodes and tasks from a YAML file",
          "Imports organizations (with their users), collaborations (with a node per participant and\n"
          "the listed tasks) from a YAML file, in one transaction: a bad file changes nothing and the\n"
          "error names the entry, key and line. Existing entities (by name, username, organization and\n"
          "collaboration) are updated or left as they are; the summary counts both. The k-th entry of\n"
          "an image in a collaboration's tasks is its k-th task with that image: importing again adds none.\n"
          "Each key belongs to the enabled plugin that declares it (plugins may add keys of their own).\n"
          "Imported users get the Root role, as vantage6's import does: change that for real accounts.\n"
          "Node api keys are stored hashed.",
          {{"drop-all", "wipe the database first (only when allow_drop_all: true)", true}},
          "FILE",
          "the YAML file to import",
          1,
          1},
         importCommand},
        {{{"shell"},
          "an interactive Python shell on the database: db.Organization, db.User, ...",
          "An interactive Python shell on the server's database (no running server needed). `db` holds\n"
          "a class per model of the enabled plugins: db.Organization, db.User, db.Collaboration, ...\n"
          "    org = db.Organization(name=\"Hospital\"); org.save()\n"
          "    db.User.get_by_username(\"root\").organization\n"
          "    db.Organization.help()\n"
          "With stdin not a terminal, the script on stdin runs; -c FILE runs a file. A script stops at\n"
          "its first uncaught exception (exit status 1); each save() is its own transaction.",
          {{"command-file", "run this Python file instead of a prompt", false, false, "", "FILE", "c"}}},
         shellCommand},
        {{{"version"},
          "versions of the CLI, kernel, SDK ABI and plugins (and of a running server)",
          "Prints the versions of the CLI, kernel, SDK ABI and plugins; with a configuration whose\n"
          "server is running, also what that server reports."},
         versionCommand},
    };
    return commands;
}

/// The enabled plugins, loaded and declared but not started. Members go in reverse order: the host
/// first, as it clears the catalog's callables before it unloads the libraries behind them.
struct Declarations {
    std::unique_ptr<kernel::Catalog> catalog;
    std::unique_ptr<kernel::PluginHost> host;
};

/// The plugins the configuration enables when one is named, else the bundled ones; loaded only to
/// read their declarations (no database).
Declarations declarations(const Arguments& args) {
    kernel::PluginHost::Options options;
    options.enabled = kernel::bundledPlugins();
    options.folders = kernel::defaultPluginFolders();
    if (args.option("config") || args.option("name")) {
        auto config = loadConfig(resolveInstance(args), args);
        if (!config.plugins.enabled.empty())
            options.enabled = config.plugins.enabled;
        options.folders = kernel::pluginFolders(config.plugins.folders);
        options.optional = config.plugins.optional;
    }
    Declarations loaded;
    loaded.catalog = std::make_unique<kernel::Catalog>();
    loaded.host = std::make_unique<kernel::PluginHost>(*loaded.catalog);
    loaded.host->load(options);
    return loaded;
}

} // namespace

void reportProblems(const std::exception& e, std::ostream& err) {
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

void reportStartupError(const std::exception& e, std::ostream& err) {
    err << "vserver start: the server did not start:\n";
    reportProblems(e, err);
}

int fail(std::ostream& err, const std::string& command, const std::exception& e, int code) {
    std::string text = e.what();
    if (text.find('\n') == std::string::npos) {
        err << "vserver " << command << ": " << text << "\n";
    } else {
        err << "vserver " << command << ":\n";
        reportProblems(e, err);
    }
    return code;
}

int pluginsCommand(const Arguments& args, std::ostream& out, std::ostream& err) {
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
        return fail(err, "plugins", e);
    }
}

int versionCommand(const Arguments& args, std::ostream& out, std::ostream& err) {
    out << "vserver " << sdk::kServerVersion << "\nkernel  " << sdk::kServerVersion << "\nSDK ABI "
        << sdk::kAbiMajor << "." << sdk::kAbiMinor << "\n";
    try {
        auto [catalog, host] = declarations(args);
        for (const auto& p : host->plugins())
            out << "plugin  " << p.name << " " << p.info.version << "\n";
    } catch (const std::exception& e) {
        fail(err, "version", e);
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
    std::vector<std::string> raw(argv + 1, argv + argc);
    std::vector<CommandSpec> commands;
    for (const auto& b : builtIns())
        commands.push_back(b.spec);
    // Plugin commands exist only once the plugins are loaded: those the named configuration
    // enables, else the bundled ones. Built-in commands do without.
    auto scan = scanServerOptions(raw);
    bool builtIn = false;
    for (const auto& b : builtIns())
        builtIn = builtIn || (!scan.words.empty() && scan.words.front() == b.spec.path.front());
    Declarations loaded;
    std::string notes;
    if (!builtIn && !(scan.words.empty() && scan.flag("version"))) {
        try {
            loaded = declarations(scan);
            for (const auto& c : loaded.catalog->commands())
                commands.push_back(specOf(c.decl, c.plugin));
        } catch (const std::exception& e) {
            if (!scan.words.empty()) {
                err << "vserver: cannot load the plugins, whose commands these are:\n";
                reportProblems(e, err);
                return 1;
            }
            notes = "Plugin commands are unavailable: " + std::string(e.what());
        }
    }
    auto parsed = parseCommandLine(commands, raw, notes, out, err);
    if (!parsed.command)
        return parsed.exitCode;
    for (const auto& b : builtIns())
        if (parsed.command->plugin.empty() && b.spec.path == parsed.command->path)
            return b.run(parsed.args, out, err);
    // The declarations only served the parse; the command runs in a kernel of its own.
    loaded.host.reset();
    loaded.catalog.reset();
    return pluginCommand(parsed.args, out, err);
}

} // namespace dq::cli
