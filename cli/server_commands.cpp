// start (background with pid file, or --foreground), stop, files, attach, list, remove: the
// commands that manage server processes and their files.
#include "commands.h"
#include "kernel/app/kernel.h"
#include "kernel/db/database_uri.h"
#include "kernel/log/logging.h"

#include <Poco/DirectoryIterator.h>
#include <Poco/File.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Logger.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/NumberParser.h>
#include <Poco/Path.h>
#include <Poco/Thread.h>
#include <csignal>
#include <execinfo.h>
#include <fcntl.h>
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace dq::cli {

namespace {

std::string pidFile(const Instance& instance) {
    return Poco::Path(instance.dataFolder, instance.name + ".pid").toString();
}

/// What a background server writes to its console: startup problems and crash reports.
std::string consoleOutputFile(const Instance& instance) {
    return Poco::Path(instance.dataFolder, instance.name + ".out").toString();
}

std::string logFile(const Instance& instance, const kernel::ServerConfig& config) {
    std::string file = config.logging.file.empty() ? instance.name + ".log" : config.logging.file;
    return Poco::Path(file).isAbsolute() ? file : Poco::Path(instance.logFolder, file).toString();
}

std::string url(const kernel::ServerConfig& config, int port) {
    return "http://" + config.ip + ":" + std::to_string(port) + config.apiPath;
}

// The first and last lines a server writes to its log; `attach` and operators look for them.
const char* kStartedLine = "dataquality-server started";
const char* kStoppedLine = "dataquality-server stopped";

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

std::string tail(const std::string& file, std::size_t lines, const std::string& indent = "  ") {
    std::ifstream in(file);
    std::vector<std::string> all;
    std::string line;
    while (std::getline(in, line))
        all.push_back(line);
    std::string out;
    for (std::size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i)
        out += indent + all[i] + "\n";
    return out;
}

/// Why a server that runs no more stopped, from the end of its log and its console output.
std::string whyStopped(const std::string& log, const std::string& console) {
    std::ifstream in(log);
    if (!in)
        return "it has not run yet (no log at " + log + ")";
    std::string line, started, stopped;
    while (std::getline(in, line)) {
        if (line.find(kStartedLine) != std::string::npos) {
            started = line;
            stopped.clear();
        } else if (line.find(kStoppedLine) != std::string::npos) {
            stopped = line;
        }
    }
    if (!stopped.empty())
        return "it stopped cleanly: " + stopped.substr(stopped.find(kStoppedLine));
    std::ifstream crash(console);
    std::string text((std::istreambuf_iterator<char>(crash)), std::istreambuf_iterator<char>());
    if (text.find("*** dataquality-server crashed") != std::string::npos)
        return "it crashed; the stack is in " + console;
    if (started.empty())
        return "it did not start; see " + console;
    return "it ended without a stop line (killed, or the machine went down); see " + console;
}

/// Prints what is appended to `file` until interrupted or until `pid` exits; with `fromEnd`, only
/// what comes after now.
int follow(const std::string& file, std::ostream& out, pid_t pid, bool fromEnd = false) {
    static volatile std::sig_atomic_t stop = 0;
    std::signal(SIGINT, [](int) { stop = 1; });
    std::ifstream in(file);
    if (!in)
        throw std::runtime_error("no log file at " + file);
    if (fromEnd)
        in.seekg(0, std::ios::end);
    std::string line;
    while (!stop) {
        while (std::getline(in, line))
            out << line << std::endl;
        in.clear();
        if (!alive(pid))
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

/// The configuration's warnings (unknown keys, ...) on the terminal and, once logging is set up, in
/// the log.
void printWarnings(const kernel::ServerConfig& config, std::ostream& err) {
    for (const auto& w : config.warnings)
        err << "vserver start: warning: " << w << "\n";
}

/// glibc keeps freed blocks in a cache per thread (tcache). The server's long-lived threads (the
/// password hashers, the acceptor, the idle worker) keep theirs after a burst, and each cached
/// block pins a page of the heap: bench/soak measured 3 MB more than before the load that way, of
/// 7 MB in all. The caches can only be switched off before the process starts (GLIBC_TUNABLES), so
/// the server starts itself once more (same pid, same arguments) with them off, keeping whatever
/// tunables the operator set; when the operator set this one, it stays as set.
void restartWithoutThreadCaches() {
    const std::string setting = "glibc.malloc.tcache_count";
    const char* current = std::getenv("GLIBC_TUNABLES");
    std::string tunables = current ? current : "";
    if (tunables.find(setting) != std::string::npos)
        return;
    std::ifstream cmdline("/proc/self/cmdline", std::ios::binary);
    std::vector<std::string> words;
    for (std::string word; std::getline(cmdline, word, '\0');)
        words.push_back(word);
    if (words.empty())
        return;
    std::vector<char*> argv;
    for (auto& w : words)
        argv.push_back(w.data());
    argv.push_back(nullptr);
    tunables += (tunables.empty() ? "" : ":") + setting + "=0";
    ::setenv("GLIBC_TUNABLES", tunables.c_str(), 1);
    ::execv("/proc/self/exe", argv.data());
    // Not possible here (no /proc?): serve with the caches, which costs memory only.
}

int runForeground(const Instance& instance, kernel::ServerConfig config, std::ostream& out) {
    kernel::configureLogging(config.logging, Poco::Path(instance.logFolder, instance.name + ".log").toString());
    auto& log = Poco::Logger::get("vserver");
    for (const auto& w : config.warnings)
        log.warning("configuration " + instance.configFile + ": " + w);
    for (int fatal : {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL})
        std::signal(fatal, reportCrash);
    const char* tunables = std::getenv("GLIBC_TUNABLES");
    log.information("memory allocator settings (docs/operations.md, \"Memory after a burst\"): GLIBC_TUNABLES=%s",
                    std::string(tunables ? tunables : ""));
    kernel::Kernel kernel(config, instance.dataFolder);
    kernel.load();
    kernel.start();
    kernel.serve();
    { std::ofstream(pidFile(instance)) << ::getpid() << "\n"; }
    std::string plugins;
    for (const auto& p : kernel.host().plugins())
        plugins += (plugins.empty() ? "" : ", ") + p.name + " " + p.info.version;
    log.information(std::string(kStartedLine) + ": version " + sdk::kServerVersion + ", configuration " +
                    instance.configFile + ", environment " + config.environment + ", database " +
                    kernel.database().uri().display() + ", plugins " + plugins + ", serving " +
                    url(config, kernel.port()) + ", pid " + std::to_string(::getpid()));
    out << "dataquality-server listening on " << url(config, kernel.port()) << std::endl;
    static volatile std::sig_atomic_t stopSignal = 0;
    std::signal(SIGINT, [](int s) { stopSignal = s; });
    std::signal(SIGTERM, [](int s) { stopSignal = s; });
    while (!stopSignal)
        Poco::Thread::sleep(200);
    out << "stopping..." << std::endl;
    kernel.shutdown();
    Poco::File(pidFile(instance)).remove();
    log.information(std::string(kStoppedLine) + " on " + (stopSignal == SIGINT ? "SIGINT (Ctrl-C)" : "SIGTERM") +
                    " (vserver stop, systemctl stop or kill), pid " + std::to_string(::getpid()));
    return 0;
}

} // namespace

int startCommand(const Arguments& args, std::ostream& out, std::ostream& err) {
    if (args.flag("foreground"))
        restartWithoutThreadCaches();
    try {
        auto instance = resolveInstance(args);
        auto config = loadConfig(instance, args);
        Poco::File(instance.dataFolder).createDirectories();
        if (auto pid = runningPid(instance, out)) {
            err << "vserver start: server " << instance.name << " is already running (pid " << *pid
                << "); stop it with `vserver stop` first\n";
            return 1;
        }
        printWarnings(config, err);
        if (args.flag("foreground"))
            return runForeground(instance, config, out);
        try {
            Poco::Net::ServerSocket probe;
            probe.bind(Poco::Net::SocketAddress(config.ip, static_cast<Poco::UInt16>(config.port)), true,
                       false);
            probe.listen();
        } catch (const Poco::Exception& e) {
            err << "vserver start: cannot start " << instance.name << ": " << config.ip << ":" << config.port
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
            // The same server, whichever way it was named: its file, level and data folder.
            std::vector<std::string> argv{"/proc/self/exe", "start", "--foreground", "--config", instance.configFile,
                                          instance.system ? "--system" : "--user"};
            if (auto dir = args.option("data-dir")) {
                argv.push_back("--data-dir");
                argv.push_back(instance.dataFolder);
            }
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
                err << "vserver start: server " << instance.name << " exited while starting:\n"
                    << tail(consoleLog, 30);
                return 1;
            }
            if (answers(config)) {
                out << "server " << instance.name << " is running (pid " << child << ") at "
                    << url(config, config.port) << "\n"
                    << "log: " << logFile(instance, config) << "\n";
                if (args.flag("attach"))
                    return follow(logFile(instance, config), out, child);
                return 0;
            }
            Poco::Thread::sleep(100);
        }
        err << "vserver start: server " << instance.name << " did not answer within 60 s; its output:\n"
            << tail(consoleLog, 30);
        return 1;
    } catch (const std::exception& e) {
        reportStartupError(e, err);
        return 1;
    }
}

int stopCommand(const Arguments& args, std::ostream& out, std::ostream& err) {
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
        return fail(err, "stop", e);
    }
}

int filesCommand(const Arguments& args, std::ostream& out, std::ostream& err) {
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
        return fail(err, "files", e);
    }
}

int attachCommand(const Arguments& args, std::ostream& out, std::ostream& err) {
    try {
        auto instance = resolveInstance(args);
        auto config = loadConfig(instance, args);
        std::size_t lines = 20;
        if (auto n = args.option("lines"); n && !Poco::NumberParser::tryParseUnsigned64(*n, lines))
            throw std::invalid_argument("--lines: expected a number of lines, got \"" + *n + "\"");
        auto log = logFile(instance, config);
        auto pid = runningPid(instance, out);
        if (!pid) {
            out << "server " << instance.name << " is not running; the end of its log (" << log << "):\n"
                << tail(log, lines) << "why it stopped: " << whyStopped(log, consoleOutputFile(instance)) << "\n";
            return 0;
        }
        out << tail(log, lines, "");
        follow(log, out, *pid, true);
        if (!alive(*pid))
            out << "server " << instance.name << " stopped: " << whyStopped(log, consoleOutputFile(instance))
                << "\n";
        return 0;
    } catch (const std::exception& e) {
        return fail(err, "attach", e);
    }
}

int listCommand(const Arguments&, std::ostream& out, std::ostream&) {
    out << std::left << std::setw(20) << "NAME" << std::setw(20) << "ENVIRONMENTS" << std::setw(13) << "STATUS"
        << std::setw(32) << "URL" << std::setw(9) << "PID"
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
            Arguments named;
            named.options = {{"config", path.toString()}, {system ? "system" : "user", "true"}};
            std::string environments = "(invalid file)", address = "-";
            Instance instance;
            try {
                instance = resolveInstance(named);
                environments.clear();
                auto all = kernel::ServerConfig::environmentsOf(path.toString());
                for (const auto& e : all)
                    environments += (environments.empty() ? "" : ", ") + e;
                auto config = kernel::ServerConfig::load(path.toString(), all.empty() ? "" : all.front());
                address = url(config, config.port);
            } catch (const std::exception&) {
                if (instance.name.empty())
                    instance = {path.getBaseName(), path.toString(), dataFolder(system, path.getBaseName()), "",
                                system};
            }
            std::ostringstream ignored;
            auto pid = runningPid(instance, ignored);
            out << std::left << std::setw(20) << instance.name << std::setw(20) << environments << std::setw(13)
                << (pid ? "Running" : "Not running") << std::setw(32) << address << std::setw(9)
                << (pid ? std::to_string(*pid) : "-") << (system ? "System" : "User") << "\n";
        }
    }
    return 0;
}

int removeCommand(const Arguments& args, std::ostream& out, std::ostream& err) {
    try {
        auto instance = resolveInstance(args);
        if (auto pid = runningPid(instance, out)) {
            err << "vserver remove: server " << instance.name << " is running (pid " << *pid
                << "); stop it first with `vserver stop`\n";
            return 1;
        }
        std::optional<kernel::DatabaseUri> database;
        try {
            auto config = loadConfig(instance, args);
            database = kernel::DatabaseUri::parse(config.uri, instance.dataFolder);
        } catch (const std::exception&) {
            // A broken file can still be removed.
        }
        Poco::File(instance.configFile).remove();
        out << "removed configuration " << instance.configFile << "\n";
        if (!args.flag("data")) {
            if (Poco::File(instance.dataFolder).exists())
                out << "kept its data in " << instance.dataFolder << " (add --data to delete it)\n";
            return 0;
        }
        for (const auto& folder : {instance.dataFolder, instance.logFolder}) {
            Poco::File f(folder);
            if (folder == instance.dataFolder && f.exists()) {
                f.remove(true);
                out << "removed data folder " << folder << "\n";
            } else if (folder != instance.dataFolder && f.exists()) {
                std::vector<std::string> files;
                f.list(files);
                for (const auto& name : files)
                    if (name.rfind(instance.name + ".log", 0) == 0) {
                        Poco::File(Poco::Path(folder, name)).remove();
                        out << "removed log " << Poco::Path(folder, name).toString() << "\n";
                    }
            }
        }
        if (database && database->kind == kernel::DatabaseUri::Kind::Postgresql)
            out << "its PostgreSQL database " << database->display() << " was not touched: drop it there\n";
        return 0;
    } catch (const std::exception& e) {
        return fail(err, "remove", e);
    }
}

} // namespace dq::cli
