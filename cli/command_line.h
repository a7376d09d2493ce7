// The command line of vserver: every command, built-in or from a plugin, is declared once as a
// CommandSpec; CLI11 parses against it strictly and writes its --help from it.
#pragma once

#include "instance.h"

#include "dq/sdk/cli.h"

#include <iosfwd>
#include <string>
#include <vector>

namespace dq::cli {

/// Which of the server-selecting options a command takes.
enum class ServerOptions {
    None,  ///< acts on no server (list)
    Level, ///< --name, --system/--user: names a configuration to create (new)
    Full,  ///< --name, --config, --system/--user, --data-dir, --environment
};

struct OptionSpec {
    std::string name; ///< long name without dashes
    std::string help;
    bool flag = false;
    bool required = false;
    std::string defaultValue; ///< shown in --help; the command applies it
    std::string valueName;    ///< "FILE" in `--config FILE`; empty: the name in capitals
    std::string shortName;    ///< one letter, or empty
};

struct CommandSpec {
    std::vector<std::string> path; ///< {"start"}, {"organization", "create"}
    std::string summary;           ///< one line, in the command list
    std::string description;       ///< more text for the command's --help; empty: the summary
    std::vector<OptionSpec> options;
    std::string positionalName; ///< e.g. "FILE"; empty: no positional arguments
    std::string positionalHelp;
    int positionalMin = 0, positionalMax = 0; ///< -1: any number
    ServerOptions server = ServerOptions::Full;
    std::string plugin; ///< the plugin that declared it; empty for built-ins
};

/// A plugin command as the command line declares it.
CommandSpec specOf(const sdk::CommandDecl& decl, const std::string& plugin);

/// The outcome of parsing: a command to run with its arguments, or an exit code when parsing
/// already answered (--help, --version: 0; a usage error: 2, with the message on `err`).
struct ParsedCommandLine {
    const CommandSpec* command = nullptr;
    Arguments args;
    int exitCode = 0;
};

/// `notes` are printed at the end of the top-level --help (e.g. why plugin commands are missing).
ParsedCommandLine parseCommandLine(const std::vector<CommandSpec>& commands, const std::vector<std::string>& raw,
                                   const std::string& notes, std::ostream& out, std::ostream& err);

/// A pre-scan of the raw command line for the server-selecting options, before the commands are
/// known (the enabled plugins, and so the commands, depend on the configuration). Lenient: the
/// strict parse comes after.
Arguments scanServerOptions(const std::vector<std::string>& raw);

} // namespace dq::cli
