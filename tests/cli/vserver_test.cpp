// The vserver program as an operator uses it: `new` answered at its prompts in a pseudo-terminal,
// then start, list, version, files, import, attach and stop on the real binary.
#include <Poco/File.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Path.h>
#include <Poco/StreamCopier.h>
#include <Poco/TemporaryFile.h>
#include <Poco/Thread.h>
#include <array>
#include <chrono>
#include <csignal>
#include <fstream>
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

namespace {

/// A program running in a pseudo-terminal, read and answered like a person would.
class Terminal {
public:
    Terminal(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env) {
        pid_ = forkpty(&master_, nullptr, nullptr, nullptr);
        if (pid_ == 0) {
            for (const auto& [k, v] : env)
                ::setenv(k.c_str(), v.c_str(), 1);
            std::vector<char*> raw;
            for (const auto& a : argv)
                raw.push_back(const_cast<char*>(a.c_str()));
            raw.push_back(nullptr);
            ::execv(raw[0], raw.data());
            ::_exit(127);
        }
    }
    ~Terminal() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
        ::close(master_);
    }

    /// Reads until `text` appears (true) or 10 s pass (false).
    bool expect(const std::string& text) {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (seen_.find(text, consumed_) == std::string::npos) {
            if (std::chrono::steady_clock::now() > deadline)
                return false;
            pollfd p{master_, POLLIN, 0};
            if (::poll(&p, 1, 100) > 0) {
                std::array<char, 1024> buf;
                auto n = ::read(master_, buf.data(), buf.size());
                if (n <= 0)
                    return seen_.find(text, consumed_) != std::string::npos;
                seen_.append(buf.data(), static_cast<std::size_t>(n));
            }
        }
        consumed_ = seen_.find(text, consumed_) + text.size();
        return true;
    }
    void send(const std::string& line) {
        std::string data = line + "\n";
        ASSERT_EQ(::write(master_, data.data(), data.size()), static_cast<ssize_t>(data.size()));
    }
    int wait() {
        int status = 0;
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    const std::string& transcript() const { return seen_; }

private:
    int master_ = -1;
    pid_t pid_ = -1;
    std::string seen_;
    std::size_t consumed_ = 0;
};

struct CommandResult {
    int code;
    std::string output;
};

class VserverCli : public ::testing::Test {
protected:
    void SetUp() override {
        Poco::File(home_.path()).createDirectories();
        // Both levels inside the test's own folder: tests run in parallel, and `stop --all` of one
        // must not reach the servers of another.
        env_ = {{"HOME", home_.path()},
                {"XDG_CONFIG_HOME", home_.path() + "/config"},
                {"XDG_DATA_HOME", home_.path() + "/data"},
                {"DQ_SYSTEM_CONFIG_DIR", home_.path() + "/etc"},
                {"DQ_SYSTEM_DATA_DIR", home_.path() + "/var"},
                {"DQ_SYSTEM_LOG_DIR", home_.path() + "/log"}};
        Poco::Net::ServerSocket probe(Poco::Net::SocketAddress("127.0.0.1", 0));
        port_ = probe.address().port();
    }
    void TearDown() override { run({"stop", "--all"}); }

    CommandResult run(const std::vector<std::string>& args) {
        std::string command;
        for (const auto& [k, v] : env_)
            command += k + "='" + v + "' ";
        command += DQ_VSERVER;
        for (const auto& a : args)
            command += " '" + a + "'";
        command += " 2>&1";
        CommandResult result{0, ""};
        FILE* pipe = ::popen(command.c_str(), "r");
        std::array<char, 4096> buf;
        while (auto n = std::fread(buf.data(), 1, buf.size(), pipe))
            result.output.append(buf.data(), n);
        int status = ::pclose(pipe);
        result.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        return result;
    }

    std::string get(const std::string& path) {
        Poco::Net::HTTPClientSession session("127.0.0.1", port_);
        Poco::Net::HTTPRequest request("GET", path);
        session.sendRequest(request);
        Poco::Net::HTTPResponse response;
        std::string body;
        Poco::StreamCopier::copyToString(session.receiveResponse(response), body);
        return body;
    }

    /// `vserver new --user` answered at its prompts; the configuration is "demo".
    void createConfigThroughPrompts() {
        Terminal t({DQ_VSERVER, "new", "--user"}, env_);
        ASSERT_TRUE(t.expect("Name of the configuration")) << t.transcript();
        t.send("bad name!");
        ASSERT_TRUE(t.expect("expected letters, digits")) << t.transcript();
        t.send("demo");
        ASSERT_TRUE(t.expect("Description")) << t.transcript();
        t.send("made in a terminal");
        ASSERT_TRUE(t.expect("Server type")) << t.transcript();
        t.send("test");
        ASSERT_TRUE(t.expect("IP address")) << t.transcript();
        t.send("");
        ASSERT_TRUE(t.expect("Port")) << t.transcript();
        t.send("50a0");
        ASSERT_TRUE(t.expect("expected an integer 1-65535")) << t.transcript();
        t.send(std::to_string(port_));
        ASSERT_TRUE(t.expect("Path of the API")) << t.transcript();
        t.send("");
        ASSERT_TRUE(t.expect("Database URI")) << t.transcript();
        t.send("");
        ASSERT_TRUE(t.expect("constant JWT secret")) << t.transcript();
        t.send("y");
        ASSERT_TRUE(t.expect("Log level")) << t.transcript();
        t.send("");
        ASSERT_TRUE(t.expect("two-factor authentication")) << t.transcript();
        t.send("maybe");
        ASSERT_TRUE(t.expect("expected one of y, n, yes, no")) << t.transcript();
        t.send("");
        ASSERT_TRUE(t.expect("Plugins to enable")) << t.transcript();
        t.send("");
        ASSERT_TRUE(t.expect("SMTP server")) << t.transcript();
        t.send("");
        ASSERT_TRUE(t.expect("EduVPN server URL")) << t.transcript();
        t.send("");
        ASSERT_TRUE(t.expect("wrote ")) << t.transcript();
        EXPECT_EQ(t.wait(), 0);
    }

    Poco::TemporaryFile home_;
    std::map<std::string, std::string> env_;
    Poco::UInt16 port_ = 0;
};

TEST_F(VserverCli, NewStartListVersionFilesImportStopAsAnOperatorWould) {
    createConfigThroughPrompts();
    std::string config = home_.path() + "/config/dataquality/server/demo.yaml";
    ASSERT_TRUE(Poco::File(config).exists());
    std::stringstream written;
    written << std::ifstream(config).rdbuf();
    EXPECT_NE(written.str().find("two_factor_auth: false"), std::string::npos) << written.str();

    auto again = run({"new", "--user", "--name", "demo", "--non-interactive"});
    EXPECT_EQ(again.code, 1);
    EXPECT_NE(again.output.find("already exists"), std::string::npos) << again.output;

    auto start = run({"start", "--user", "--name", "demo"});
    ASSERT_EQ(start.code, 0) << start.output;
    EXPECT_NE(start.output.find("is running"), std::string::npos);
    EXPECT_NE(get("/api/version").find("\"version\":\"3.11.1\""), std::string::npos);

    auto twice = run({"start", "--user", "--name", "demo"});
    EXPECT_EQ(twice.code, 1);
    EXPECT_NE(twice.output.find("already running"), std::string::npos) << twice.output;

    auto list = run({"list"});
    EXPECT_NE(list.output.find("demo"), std::string::npos) << list.output;
    EXPECT_NE(list.output.find("Running"), std::string::npos) << list.output;

    auto version = run({"version", "--user", "--name", "demo"});
    EXPECT_NE(version.output.find("running server: {\"version\":\"3.11.1\""), std::string::npos)
        << version.output;

    auto files = run({"files", "--user", "--name", "demo"});
    EXPECT_NE(files.output.find("Configuration file = " + config), std::string::npos) << files.output;
    EXPECT_NE(files.output.find(home_.path() + "/data/dataquality/server/demo/demo.sqlite"),
              std::string::npos)
        << files.output;
    EXPECT_NE(files.output.find("demo.log"), std::string::npos);
    EXPECT_NE(
        files.output.find("Console output     = " + home_.path() + "/data/dataquality/server/demo/demo.out"),
        std::string::npos)
        << files.output;

    auto import = run(
        {"import", std::string(DQ_SOURCE_DIR) + "/config/import-example.yaml", "--user", "--name", "demo"});
    EXPECT_EQ(import.code, 0) << import.output;
    EXPECT_NE(import.output.find("organizations  3 created"), std::string::npos) << import.output;

    auto stop = run({"stop", "--user", "--name", "demo"});
    EXPECT_EQ(stop.code, 0) << stop.output;
    EXPECT_NE(stop.output.find("stopped server demo"), std::string::npos) << stop.output;
    auto after = run({"list"});
    EXPECT_NE(after.output.find("Not running"), std::string::npos) << after.output;
}

TEST_F(VserverCli, AttachShowsTheLogOfTheRunningServer) {
    ASSERT_EQ(
        run({"new", "--user", "--name", "logs", "--non-interactive", "--port", std::to_string(port_)}).code,
        0);
    ASSERT_EQ(run({"start", "--user", "--name", "logs"}).code, 0);
    get("/api/version");
    Terminal t({DQ_VSERVER, "attach", "--user", "--name", "logs"}, env_);
    EXPECT_TRUE(t.expect("GET /api/version 200")) << t.transcript();
}

TEST_F(VserverCli, StopCleansUpAStalePidFile) {
    ASSERT_EQ(run({"new", "--user", "--name", "stale", "--non-interactive"}).code, 0);
    std::string data = home_.path() + "/data/dataquality/server/stale";
    Poco::File(data).createDirectories();
    std::ofstream(data + "/stale.pid") << "999999\n";
    auto stop = run({"stop", "--user", "--name", "stale"});
    EXPECT_NE(stop.output.find("removed stale pid file"), std::string::npos) << stop.output;
    EXPECT_FALSE(Poco::File(data + "/stale.pid").exists());
}

TEST_F(VserverCli, NewWritesTwoFactorAuthenticationAndTheServerAcceptsIt) {
    ASSERT_EQ(run({"new", "--user", "--name", "totp", "--non-interactive", "--port", std::to_string(port_),
                   "--two-factor", "y"})
                  .code,
              0);
    std::stringstream written;
    written << std::ifstream(home_.path() + "/config/dataquality/server/totp.yaml").rdbuf();
    EXPECT_NE(written.str().find("two_factor_auth: true"), std::string::npos) << written.str();
    auto start = run({"start", "--user", "--name", "totp"});
    ASSERT_EQ(start.code, 0) << start.output;
    EXPECT_EQ(run({"stop", "--user", "--name", "totp"}).code, 0);

    auto bad = run({"new", "--user", "--name", "nope", "--non-interactive", "--two-factor", "maybe"});
    EXPECT_NE(bad.code, 0);
    EXPECT_NE(bad.output.find("one of y, n, yes, no"), std::string::npos) << bad.output;
}

TEST_F(VserverCli, StartRefusesATakenPort) {
    Poco::Net::ServerSocket busy(Poco::Net::SocketAddress("127.0.0.1", 0));
    ASSERT_EQ(run({"new", "--user", "--name", "busy", "--non-interactive", "--port",
                   std::to_string(busy.address().port())})
                  .code,
              0);
    auto start = run({"start", "--user", "--name", "busy"});
    EXPECT_EQ(start.code, 1);
    EXPECT_NE(start.output.find("is not available"), std::string::npos) << start.output;
}

TEST_F(VserverCli, StartExplainsWhyTheServerDidNotStart) {
    ASSERT_EQ(run({"new", "--user", "--name", "broken", "--non-interactive", "--port", std::to_string(port_),
                   "--plugins", "organizations,nosuchplugin"})
                  .code,
              0);
    auto start = run({"start", "--user", "--name", "broken"});
    EXPECT_EQ(start.code, 1);
    EXPECT_NE(start.output.find("nosuchplugin"), std::string::npos) << start.output;
}

TEST_F(VserverCli, EveryCommandHasHelpAndUnknownCommandsGetAHint) {
    for (const auto& command :
         {"new", "start", "stop", "files", "attach", "list", "remove", "import", "shell", "version", "plugins"}) {
        auto help = run({command, "--help"});
        EXPECT_EQ(help.code, 0) << command;
        EXPECT_NE(help.output.find("Usage: vserver " + std::string(command)), std::string::npos)
            << command << ": " << help.output;
    }
    // Each option a command parses is in its help, as the help comes from the same declaration.
    auto start = run({"start", "--help"});
    for (const auto& option : {"--attach", "--foreground", "--config FILE", "--name NAME", "--environment ENV",
                               "--data-dir DIR", "--system", "--user"})
        EXPECT_NE(start.output.find(option), std::string::npos) << option << ": " << start.output;
    auto top = run({"--help"});
    EXPECT_NE(top.output.find("organization"), std::string::npos) << top.output;
    EXPECT_NE(top.output.find("list, show, create  [plugin organizations]"), std::string::npos) << top.output;
    auto unknown = run({"strat"});
    EXPECT_EQ(unknown.code, 2);
    EXPECT_NE(unknown.output.find("unknown command 'strat'; did you mean 'start'?"), std::string::npos)
        << unknown.output;
    EXPECT_NE(unknown.output.find("vserver --help"), std::string::npos);
    auto pluginHelp = run({"organization", "create", "--help"});
    EXPECT_EQ(pluginHelp.code, 0);
    EXPECT_NE(pluginHelp.output.find("--organization-name ORGANIZATION_NAME REQUIRED"), std::string::npos)
        << pluginHelp.output;
    EXPECT_NE(pluginHelp.output.find("--country COUNTRY"), std::string::npos) << pluginHelp.output;
    EXPECT_NE(pluginHelp.output.find("(plugin organizations)"), std::string::npos) << pluginHelp.output;
    auto group = run({"organization"});
    EXPECT_EQ(group.code, 2);
    EXPECT_NE(group.output.find("choose one of: list, show, create"), std::string::npos) << group.output;
}

TEST_F(VserverCli, VersionOptionPrintsTheVersion) {
    auto version = run({"--version"});
    EXPECT_EQ(version.code, 0);
    EXPECT_EQ(version.output, "vserver 3.11.1\n");
}

TEST_F(VserverCli, UnknownOptionsAndStrayArgumentsAreRefusedAndWriteNothing) {
    ASSERT_EQ(
        run({"new", "--user", "--name", "strict", "--non-interactive", "--port", std::to_string(port_)}).code,
        0);
    const std::string data = home_.path() + "/data/dataquality/server/strict";
    auto typo = run({"start", "--user", "--name", "strict", "--atach"});
    EXPECT_EQ(typo.code, 2);
    EXPECT_NE(typo.output.find("vserver start: unknown option --atach; did you mean --attach?"),
              std::string::npos)
        << typo.output;
    auto stray = run({"start", "--user", "--name", "strict", "now"});
    EXPECT_EQ(stray.code, 2);
    EXPECT_NE(stray.output.find("vserver start: unexpected argument 'now'"), std::string::npos) << stray.output;
    EXPECT_FALSE(Poco::File(data).exists()) << "a refused start made " << data;

    // A plugin command on a server that has a database: refused before it is opened.
    ASSERT_EQ(run({"start", "--user", "--name", "strict"}).code, 0);
    ASSERT_EQ(run({"stop", "--user", "--name", "strict"}).code, 0);
    auto pluginTypo = run({"organization", "create", "--user", "--name", "strict", "--organization-name", "Typo",
                           "--contry", "NL"});
    EXPECT_EQ(pluginTypo.code, 2);
    EXPECT_NE(pluginTypo.output.find("vserver organization create: unknown option --contry; did you mean --country?"),
              std::string::npos)
        << pluginTypo.output;
    auto pluginStray =
        run({"organization", "create", "--user", "--name", "strict", "--organization-name", "Stray", "extra"});
    EXPECT_EQ(pluginStray.code, 2);
    EXPECT_NE(pluginStray.output.find("unexpected argument 'extra'"), std::string::npos) << pluginStray.output;
    auto twice = run({"organization", "create", "--user", "--name", "strict", "--name", "Foo Org"});
    EXPECT_EQ(twice.code, 2) << twice.output;
    auto list = run({"organization", "list", "--user", "--name", "strict"});
    ASSERT_EQ(list.code, 0) << list.output;
    EXPECT_EQ(list.output.find("Typo"), std::string::npos) << list.output;
    EXPECT_EQ(list.output.find("Stray"), std::string::npos) << list.output;
    EXPECT_EQ(list.output.find("Foo Org"), std::string::npos) << list.output;
}

TEST_F(VserverCli, ConfigFileOfTheUserLevelReachesTheRunningServersDatabase) {
    ASSERT_EQ(run({"new", "--user", "--name", "lab", "--non-interactive", "--port", std::to_string(port_)}).code,
              0);
    ASSERT_EQ(run({"start", "--user", "--name", "lab"}).code, 0);
    const std::string config = home_.path() + "/config/dataquality/server/lab.yaml";
    auto create = run({"organization", "create", "--config", config, "--organization-name", "Reached"});
    ASSERT_EQ(create.code, 0) << create.output;

    Poco::Net::HTTPClientSession session("127.0.0.1", port_);
    Poco::Net::HTTPRequest login("POST", "/api/token/user");
    std::string body = R"({"username": "root", "password": "root"})";
    login.setContentType("application/json");
    login.setContentLength(static_cast<std::streamsize>(body.size()));
    session.sendRequest(login) << body;
    Poco::Net::HTTPResponse response;
    std::string answer;
    Poco::StreamCopier::copyToString(session.receiveResponse(response), answer);
    auto tokenAt = answer.find("\"access_token\":\"");
    ASSERT_NE(tokenAt, std::string::npos) << answer;
    auto token = answer.substr(tokenAt + 16, answer.find('"', tokenAt + 16) - tokenAt - 16);
    Poco::Net::HTTPRequest list("GET", "/api/organization");
    list.set("Authorization", "Bearer " + token);
    session.sendRequest(list);
    std::string organizations;
    Poco::StreamCopier::copyToString(session.receiveResponse(response), organizations);
    EXPECT_NE(organizations.find("Reached"), std::string::npos) << organizations;
    EXPECT_FALSE(Poco::File(home_.path() + "/var/lab").exists()) << "--config used the system-level data folder";

    auto contradiction = run({"organization", "list", "--config", config, "--system"});
    EXPECT_EQ(contradiction.code, 1);
    EXPECT_NE(contradiction.output.find("is a user-level configuration; drop --system"), std::string::npos)
        << contradiction.output;
}

TEST_F(VserverCli, DatabaseCommandsOnANeverStartedServerCreateNothing) {
    ASSERT_EQ(run({"new", "--user", "--name", "fresh", "--non-interactive"}).code, 0);
    const std::string data = home_.path() + "/data/dataquality/server/fresh";
    for (const auto& command : std::vector<std::vector<std::string>>{
             {"organization", "list", "--user", "--name", "fresh"},
             {"organization", "create", "--user", "--name", "fresh", "--organization-name", "Lost"},
             {"shell", "--user", "--name", "fresh", "-c", "/dev/null"}}) {
        auto r = run(command);
        EXPECT_EQ(r.code, 1) << r.output;
        EXPECT_NE(r.output.find("server fresh has no database yet: looked for " + data + "/fresh.sqlite"),
                  std::string::npos)
            << r.output;
        EXPECT_NE(r.output.find("vserver start"), std::string::npos) << r.output;
    }
    EXPECT_FALSE(Poco::File(data).exists()) << data;
}

TEST_F(VserverCli, PluginOptionThatChoosesTheServerIsRefusedNamingThePlugin) {
    std::string config = home_.path() + "/reserved.yaml";
    std::ofstream(config) << "application:\n  uri: sqlite:///reserved.sqlite\n  plugins:\n"
                          << "    enabled: [reserved_option]\n    folders: [" << DQ_FIXTURE_DIR << "]\n";
    auto r = run({"plugins", "--config", config, "--data-dir", home_.path() + "/reserved"});
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.output.find("plugin 'reserved_option': command 'thing create' declares the option --name"),
              std::string::npos)
        << r.output;
}

TEST_F(VserverCli, StartLogsWarningsAndStartAndStopLinesAndListShowsUrlAndPid) {
    ASSERT_EQ(run({"new", "--user", "--name", "ops", "--non-interactive", "--port", std::to_string(port_)}).code,
              0);
    const std::string config = home_.path() + "/config/dataquality/server/ops.yaml";
    std::ofstream(config, std::ios::app) << "  colour: blue\n";
    auto start = run({"start", "--user", "--name", "ops"});
    ASSERT_EQ(start.code, 0) << start.output;
    EXPECT_NE(start.output.find("vserver start: warning: "), std::string::npos) << start.output;
    EXPECT_NE(start.output.find("colour"), std::string::npos) << start.output;

    auto list = run({"list"});
    const std::string url = "http://127.0.0.1:" + std::to_string(port_) + "/api";
    std::string pid;
    std::ifstream(home_.path() + "/data/dataquality/server/ops/ops.pid") >> pid;
    EXPECT_NE(list.output.find(url), std::string::npos) << list.output;
    EXPECT_NE(list.output.find(" " + pid + " "), std::string::npos) << list.output;

    auto running = run({"remove", "--user", "--name", "ops"});
    EXPECT_EQ(running.code, 1);
    EXPECT_NE(running.output.find("is running"), std::string::npos) << running.output;
    EXPECT_TRUE(Poco::File(config).exists());
    ASSERT_EQ(run({"stop", "--user", "--name", "ops"}).code, 0);

    std::stringstream log;
    log << std::ifstream(home_.path() + "/data/dataquality/server/ops/ops.log").rdbuf();
    EXPECT_NE(log.str().find("colour"), std::string::npos) << log.str();
    EXPECT_NE(log.str().find("dataquality-server started: version 3.11.1, configuration " + config +
                             ", environment application, database sqlite:///"),
              std::string::npos)
        << log.str();
    EXPECT_NE(log.str().find("plugins organizations"), std::string::npos) << log.str();
    EXPECT_NE(log.str().find("serving " + url), std::string::npos) << log.str();
    EXPECT_NE(log.str().find("dataquality-server stopped on SIGTERM"), std::string::npos) << log.str();

    auto attach = run({"attach", "--user", "--name", "ops"});
    EXPECT_EQ(attach.code, 0);
    EXPECT_NE(attach.output.find("server ops is not running"), std::string::npos) << attach.output;
    EXPECT_NE(attach.output.find("why it stopped: it stopped cleanly: dataquality-server stopped on SIGTERM"),
              std::string::npos)
        << attach.output;

    auto removed = run({"remove", "--user", "--name", "ops"});
    EXPECT_EQ(removed.code, 0) << removed.output;
    EXPECT_FALSE(Poco::File(config).exists());
    EXPECT_NE(removed.output.find("kept its data"), std::string::npos) << removed.output;
    EXPECT_TRUE(Poco::File(home_.path() + "/data/dataquality/server/ops").exists());
}

TEST_F(VserverCli, ServerRunsWithoutGlibcThreadCachesAndKeepsTheOperatorsTunables) {
    ASSERT_EQ(run({"new", "--user", "--name", "heap", "--non-interactive", "--port", std::to_string(port_)}).code, 0);
    // As the server saw them (/proc/PID/environ does not show them reliably: glibc parses the
    // variable in place).
    auto tunablesOfServer = [&] {
        std::ifstream log(home_.path() + "/data/dataquality/server/heap/heap.log");
        std::string seen = "<not logged>";
        const std::string key = "GLIBC_TUNABLES=";
        for (std::string line; std::getline(log, line);)
            if (auto at = line.find(key); at != std::string::npos)
                seen = line.substr(at + key.size());
        return seen;
    };
    env_["GLIBC_TUNABLES"] = "glibc.malloc.arena_test=3";
    auto start = run({"start", "--user", "--name", "heap"});
    ASSERT_EQ(start.code, 0) << start.output;
    EXPECT_EQ(tunablesOfServer(), "glibc.malloc.arena_test=3:glibc.malloc.tcache_count=0");
    EXPECT_NE(get("/api/version").find("3.11.1"), std::string::npos);
    ASSERT_EQ(run({"stop", "--user", "--name", "heap"}).code, 0);
    // The operator's own choice stays as it is.
    env_["GLIBC_TUNABLES"] = "glibc.malloc.tcache_count=3";
    start = run({"start", "--user", "--name", "heap"});
    ASSERT_EQ(start.code, 0) << start.output;
    EXPECT_EQ(tunablesOfServer(), "glibc.malloc.tcache_count=3");
    ASSERT_EQ(run({"stop", "--user", "--name", "heap"}).code, 0);
}

TEST_F(VserverCli, RemoveWithDataDeletesTheDataFolder) {
    ASSERT_EQ(run({"new", "--user", "--name", "gone", "--non-interactive", "--port", std::to_string(port_)}).code,
              0);
    ASSERT_EQ(run({"start", "--user", "--name", "gone"}).code, 0);
    ASSERT_EQ(run({"stop", "--user", "--name", "gone"}).code, 0);
    auto removed = run({"remove", "--user", "--name", "gone", "--data"});
    EXPECT_EQ(removed.code, 0) << removed.output;
    EXPECT_FALSE(Poco::File(home_.path() + "/config/dataquality/server/gone.yaml").exists());
    EXPECT_FALSE(Poco::File(home_.path() + "/data/dataquality/server/gone").exists());
}

TEST_F(VserverCli, PluginCommandsWorkOnTheConfiguredDatabaseWithoutAServer) {
    ASSERT_EQ(run({"new", "--user", "--name", "admin", "--non-interactive", "--port", std::to_string(port_)}).code,
              0);
    ASSERT_EQ(run({"start", "--user", "--name", "admin"}).code, 0); // makes the database
    ASSERT_EQ(run({"stop", "--user", "--name", "admin"}).code, 0);
    std::string config = home_.path() + "/config/dataquality/server/admin.yaml";
    auto create = run({"organization", "create", "--config", config, "--organization-name", "Clinic", "--country", "NL"});
    ASSERT_EQ(create.code, 0) << create.output;
    auto list = run({"organization", "list", "--config", config});
    EXPECT_NE(list.output.find("Clinic"), std::string::npos) << list.output;
}

} // namespace

namespace {

class VserverImport : public VserverCli {
protected:
    std::string post(const std::string& path, const std::string& body) {
        Poco::Net::HTTPClientSession session("127.0.0.1", port_);
        Poco::Net::HTTPRequest request("POST", path);
        request.setContentType("application/json");
        request.setContentLength(static_cast<std::streamsize>(body.size()));
        session.sendRequest(request) << body;
        Poco::Net::HTTPResponse response;
        std::string answer;
        Poco::StreamCopier::copyToString(session.receiveResponse(response), answer);
        return std::to_string(response.getStatus()) + " " + answer;
    }
    std::string config() {
        if (config_.empty()) {
            EXPECT_EQ(
                run({"new", "--user", "--name", "imp", "--non-interactive", "--port", std::to_string(port_)})
                    .code,
                0);
            config_ = home_.path() + "/config/dataquality/server/imp.yaml";
        }
        return config_;
    }
    std::string writeFile(const std::string& name, const std::string& text) {
        std::string path = home_.path() + "/" + name;
        std::ofstream(path) << text;
        return path;
    }
    const std::string fixture = std::string(DQ_SOURCE_DIR) + "/config/import-example.yaml";
    std::string config_;
};

TEST_F(VserverImport, ImportedUsersAndNodesLogInThroughTheApi) {
    ASSERT_EQ(run({"import", fixture, "--config", config()}).code, 0);
    ASSERT_EQ(run({"start", "--config", config()}).code, 0);
    EXPECT_EQ(post("/api/token/user", R"({"username": "sam", "password": "change-me-3"})").substr(0, 3),
              "200");
    EXPECT_EQ(post("/api/token/user", R"({"username": "sam", "password": "wrong"})").substr(0, 3), "401");
    EXPECT_EQ(post("/api/token/node", R"({"api_key": "0d2b5f2e-1c1a-4c7e-9d1a-aa0000000005"})").substr(0, 3),
              "200");
    EXPECT_EQ(run({"stop", "--config", config()}).code, 0);
}

TEST_F(VserverImport, ReimportDuplicatesNothingAndCountsWhatItLeftAlone) {
    ASSERT_EQ(run({"import", fixture, "--config", config()}).code, 0);
    auto again = run({"import", fixture, "--config", config()});
    ASSERT_EQ(again.code, 0) << again.output;
    EXPECT_NE(again.output.find("organizations  0 created, 0 updated, 3 unchanged"), std::string::npos)
        << again.output;
    EXPECT_NE(again.output.find("nodes          0 created, 0 updated, 5 unchanged"), std::string::npos)
        << again.output;
    EXPECT_NE(again.output.find("users          0 created, 0 updated, 4 unchanged"), std::string::npos)
        << again.output;
}

TEST_F(VserverImport, BadFileChangesNothingAndNamesEntryAndKey) {
    auto bad = writeFile("bad.yaml", "organizations:\n"
                                     "  - name: Fine\n"
                                     "  - name: Broken\n"
                                     "    users:\n"
                                     "      - username: nopass\n"
                                     "collaborations:\n"
                                     "  - name: C\n"
                                     "    participants:\n"
                                     "      - name: Fine\n"
                                     "        api_key: not-a-uuid\n");
    auto r = run({"import", bad, "--config", config()});
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.output.find("bad.yaml: organizations[1].users[0].password: required"), std::string::npos)
        << r.output;
    EXPECT_NE(r.output.find("collaborations[0].participants[0].api_key: expected a UUID"), std::string::npos)
        << r.output;
    auto list = run({"organization", "list", "--config", config()});
    EXPECT_EQ(list.output.find("Fine"), std::string::npos)
        << "nothing of a bad file is written: " << list.output;

    auto unknownParticipant =
        writeFile("ghost.yaml", "collaborations:\n  - name: C\n    participants:\n"
                                "      - name: Ghost\n"
                                "        api_key: 0d2b5f2e-1c1a-4c7e-9d1a-aa0000000009\n"
                                "organizations:\n  - name: Real\n");
    r = run({"import", unknownParticipant, "--config", config()});
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.output.find("participant 'Ghost'"), std::string::npos) << r.output;
    list = run({"organization", "list", "--config", config()});
    EXPECT_EQ(list.output.find("Real"), std::string::npos)
        << "the transaction is all or nothing: " << list.output;
}

// The same declared maximum lengths as over the API: the store enforces them on every path.
TEST_F(VserverImport, TextBeyondItsMaximumLengthIsRefusedNamingTheFieldAndNothingIsWritten) {
    auto tooLong = writeFile("long.yaml", "organizations:\n"
                                          "  - name: Fine\n"
                                          "  - name: " + std::string(129, 'n') + "\n");
    auto r = run({"import", tooLong, "--config", config()});
    EXPECT_EQ(r.code, 1) << r.output;
    EXPECT_NE(r.output.find("at most 128"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("name"), std::string::npos) << r.output;
    auto list = run({"organization", "list", "--config", config()});
    EXPECT_EQ(list.output.find("Fine"), std::string::npos) << list.output;
}

// A plugin of its own adds keys to the file: at the top, and inside another plugin's entries.
TEST_F(VserverImport, PluginSectionsAreCalledAtTheTopAndInsideOtherPluginsEntries) {
    std::string config = home_.path() + "/visits.yaml";
    std::ofstream(config) << "application:\n  uri: sqlite:///visits.sqlite\n  plugins:\n"
                          << "    enabled: [organizations, import_section]\n    folders: [" << DQ_FIXTURE_DIR << "]\n";
    const std::string data = home_.path() + "/visits";
    auto file = writeFile("visits-import.yaml", "organizations:\n"
                                                "  - name: Harbour\n"
                                                "    visits: [quay, lighthouse]\n"
                                                "visits:\n"
                                                "  - place: market\n");
    auto r = run({"import", file, "--config", config, "--data-dir", data});
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_NE(r.output.find("organization visits 2 created, 0 updated, 0 unchanged"), std::string::npos) << r.output;
    auto list = run({"visit", "list", "--config", config, "--data-dir", data});
    EXPECT_NE(list.output.find("quay 1\nlighthouse 1\nmarket -\n"), std::string::npos) << list.output;
    r = run({"import", file, "--config", config, "--data-dir", data});
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_NE(r.output.find("  visits" + std::string(14, ' ') + "0 created, 0 updated, 1 unchanged"), std::string::npos)
        << r.output;
    EXPECT_NE(r.output.find("organization visits 0 created, 0 updated, 2 unchanged"), std::string::npos) << r.output;

    auto bad = writeFile("bad-visits.yaml", "visits:\n  - place:\n  - where: nowhere\ncollaborations: []\n");
    r = run({"import", bad, "--config", config, "--data-dir", data});
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.output.find("bad-visits.yaml: visits[0].place: required (line 2)"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("bad-visits.yaml: visits[1].where: unknown key (expected one of: place) (line 3)"),
              std::string::npos)
        << r.output;
    EXPECT_NE(r.output.find("bad-visits.yaml: collaborations: unknown key (expected one of: organizations, "
                            "visits; no enabled plugin imports 'collaborations') (line 4)"),
              std::string::npos)
        << r.output;
}

TEST_F(VserverImport, DropAllNeedsAllowDropAll) {
    auto r = run({"import", fixture, "--config", config(), "--drop-all"});
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.output.find("allow_drop_all"), std::string::npos) << r.output;
}

} // namespace
