// Strict parsing with CLI11: unknown options and stray arguments are errors with a "did you mean";
// --help comes from the same declarations that parse.
#include "command_line.h"

#include "dq/sdk/version.h"
#include "kernel/config/server_config.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <map>
#include <ostream>
#include <sstream>

namespace dq::cli {

namespace {

std::string joined(const std::vector<std::string>& path) {
    std::string s;
    for (const auto& p : path)
        s += (s.empty() ? "" : " ") + p;
    return s;
}

std::string upper(std::string text) {
    for (auto& c : text)
        c = c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return text;
}

/// CLI11's help, with each command's one-line summary in the lists of commands (its description
/// is the longer text its own --help starts with).
class Help : public CLI::Formatter {
public:
    std::map<const CLI::App*, std::string> summaries;

    std::string make_subcommand(const CLI::App* sub) const override {
        auto it = summaries.find(sub);
        std::stringstream out;
        CLI::detail::format_help(out, sub->get_display_name(true),
                                 it == summaries.end() ? sub->get_description() : it->second, get_column_width());
        return out.str();
    }
};

void addServerOptions(CLI::App& app, ServerOptions kind, Arguments& args) {
    if (kind == ServerOptions::None)
        return;
    const std::string group = "Which server";
    auto value = [&](const std::string& name, const std::string& valueName, const std::string& help) {
        app.add_option_function<std::string>(
               "--" + name, [&args, name](const std::string& v) { args.options[name] = v; }, help)
            ->type_name(valueName)
            ->group(group);
    };
    value("name", "NAME", "configuration by name (made by `vserver new`)");
    if (kind == ServerOptions::Full) {
        value("config", "FILE", "configuration file, any path (the server it names, wherever it is)");
        value("environment", "ENV", "dev, test, acc or prod (default: the only one in the file)");
        value("data-dir", "DIR", "data folder (default: per configuration, see `vserver files`)");
    }
    app.add_flag_callback(
           "--system", [&args] { args.options["system"] = "true"; }, "system level: /etc/dataquality/server (default)")
        ->group(group);
    app.add_flag_callback(
           "--user", [&args] { args.options["user"] = "true"; }, "user level: $XDG_CONFIG_HOME/dataquality/server")
        ->group(group);
}

void addCommand(CLI::App& app, const CommandSpec& spec, Arguments& args, std::vector<std::string>& positional) {
    app.description(spec.description.empty() ? spec.summary : spec.description);
    for (const auto& o : spec.options) {
        std::string names = (o.shortName.empty() ? "" : "-" + o.shortName + ",") + "--" + o.name;
        std::string help = o.help + (o.defaultValue.empty() ? "" : " (default: " + o.defaultValue + ")");
        CLI::Option* option = nullptr;
        if (o.flag) {
            option = app.add_flag_callback(names, [&args, name = o.name] { args.options[name] = "true"; }, help);
        } else {
            option = app.add_option_function<std::string>(
                names, [&args, name = o.name](const std::string& v) { args.options[name] = v; }, help);
            option->type_name(o.valueName.empty() ? upper(o.name) : o.valueName);
            if (o.required)
                option->required();
        }
    }
    if (!spec.positionalName.empty()) {
        auto* option = app.add_option(spec.positionalName, positional, spec.positionalHelp)->type_name("");
        option->expected(spec.positionalMin, spec.positionalMax < 0 ? CLI::detail::expected_max_vector_size
                                                                    : spec.positionalMax);
        if (spec.positionalMin > 0)
            option->required();
    }
    addServerOptions(app, spec.server, args);
}

/// What went wrong, in the words of the command that was being parsed.
std::string problemOf(const CLI::ParseError& error, CLI::App& deepest) {
    if (dynamic_cast<const CLI::ExtrasError*>(&error)) {
        auto remaining = deepest.remaining();
        std::string word = remaining.empty() ? "" : remaining.front();
        if (word.rfind("-", 0) == 0 && word.size() > 1) {
            std::string name = word.substr(0, word.find('='));
            std::vector<std::string> candidates;
            for (const auto* o : deepest.get_options())
                for (const auto& l : o->get_lnames())
                    candidates.push_back("--" + l);
            auto hint = kernel::closestName(name, candidates);
            return "unknown option " + name + (hint.empty() ? "" : "; did you mean " + hint + "?");
        }
        std::vector<std::string> commands;
        for (const auto* sub : deepest.get_subcommands([](const CLI::App*) { return true; }))
            commands.push_back(sub->get_name());
        if (!commands.empty()) {
            auto hint = kernel::closestName(word, commands);
            return "unknown command '" + word + "'" + (hint.empty() ? "" : "; did you mean '" + hint + "'?");
        }
        return "unexpected argument '" + word + "' (this command takes " +
               (deepest.get_options([](const CLI::Option* o) { return o->get_positional(); }).empty()
                    ? std::string("no arguments")
                    : std::string("fewer arguments")) +
               ")";
    }
    if (dynamic_cast<const CLI::RequiredError*>(&error) && deepest.get_require_subcommand_min() > 0 &&
        deepest.get_subcommands().empty()) {
        std::string list;
        for (const auto* sub : deepest.get_subcommands([](const CLI::App*) { return true; }))
            list += (list.empty() ? "" : ", ") + sub->get_name();
        return "choose one of: " + list;
    }
    return error.what();
}

} // namespace

CommandSpec specOf(const sdk::CommandDecl& decl, const std::string& plugin) {
    CommandSpec spec;
    spec.path = decl.path;
    spec.summary = decl.summary;
    spec.description = decl.summary + " (plugin " + plugin + ")";
    for (const auto& o : decl.options)
        spec.options.push_back({o.name, o.help, o.flag, o.required && o.defaultValue.empty(), o.defaultValue, "", ""});
    if (!decl.positionalUsage.empty()) {
        spec.positionalName = decl.positionalUsage;
        spec.positionalHelp = "the argument(s) of the command";
        spec.positionalMax = -1;
    }
    spec.plugin = plugin;
    return spec;
}

ParsedCommandLine parseCommandLine(const std::vector<CommandSpec>& commands, const std::vector<std::string>& raw,
                                   const std::string& notes, std::ostream& out, std::ostream& err) {
    ParsedCommandLine result;
    Arguments args;
    std::vector<std::string> positional;
    CLI::App app("dataquality-server: a federated-analysis server, wire-compatible with vantage6 3.x.", "vserver");
    auto help = std::make_shared<Help>();
    help->column_width(34);
    app.formatter(help);
    app.require_subcommand(0, 1);
    bool version = false;
    app.add_flag("--version", version, "print the version and exit");
    // `vserver --help --name lab` lists the commands of the plugins that configuration enables.
    addServerOptions(app, ServerOptions::Full, args);
    app.footer((notes.empty() ? "" : notes + "\n") +
               "Run `vserver COMMAND --help` for the options of a command; the options that choose a server\n"
               "(--name, --config, --system/--user, --data-dir, --environment) are the same everywhere.");

    std::map<std::string, CLI::App*> nodes;
    std::map<const CLI::App*, const CommandSpec*> leaves;
    for (const auto& spec : commands) {
        CLI::App* parent = &app;
        std::vector<std::string> prefix;
        for (std::size_t i = 0; i < spec.path.size(); ++i) {
            prefix.push_back(spec.path[i]);
            auto key = joined(prefix);
            auto it = nodes.find(key);
            if (it == nodes.end()) {
                std::string what = i + 1 == spec.path.size() ? spec.summary : "";
                auto* node = parent->add_subcommand(spec.path[i], what);
                help->summaries[node] = what;
                if (i + 1 < spec.path.size())
                    node->require_subcommand(1);
                it = nodes.emplace(key, node).first;
            }
            parent = it->second;
        }
        if (spec.path.size() > 1) {
            // A group lists its commands and the plugin that adds them.
            auto* group = nodes[spec.path.front()];
            std::string text = group->get_description();
            text += (text.empty() ? "" : ", ") + joined({spec.path.begin() + 1, spec.path.end()});
            group->description(text);
            help->summaries[group] = text;
        }
        addCommand(*parent, spec, args, positional);
        leaves[parent] = &spec;
    }
    for (auto& [key, node] : nodes)
        if (key.find(' ') == std::string::npos && !leaves.count(node)) {
            std::string plugin;
            for (const auto& spec : commands)
                if (spec.path.front() == key)
                    plugin = spec.plugin;
            node->description(node->get_description() + (plugin.empty() ? "" : "  [plugin " + plugin + "]"));
            help->summaries[node] = node->get_description();
        }

    std::vector<std::string> reversed(raw.rbegin(), raw.rend());
    CLI::App* deepest = &app;
    try {
        app.parse(reversed);
    } catch (const CLI::ParseError& e) {
        while (!deepest->get_subcommands().empty())
            deepest = deepest->get_subcommands().front();
        std::vector<std::string> path;
        for (auto* a = deepest; a && a != &app; a = a->get_parent())
            path.insert(path.begin(), a->get_name());
        std::string where = "vserver" + (path.empty() ? "" : " " + joined(path));
        if (dynamic_cast<const CLI::CallForHelp*>(&e)) {
            out << app.help(); // "Usage: vserver organization create ...", from the selected command
            result.exitCode = 0;
            return result;
        }
        err << where << ": " << problemOf(e, *deepest) << "\n"
            << "  run `" << where << " --help` for " << (path.empty() ? "the commands" : "its options") << "\n";
        result.exitCode = 2;
        return result;
    }
    while (!deepest->get_subcommands().empty())
        deepest = deepest->get_subcommands().front();
    if (args.flag("system") && args.flag("user")) {
        err << "vserver: give --system or --user, not both\n";
        result.exitCode = 2;
        return result;
    }
    if (deepest == &app) {
        if (version) {
            out << "vserver " << sdk::kServerVersion << "\n";
            return result;
        }
        out << app.help();
        result.exitCode = 2;
        return result;
    }
    result.command = leaves.at(deepest);
    args.words = result.command->path;
    args.words.insert(args.words.end(), positional.begin(), positional.end());
    result.args = std::move(args);
    return result;
}

Arguments scanServerOptions(const std::vector<std::string>& raw) {
    Arguments args;
    const std::vector<std::string> valued{"name", "config", "environment", "data-dir"};
    for (std::size_t i = 0; i < raw.size(); ++i) {
        const auto& a = raw[i];
        if (a.rfind("--", 0) != 0) {
            args.words.push_back(a);
            continue;
        }
        std::string name = a.substr(2);
        // The first value counts: a repeated option is the strict parse's error to report.
        if (auto eq = name.find('='); eq != std::string::npos) {
            args.options.emplace(name.substr(0, eq), name.substr(eq + 1));
        } else if (std::find(valued.begin(), valued.end(), name) != valued.end()) {
            if (i + 1 < raw.size())
                args.options.emplace(name, raw[++i]);
        } else {
            args.options.emplace(name, "true");
        }
    }
    return args;
}

} // namespace dq::cli
