// The vserver dispatcher and its built-in commands.
#pragma once

#include "instance.h"

#include <exception>
#include <iosfwd>
#include <string>

namespace dq::cli {

int run(int argc, char** argv, std::ostream& out, std::ostream& err);

// One message style: "vserver COMMAND: what happened, where, what to do"; several problems (a
// StartupError's lines) each on their own line under it.

/// Every line of the exception's message as "  - line".
void reportProblems(const std::exception& e, std::ostream& err);
/// "vserver start: the server did not start:" and every problem on its own line.
void reportStartupError(const std::exception& e, std::ostream& err);
/// Reports `e` for `command` ("stop", "organization create") and returns `code`.
int fail(std::ostream& err, const std::string& command, const std::exception& e, int code = 1);

int newCommand(const Arguments& args, std::ostream& out, std::ostream& err);
int startCommand(const Arguments& args, std::ostream& out, std::ostream& err);
int stopCommand(const Arguments& args, std::ostream& out, std::ostream& err);
int filesCommand(const Arguments& args, std::ostream& out, std::ostream& err);
int attachCommand(const Arguments& args, std::ostream& out, std::ostream& err);
int listCommand(const Arguments& args, std::ostream& out, std::ostream& err);
int removeCommand(const Arguments& args, std::ostream& out, std::ostream& err);
int pluginsCommand(const Arguments& args, std::ostream& out, std::ostream& err);
int importCommand(const Arguments& args, std::ostream& out, std::ostream& err);
int versionCommand(const Arguments& args, std::ostream& out, std::ostream& err);
/// Runs the plugin command whose path starts `args.words`, on the configured server's database.
int pluginCommand(const Arguments& args, std::ostream& out, std::ostream& err);

} // namespace dq::cli
