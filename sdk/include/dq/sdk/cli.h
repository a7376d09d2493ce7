// CLI commands a plugin adds to `vserver` (e.g. `vserver organization list`). They run against the
// configured server's existing database without a running server.
#pragma once

#include "dq/sdk/services.h"
#include "dq/sdk/store.h"

#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace dq::sdk {

/// Options every command shares: those that choose the server, and --help / --version. A plugin
/// command that declares one of them is refused when its plugin is loaded (declare time), naming
/// the plugin: rename the option (e.g. --organization-name instead of --name).
inline const std::vector<std::string>& reservedOptionNames() {
    static const std::vector<std::string> names{"name",     "config", "system", "user",
                                                "data-dir", "environment", "help", "version"};
    return names;
}

/// One option of a plugin command. The command line parses strictly: unknown options, missing
/// required ones and stray arguments are errors before the handler runs; `vserver ... --help`
/// is written from these declarations.
struct OptionDecl {
    std::string name; ///< long name without dashes: "country" for --country; not a reserved name
    std::string help;
    bool flag = false;     ///< takes no value
    bool required = false; ///< ignored for flags
    std::string defaultValue;
};

class CommandContext {
public:
    virtual ~CommandContext() = default;
    /// The value of --name, or its default, or nullopt.
    virtual std::optional<std::string> option(const std::string& name) const = 0;
    virtual bool flag(const std::string& name) const = 0;
    /// Positional arguments after the command path.
    virtual const std::vector<std::string>& arguments() const = 0;
    /// The configured database in one transaction, committed when the handler returns 0.
    virtual Store& store() = 0;
    virtual Services& services() = 0;
    virtual std::ostream& out() = 0;
    virtual std::ostream& err() = 0;
};

struct CommandDecl {
    std::vector<std::string> path; ///< {"organization", "list"}
    std::string summary;
    std::vector<OptionDecl> options;
    std::string positionalUsage; ///< e.g. "ID"; empty: none accepted; else any number (check them)
    /// Returns the exit code; throw to report an error (the message is printed, exit 1).
    std::function<int(CommandContext&)> handler;
};

} // namespace dq::sdk
