// `vserver shell`: opens the configured database through the kernel (plugins loaded and started, no
// HTTP), then runs Debian's python3 embedded: a prompt on a terminal, else the script on stdin or
// the file of -c / --command-file.
#include "cli/shell/shell_command.h"

#include "cli/shell/model_bridge.h"
#include "kernel/app/kernel.h"

#include <Poco/File.h>
#include <Poco/Logger.h>
#include <Poco/Path.h>

// Cast failures name the Python and C++ types instead of a bare "unable to cast".
#define PYBIND11_DETAILED_ERROR_MESSAGES
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <pybind11/embed.h>
#include <pybind11/stl.h>
#include <sstream>
#include <unistd.h>

namespace py = pybind11;

namespace dq::cli {

namespace {

const char* kShellHelp =
    "usage: vserver shell [--config FILE | --name NAME] [--environment ENV] [--system|--user]\n"
    "                     [--data-dir DIR] [-c FILE | --command-file FILE]\n\n"
    "An interactive Python shell on the server's database (no running server needed). `db` holds\n"
    "a class per model of the enabled plugins: db.Organization, db.User, db.Collaboration, ...\n"
    "    org = db.Organization(name=\"Hospital\"); org.save()\n"
    "    db.User.get_by_username(\"root\").organization\n"
    "    db.Organization.help()\n"
    "With stdin not a terminal, the script on stdin runs; -c FILE runs a file. A script stops at\n"
    "its first uncaught exception (exit status 1); each save() is its own transaction.\n\n"
    "  --config FILE         configuration file (any path)\n"
    "  --name NAME           configuration by name (from vserver new)\n"
    "  --environment ENV     dev, test, acc or prod (default: the only one)\n"
    "  --system | --user     which folder level (default: system)\n"
    "  --data-dir DIR        data folder (SQLite file of relative URIs)\n"
    "  -c, --command-file FILE  run this Python file instead of a prompt\n";

std::string historyFile() {
    const char* xdg = std::getenv("XDG_DATA_HOME");
    const char* home = std::getenv("HOME");
    std::string base = xdg && *xdg ? xdg : std::string(home && *home ? home : "/root") + "/.local/share";
    return base + "/dataquality/shell_history";
}

/// The file given by `-c FILE` (a word, as the parser keeps single-dash words) or --command-file.
std::optional<std::string> commandFile(const Arguments& args, std::string& problem) {
    std::optional<std::string> file = args.option("command-file");
    for (std::size_t i = 1; i < args.words.size(); ++i) {
        if (args.words[i] == "-c" && i + 1 < args.words.size() && !file) {
            file = args.words[++i];
        } else {
            problem = "unexpected argument '" + args.words[i] + "' (see vserver shell --help)";
            return std::nullopt;
        }
    }
    return file;
}

std::string readFile(const std::string& path) {
    std::ifstream in(path);
    if (!in)
        throw std::runtime_error("cannot read the command file " + Poco::Path(path).absolute().toString());
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

int runPython(kernel::Kernel& kernel, const Instance& instance, const kernel::ServerConfig& config,
              const std::optional<std::string>& file) {
    PyConfig pyConfig;
    PyConfig_InitPythonConfig(&pyConfig);
    // Debian's python3, whatever python3 comes first on PATH: the embedded runtime must find the
    // standard library it was built against.
    PyConfig_SetBytesString(&pyConfig, &pyConfig.home, DQ_PYTHON_HOME);
    PyConfig_SetBytesString(&pyConfig, &pyConfig.program_name, DQ_PYTHON_EXECUTABLE);
    pyConfig.parse_argv = 0;
    const char* argv[] = {"vserver shell"};
    py::scoped_interpreter interpreter(&pyConfig, 1, argv, false);
    shell::attachKernel(&kernel);
    struct Detach {
        ~Detach() { shell::attachKernel(nullptr); }
    } detach;
    int status = 0;
    try {
        py::module_ models = py::module_::import("types").attr("ModuleType")("dataquality_shell");
        auto builtins = py::module_::import("builtins");
        builtins.attr("exec")(builtins.attr("compile")(shell::kModelsPython, "<dataquality shell>", "exec"),
                              models.attr("__dict__"));
        py::module_::import("sys").attr("modules")["dataquality_shell"] = models;
        auto names = models.attr("build")().cast<std::vector<std::string>>();
        py::dict scope = models.attr("namespace")();
        if (file) {
            status = models.attr("run_script")(readFile(*file), *file, scope).cast<int>();
        } else if (!isatty(STDIN_FILENO)) {
            std::string script = py::module_::import("sys").attr("stdin").attr("read")().cast<std::string>();
            status = models.attr("run_script")(script, "<stdin>", scope).cast<int>();
        } else {
            std::string list;
            for (const auto& n : names)
                list += (list.empty() ? "db." : ", db.") + n;
            std::ostringstream banner;
            banner
                << "dataquality-server shell, Python " << PY_MAJOR_VERSION << "." << PY_MINOR_VERSION << "."
                << PY_MICRO_VERSION << "\n"
                << "configuration: " << instance.name << " (" << instance.configFile << ")"
                << (config.environment.empty() ? "" : ", environment " + config.environment) << "\n"
                << "database:      " << kernel.database().uri().display() << "\n"
                << "models:        " << (list.empty() ? "(none: no plugin declares a model)" : list) << "\n"
                << "db.<Model>.help() lists fields and relations; Scope and Operation are the rule enums;\n"
                << "each save() is one transaction. Ctrl-D leaves.";
            status = models.attr("interact")(banner.str(), historyFile(), scope).cast<int>();
        }
    } catch (const py::error_already_set& e) {
        std::cerr << "vserver shell: the Python runtime failed: " << e.what() << "\n";
        status = 1;
    }
    return status;
}

} // namespace

int shellCommand(const Arguments& args, std::ostream& out, std::ostream& err) {
    if (args.flag("help")) {
        out << kShellHelp;
        return 0;
    }
    std::string problem;
    auto file = commandFile(args, problem);
    if (!problem.empty()) {
        err << "vserver shell: " << problem << "\n";
        return 2;
    }
    std::unique_ptr<kernel::Kernel> kernel;
    Instance instance;
    kernel::ServerConfig config;
    try {
        if (file && !Poco::File(*file).exists()) {
            err << "vserver shell: the command file " << *file << " does not exist\n";
            return 2;
        }
        instance = resolveInstance(args);
        config = loadConfig(instance, args);
        Poco::Logger::root().setLevel("warning");
        Poco::File(instance.dataFolder).createDirectories();
        for (const auto& w : config.warnings)
            err << "warning: " << w << "\n";
        kernel = std::make_unique<kernel::Kernel>(config, instance.dataFolder);
        kernel->load();
        kernel->start();
    } catch (const std::exception& e) {
        err << "vserver shell: cannot open the server's database:\n" << e.what() << "\n";
        return 1;
    }
    out.flush();
    err.flush();
    int status = 1;
    try {
        status = runPython(*kernel, instance, config, file);
    } catch (const std::exception& e) {
        err << "vserver shell: " << e.what() << "\n";
    }
    try {
        kernel->shutdown();
    } catch (const std::exception& e) {
        err << "vserver shell: while closing: " << e.what() << "\n";
    }
    return status;
}

} // namespace dq::cli
