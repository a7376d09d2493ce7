// Plugin commands run against the configured server's existing database in one transaction,
// without a running server. Their options were checked by the command line (command_line.h).
#include "commands.h"
#include "kernel/app/kernel.h"

#include <Poco/File.h>
#include <Poco/Logger.h>
#include <algorithm>
#include <ostream>

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

} // namespace

int pluginCommand(const Arguments& args, std::ostream& out, std::ostream& err) {
    std::string where = joined(args.words);
    if (!args.option("config") && !args.option("name")) {
        err << "vserver " << where << ": which server? pass --name NAME (a configuration made by `vserver new`) "
            << "or --config FILE\n";
        return 2;
    }
    std::unique_ptr<kernel::Kernel> kernel;
    try {
        auto instance = resolveInstance(args);
        auto config = loadConfig(instance, args);
        requireDatabase(instance, config);
        Poco::Logger::root().setLevel("warning");
        kernel = std::make_unique<kernel::Kernel>(config, instance.dataFolder);
        kernel->load();
    } catch (const std::exception& e) {
        return fail(err, where, e);
    }
    // The longest declared path that starts the words; the rest are the command's arguments.
    const kernel::Declared<sdk::CommandDecl>* command = nullptr;
    for (const auto& c : kernel->catalog().commands()) {
        const auto& path = c.decl.path;
        if (path.size() <= args.words.size() && std::equal(path.begin(), path.end(), args.words.begin()) &&
            (!command || command->decl.path.size() < path.size()))
            command = &c;
    }
    if (!command) {
        err << "vserver " << where << ": no enabled plugin of this configuration has this command\n";
        return 2;
    }
    where = joined(command->decl.path);
    std::vector<std::string> positional(args.words.begin() + static_cast<long>(command->decl.path.size()),
                                        args.words.end());
    try {
        kernel->start();
        int code = 0;
        kernel->database().transaction([&](sdk::Store& store) {
            CommandRun run(command->decl, args, positional, store, kernel->servicesOf(command->plugin), out, err);
            code = command->decl.handler(run);
            if (code != 0)
                throw CommandFailed{code};
        });
        return code;
    } catch (const CommandFailed& failed) {
        return failed.code;
    } catch (const std::exception& e) {
        return fail(err, where, e);
    }
}

} // namespace dq::cli
