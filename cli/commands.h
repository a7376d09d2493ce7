// The vserver dispatcher and its built-in commands.
#pragma once

#include "instance.h"

#include <exception>
#include <iosfwd>

namespace dq::cli {

int run(int argc, char** argv, std::ostream& out, std::ostream& err);

/// "the server did not start:" and every problem on its own line.
void reportStartupError(const std::exception& e, std::ostream& err);

int newCommand(const Arguments& args, std::ostream& out, std::ostream& err);
int startCommand(const Arguments& args, std::ostream& out, std::ostream& err);
int stopCommand(const Arguments& args, std::ostream& out, std::ostream& err);
int filesCommand(const Arguments& args, std::ostream& out, std::ostream& err);
int attachCommand(const Arguments& args, std::ostream& out, std::ostream& err);
int listCommand(const Arguments& args, std::ostream& out, std::ostream& err);
int pluginsCommand(const Arguments& args, std::ostream& out, std::ostream& err);
int importCommand(const Arguments& args, std::ostream& out, std::ostream& err);
int versionCommand(const Arguments& args, std::ostream& out, std::ostream& err);
/// Runs a plugin's command; returns -1 when no plugin command matches the words.
int pluginCommand(const Arguments& args, std::ostream& out, std::ostream& err);

} // namespace dq::cli
