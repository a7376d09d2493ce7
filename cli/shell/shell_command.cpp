// `vserver shell`: opens the configured database through the kernel (plugins loaded and started, no
// HTTP), then runs Debian's python3 embedded: a prompt on a terminal, else the script on stdin or
// the file of -c / --command-file.
#include "cli/shell/shell_command.h"

#include "cli/commands.h"
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

std::string historyFile() {
    const char* xdg = std::getenv("XDG_DATA_HOME");
    const char* home = std::getenv("HOME");
    std::string base = xdg && *xdg ? xdg : std::string(home && *home ? home : "/root") + "/.local/share";
    return base + "/dataquality/shell_history";
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
    auto file = args.option("command-file");
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
        requireDatabase(instance, config);
        Poco::Logger::root().setLevel("warning");
        for (const auto& w : config.warnings)
            err << "vserver shell: warning: " << w << "\n";
        kernel = std::make_unique<kernel::Kernel>(config, instance.dataFolder);
        kernel->load();
        kernel->start();
    } catch (const std::exception& e) {
        return fail(err, "shell", e);
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
