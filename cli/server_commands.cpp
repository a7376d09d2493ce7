// start (background with pid file, or --foreground), stop, files, attach, list: the commands that
// manage server processes and their files.
#include "commands.h"
#include "kernel/app/kernel.h"
#include "kernel/db/database_uri.h"
#include "kernel/log/logging.h"

#include <Poco/DirectoryIterator.h>
#include <Poco/File.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Path.h>
#include <Poco/Thread.h>
#include <csignal>
#include <execinfo.h>
#include <fcntl.h>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace dq::cli {

namespace {

const char* kContextHelp =
    "  --config FILE         configuration file (any path)\n"
    "  --name NAME           configuration by name (from vserver new)\n"
    "  --environment ENV     dev, test, acc or prod (default: the only one)\n"
    "  --system | --user     which folder level (default: system)\n"
    "  --data-dir DIR        data folder (default: per configuration, see vserver files)\n";

std::string pidFile(const Instance& instance) {
    return Poco::Path(instance.dataFolder, instance.name + ".pid").toString();
}

/// What a background server writes to its console: startup problems and crash reports.
std::string consoleOutputFile(const Instance& instance) {
    return Poco::Path(instance.dataFolder, instance.name + ".out").toString();
}

std::string logFile(const Instance& instance, const kernel::ServerConfig& config) {
    std::string file = config.logging.file.empty() ? instance.name + ".log" : config.logging.file;
    return Poco::Path(file).isAbsolute() ? file : Poco::Path(instance.dataFolder, file).toString();
}

std::optional<pid_t> readPid(const std::string& file) {
    std::ifstream in(file);
    long pid = 0;
    if (!(in >> pid) || pid <= 0)
        return std::nullopt;
    return static_cast<pid_t>(pid);
}

bool alive(pid_t pid) {
    return ::kill(pid, 0) == 0 || errno == EPERM;
}

/// The running server's pid, cleaning up a stale pid file (with a message) on the way.
std::optional<pid_t> runningPid(const Instance& instance, std::ostream& out) {
    auto file = pidFile(instance);
    auto pid = readPid(file);
    if (!pid)
        return std::nullopt;
    if (alive(*pid))
        return pid;
    Poco::File(file).remove();
    out << "removed stale pid file " << file << " (process " << *pid << " is gone)\n";
    return std::nullopt;
}

bool answers(const kernel::ServerConfig& config) {
    try {
        std::string host = config.ip == "0.0.0.0" || config.ip == "::" ? "127.0.0.1" : config.ip;
        Poco::Net::HTTPClientSession session(host, static_cast<Poco::UInt16>(config.port));
        session.setTimeout(Poco::Timespan(1, 0));
        Poco::Net::HTTPRequest request("GET", config.apiPath + "/health");
        session.sendRequest(request);
        Poco::Net::HTTPResponse response;
        session.receiveResponse(response);
        return response.getStatus() == 200;
    } catch (const std::exception&) {
        return false;
    }
}

std::string tail(const std::string& file, std::size_t lines) {
    std::ifstream in(file);
    std::vector<std::string> all;
    std::string line;
    while (std::getline(in, line))
        all.push_back(line);
    std::string out;
    for (std::size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i)
        out += "  " + all[i] + "\n";
    return out;
}

/// Prints what is appended to `file` until interrupted (or until `pid` exits, when given).
int follow(const std::string& file, std::ostream& out, std::optional<pid_t> pid = std::nullopt) {
    static volatile std::sig_atomic_t stop = 0;
    std::signal(SIGINT, [](int) { stop = 1; });
    std::ifstream in(file);
    if (!in) {
        std::cerr << "no log file at " << file << "\n";
        return 1;
    }
    std::string line;
    while (!stop) {
        while (std::getline(in, line))
            out << line << std::endl;
        in.clear();
        if (pid && !alive(*pid))
            break;
        Poco::Thread::sleep(200);
    }
    return 0;
}

/// Every pid file under the data folders of both levels.
std::vector<std::string> allPidFiles() {
    std::vector<std::string> files;
    for (bool system : {true, false}) {
        Poco::File root(Poco::Path(dataFolder(system, "x")).parent().toString());
        if (!root.exists())
            continue;
        for (Poco::DirectoryIterator it(root), end; it != end; ++it) {
            if (!it->isDirectory())
                continue;
            for (Poco::DirectoryIterator f(*it); f != end; ++f)
                if (Poco::Path(f->path()).getExtension() == "pid")
                    files.push_back(f->path());
        }
    }
    return files;
}

int stopPid(pid_t pid, const std::string& file, const std::string& name, std::ostream& out) {
    ::kill(pid, SIGTERM);
    // In-flight requests finish first; the server exits by itself within its grace period.
    for (int i = 0; i < 300 && alive(pid); ++i)
        Poco::Thread::sleep(100);
    if (alive(pid)) {
        ::kill(pid, SIGKILL);
        out << "server " << name << " (pid " << pid << ") did not stop within 30 s; killed\n";
    } else {
        out << "stopped server " << name << " (pid " << pid << ")\n";
    }
    Poco::File pidFile(file);
    if (pidFile.exists())
        pidFile.remove();
    return 0;
}

volatile std::sig_atomic_t stopRequested = 0;

/// On a crash, the stack goes to stderr (the `.out` file of a background server) before the default
/// action ends the process: the operator's report then says where it happened.
void reportCrash(int signal) {
    const char header[] = "\n*** dataquality-server crashed; stack:\n";
    (void)!::write(2, header, sizeof header - 1);
    void* frames[64];
    int count = ::backtrace(frames, 64);
    ::backtrace_symbols_fd(frames, count, 2);
    std::signal(signal, SIG_DFL);
    ::raise(signal);
}

int runForeground(const Instance& instance, kernel::ServerConfig config, std::ostream& out,
                  std::ostream& err) {
    kernel::configureLogging(config.logging,
                             Poco::Path(instance.dataFolder, instance.name + ".log").toString());
    for (const auto& w : config.warnings)
        err << "warning: " << w << "\n";
    for (int fatal : {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL})
        std::signal(fatal, reportCrash);
    kernel::Kernel kernel(config, instance.dataFolder);
    kernel.load();
    kernel.start();
    kernel.serve();
    { std::ofstream(pidFile(instance)) << ::getpid() << "\n"; }
    out << "dataquality-server listening on http://" << config.ip << ":" << kernel.port() << config.apiPath
        << std::endl;
    std::signal(SIGINT, [](int) { stopRequested = 1; });
    std::signal(SIGTERM, [](int) { stopRequested = 1; });
    while (!stopRequested)
        Poco::Thread::sleep(200);
    out << "stopping..." << std::endl;
    kernel.shutdown();
    Poco::File(pidFile(instance)).remove();
    return 0;
}

} // namespace

int startCommand(const Arguments& args, std::ostream& out, std::ostream& err) {
    if (args.flag("help")) {
        out << "usage: vserver start [--config FILE | --name NAME] [--attach | --foreground]\n\n"
            << "Starts the server in the background (pid file and log in the data folder) and returns once\n"
            << "it answers; refuses when it already runs or the port is taken. On first start with an\n"
            << "empty database the user root/root is created: change its password.\n\n"
            << "  --attach              follow the log after starting (Ctrl-C detaches, the server keeps "
               "running)\n"
            << "  --foreground          run in this terminal until Ctrl-C / SIGTERM\n"
            << kContextHelp;
        return 0;
    }
    try {
        auto instance = resolveInstance(args);
        auto config = loadConfig(instance, args);
        Poco::File(instance.dataFolder).createDirectories();
        if (auto pid = runningPid(instance, out)) {
            err << "vserver: server " << instance.name << " is already running (pid " << *pid
                << "); stop it with `vserver stop` first\n";
            return 1;
        }
        if (args.flag("foreground"))
            return runForeground(instance, config, out, err);
        try {
            Poco::Net::ServerSocket probe;
            probe.bind(Poco::Net::SocketAddress(config.ip, static_cast<Poco::UInt16>(config.port)), true,
                       false);
            probe.listen();
        } catch (const Poco::Exception& e) {
            err << "vserver: cannot start " << instance.name << ": " << config.ip << ":" << config.port
                << " is not available (" << e.displayText()
                << "); is another server using it? change `port` in " << instance.configFile << "\n";
            return 1;
        }

        std::string consoleLog = consoleOutputFile(instance);
        pid_t child = ::fork();
        if (child < 0)
            throw std::runtime_error("fork failed");
        if (child == 0) {
            ::setsid();
            int fd = ::open(consoleLog.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0640);
            int devnull = ::open("/dev/null", O_RDONLY);
            ::dup2(devnull, 0);
            ::dup2(fd, 1);
            ::dup2(fd, 2);
            std::vector<std::string> argv{"/proc/self/exe",    "start",      "--foreground",     "--config",
                                          instance.configFile, "--data-dir", instance.dataFolder};
            if (auto env = args.option("environment")) {
                argv.push_back("--environment");
                argv.push_back(*env);
            }
            std::vector<char*> raw;
            for (auto& a : argv)
                raw.push_back(a.data());
            raw.push_back(nullptr);
            char self[4096];
            ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
            self[n > 0 ? n : 0] = '\0';
            ::execv(self, raw.data());
            ::_exit(127);
        }
        for (int i = 0; i < 600; ++i) {
            int status = 0;
            if (::waitpid(child, &status, WNOHANG) == child) {
                err << "vserver: server " << instance.name << " exited while starting:\n"
                    << tail(consoleLog, 30);
                return 1;
            }
            if (answers(config)) {
                out << "server " << instance.name << " is running (pid " << child << ") at http://"
                    << config.ip << ":" << config.port << config.apiPath << "\n"
                    << "log: " << logFile(instance, config) << "\n";
                if (args.flag("attach"))
                    return follow(logFile(instance, config), out, child);
                return 0;
            }
            Poco::Thread::sleep(100);
        }
        err << "vserver: server " << instance.name << " did not answer within 60 s; its output:\n"
            << tail(consoleLog, 30);
        return 1;
    } catch (const std::exception& e) {
        reportStartupError(e, err);
        return 1;
    }
}

int stopCommand(const Arguments& args, std::ostream& out, std::ostream& err) {
    if (args.flag("help")) {
        out << "usage: vserver stop [--config FILE | --name NAME] [--all]\n\n"
            << "Stops a running server: it stops accepting, lets in-flight requests finish, then exits.\n\n"
            << "  --all                 stop every running server of both levels\n"
            << kContextHelp;
        return 0;
    }
    try {
        if (args.flag("all")) {
            int stopped = 0;
            for (const auto& file : allPidFiles()) {
                auto pid = readPid(file);
                std::string name = Poco::Path(file).getBaseName();
                if (!pid || !alive(*pid)) {
                    Poco::File(file).remove();
                    out << "removed stale pid file " << file << "\n";
                    continue;
                }
                stopPid(*pid, file, name, out);
                ++stopped;
            }
            if (stopped == 0)
                out << "no running servers\n";
            return 0;
        }
        auto instance = resolveInstance(args);
        auto pid = runningPid(instance, out);
        if (!pid) {
            out << "server " << instance.name << " is not running\n";
            return 0;
        }
        return stopPid(*pid, pidFile(instance), instance.name, out);
    } catch (const std::exception& e) {
        err << "vserver stop: " << e.what() << "\n";
        return 1;
    }
}

int filesCommand(const Arguments& args, std::ostream& out, std::ostream& err) {
    if (args.flag("help")) {
        out << "usage: vserver files [--config FILE | --name NAME]\n\n"
            << "Lists the files a server uses: configuration, log, console output (where a crash\n"
            << "report goes), database and pid file.\n\n"
            << kContextHelp;
        return 0;
    }
    try {
        auto instance = resolveInstance(args);
        auto config = loadConfig(instance, args);
        out << "Configuration file = " << instance.configFile << "\n"
            << "Environment        = " << config.environment << "\n"
            << "Log file           = " << logFile(instance, config) << "\n"
            << "Console output     = " << consoleOutputFile(instance) << "\n"
            << "Database           = "
            << kernel::DatabaseUri::parse(config.uri, instance.dataFolder).display() << "\n"
            << "Pid file           = " << pidFile(instance) << "\n"
            << "Data folder        = " << instance.dataFolder << "\n";
        return 0;
    } catch (const std::exception& e) {
        err << "vserver files: " << e.what() << "\n";
        return 1;
    }
}

int attachCommand(const Arguments& args, std::ostream& out, std::ostream& err) {
    if (args.flag("help")) {
        out << "usage: vserver attach [--config FILE | --name NAME]\n\n"
            << "Shows the live log of a server in this terminal; Ctrl-C detaches.\n\n"
            << kContextHelp;
        return 0;
    }
    try {
        auto instance = resolveInstance(args);
        auto config = loadConfig(instance, args);
        if (!runningPid(instance, out))
            out << "(server " << instance.name << " is not running; showing its log)\n";
        return follow(logFile(instance, config), out);
    } catch (const std::exception& e) {
        err << "vserver attach: " << e.what() << "\n";
        return 1;
    }
}

int listCommand(const Arguments& args, std::ostream& out, std::ostream& err) {
    if (args.flag("help")) {
        out << "usage: vserver list\n\nLists the server configurations of both levels (system: "
            << configFolder(true) << ", user: " << configFolder(false)
            << ") with their environments and whether each runs.\n";
        return 0;
    }
    out << std::left << std::setw(24) << "NAME" << std::setw(28) << "ENVIRONMENTS" << std::setw(14)
        << "STATUS"
        << "LEVEL\n";
    for (bool system : {true, false}) {
        Poco::File folder(configFolder(system));
        if (!folder.exists())
            continue;
        std::vector<std::string> files;
        folder.list(files);
        std::sort(files.begin(), files.end());
        for (const auto& f : files) {
            Poco::Path path(folder.path(), f);
            if (path.getExtension() != "yaml")
                continue;
            Instance instance{path.getBaseName(), path.toString(), dataFolder(system, path.getBaseName()),
                              system};
            std::string environments;
            try {
                for (const auto& e : kernel::ServerConfig::environmentsOf(path.toString()))
                    environments += (environments.empty() ? "" : ", ") + e;
            } catch (const std::exception&) {
                environments = "(invalid file)";
            }
            std::ostringstream ignored;
            bool running = runningPid(instance, ignored).has_value();
            out << std::left << std::setw(24) << instance.name << std::setw(28) << environments
                << std::setw(14) << (running ? "Running" : "Not running") << (system ? "System" : "User")
                << "\n";
        }
    }
    (void)err;
    return 0;
}

} // namespace dq::cli
