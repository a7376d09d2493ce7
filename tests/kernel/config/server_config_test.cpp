#include "kernel/config/server_config.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>

using dq::kernel::ConfigError;
using dq::kernel::ServerConfig;

namespace {

/// The problems parse() reports for `yaml`; fails the test when it does not throw.
std::vector<std::string> problemsOf(const std::string& yaml, const std::string& environment = "") {
    try {
        ServerConfig::parse(yaml, "server.yaml", environment);
    } catch (const ConfigError& e) {
        return e.problems();
    }
    ADD_FAILURE() << "expected a ConfigError for:\n" << yaml;
    return {};
}

/// The single problem of an `application:` whose other keys are fine.
std::string problemOfApplication(const std::string& keys) {
    auto problems = problemsOf("application:\n  uri: sqlite:///x.sqlite\n" + keys);
    EXPECT_EQ(problems.size(), 1u) << testing::PrintToString(problems);
    return problems.empty() ? "" : problems.front();
}

ServerConfig parseApplication(const std::string& keys) {
    return ServerConfig::parse("application:\n  uri: sqlite:///x.sqlite\n" + keys, "server.yaml");
}

/// Sets an environment variable for the scope of a test.
class ScopedEnv {
public:
    ScopedEnv(const char* name, const char* value) : name_(name) { setenv(name, value, 1); }
    ~ScopedEnv() { unsetenv(name_); }

private:
    const char* name_;
};

/// The tests expect the file's `uri`; a DQ_DB_URI left in the shell would override it.
class WithoutDbUriVariables : public testing::Environment {
public:
    void SetUp() override {
        unsetenv("DQ_DB_URI");
        unsetenv("VANTAGE6_DB_URI");
    }
};
[[maybe_unused]] testing::Environment* const kWithoutDbUriVariables =
    testing::AddGlobalTestEnvironment(new WithoutDbUriVariables);

class TempDir {
public:
    TempDir() {
        path_ = std::filesystem::temp_directory_path() /
                ("dq-config-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
        std::filesystem::create_directories(path_);
    }
    ~TempDir() { std::filesystem::remove_all(path_); }
    std::string write(const std::string& name, const std::string& text) const {
        std::ofstream(path_ / name) << text;
        return (path_ / name).string();
    }
    std::string path(const std::string& name) const { return (path_ / name).string(); }

private:
    static inline int counter_ = 0;
    std::filesystem::path path_;
};

} // namespace

// ---- defaults and values -------------------------------------------------------------------

TEST(ServerConfig, AppliesDefaultsWhenOnlyUriIsGiven) {
    auto config = ServerConfig::parse("application:\n  uri: sqlite:///default.sqlite\n", "server.yaml");
    EXPECT_EQ(config.file, "server.yaml");
    EXPECT_EQ(config.environment, "application");
    EXPECT_EQ(config.description, "");
    EXPECT_EQ(config.type, "prod");
    EXPECT_EQ(config.ip, "127.0.0.1");
    EXPECT_EQ(config.port, 5000);
    EXPECT_EQ(config.apiPath, "/api");
    EXPECT_EQ(config.uri, "sqlite:///default.sqlite");
    EXPECT_FALSE(config.allowDropAll);
    EXPECT_FALSE(config.jwtSecretKey.has_value());
    EXPECT_EQ(config.tokenExpiresHours, 6);
    EXPECT_EQ(config.refreshTokenExpiresHours, 48);
    EXPECT_EQ(config.maxBodyBytes, 1024u * 1024u);
    EXPECT_EQ(config.threads, 64);
    EXPECT_EQ(config.logging.level, "INFO");
    EXPECT_EQ(config.logging.file, "");
    EXPECT_TRUE(config.logging.useConsole);
    EXPECT_EQ(config.logging.backupCount, 5);
    EXPECT_EQ(config.logging.maxSizeKb, 1024);
    EXPECT_EQ(config.logging.format, "%(asctime)s - %(name)-14s - %(levelname)-8s - %(message)s");
    EXPECT_EQ(config.logging.datefmt, "%Y-%m-%d %H:%M:%S");
    EXPECT_TRUE(config.logging.loggers.empty());
    EXPECT_TRUE(config.plugins.enabled.empty());
    EXPECT_TRUE(config.plugins.folders.empty());
    EXPECT_TRUE(config.plugins.optional.empty());
    EXPECT_TRUE(config.plugins.settings.empty());
    EXPECT_TRUE(config.warnings.empty());
    EXPECT_EQ(config.raw["uri"].as<std::string>(), "sqlite:///default.sqlite");
}

TEST(ServerConfig, ReadsEveryKey) {
    auto config = parseApplication(R"(  description: Test server
  type: acc
  ip: "::1"
  port: 7601
  api_path: /dq/api
  allow_drop_all: true
  jwt_secret_key: s3cret
  token_expires_hours: 2
  refresh_token_expires_hours: 10
  max_body_size: 64
  threads: 4
  logging:
    level: debug
    file: server.log
    use_console: false
    backup_count: 3
    max_size: 17
    format: "%(message)s"
    datefmt: "%H:%M"
    loggers:
      - {name: users, level: WARNING}
      - {name: tasks, level: NOTSET}
  plugins:
    enabled: [organizations, users]
    folders: [/opt/plugins]
    optional: [users]
    settings:
      users: {minimum_password_length: 12}
)");
    EXPECT_EQ(config.description, "Test server");
    EXPECT_EQ(config.type, "acc");
    EXPECT_EQ(config.ip, "::1");
    EXPECT_EQ(config.port, 7601);
    EXPECT_EQ(config.apiPath, "/dq/api");
    EXPECT_TRUE(config.allowDropAll);
    EXPECT_EQ(config.jwtSecretKey.value_or(""), "s3cret");
    EXPECT_EQ(config.tokenExpiresHours, 2);
    EXPECT_EQ(config.refreshTokenExpiresHours, 10);
    EXPECT_EQ(config.maxBodyBytes, 64u * 1024u);
    EXPECT_EQ(config.threads, 4);
    EXPECT_EQ(config.logging.level, "DEBUG");
    EXPECT_EQ(config.logging.file, "server.log");
    EXPECT_FALSE(config.logging.useConsole);
    EXPECT_EQ(config.logging.backupCount, 3);
    EXPECT_EQ(config.logging.maxSizeKb, 17);
    EXPECT_EQ(config.logging.format, "%(message)s");
    EXPECT_EQ(config.logging.datefmt, "%H:%M");
    ASSERT_EQ(config.logging.loggers.size(), 2u);
    EXPECT_EQ(config.logging.loggers[0].name, "users");
    EXPECT_EQ(config.logging.loggers[0].level, "WARNING");
    EXPECT_EQ(config.logging.loggers[1].name, "tasks");
    EXPECT_EQ(config.logging.loggers[1].level, "NOTSET");
    EXPECT_EQ(config.plugins.enabled, (std::vector<std::string>{"organizations", "users"}));
    EXPECT_EQ(config.plugins.folders, (std::vector<std::string>{"/opt/plugins"}));
    EXPECT_EQ(config.plugins.optional, (std::set<std::string>{"users"}));
    ASSERT_EQ(config.plugins.settings.count("users"), 1u);
    EXPECT_EQ(config.plugins.settings.at("users")["minimum_password_length"].as<int>(), 12);
    EXPECT_TRUE(config.warnings.empty()) << testing::PrintToString(config.warnings);
}

TEST(ServerConfig, AcceptsQuotedDigitsAsIntegerLikeVantage6) {
    EXPECT_EQ(parseApplication("  port: \"5001\"\n").port, 5001);
}

TEST(ServerConfig, AcceptsYaml11BooleansLikePyYaml) {
    EXPECT_TRUE(parseApplication("  allow_drop_all: yes\n").allowDropAll);
    EXPECT_TRUE(parseApplication("  allow_drop_all: True\n").allowDropAll);
    EXPECT_FALSE(parseApplication("  allow_drop_all: off\n").allowDropAll);
}

TEST(ServerConfig, AcceptsAllInterfacesAndIpv6Addresses) {
    EXPECT_EQ(parseApplication("  ip: 0.0.0.0\n").ip, "0.0.0.0");
    EXPECT_EQ(parseApplication("  ip: \"::\"\n").ip, "::");
    EXPECT_EQ(parseApplication("  ip: fe80::1\n").ip, "fe80::1");
}

TEST(ServerConfig, TestTypeMakesAccessTokensLastOneDay) {
    auto config = parseApplication("  type: test\n  token_expires_hours: 2\n");
    EXPECT_EQ(config.tokenExpiresHours, 24);
    EXPECT_EQ(config.refreshTokenExpiresHours, 48);
}

TEST(ServerConfig, NullValueMeansTheDefault) {
    auto config = parseApplication("  description:\n  port: ~\n  logging:\n");
    EXPECT_EQ(config.description, "");
    EXPECT_EQ(config.port, 5000);
    EXPECT_EQ(config.logging.level, "INFO");
}

TEST(ServerConfig, DropsRepeatedPluginNamesWithAWarning) {
    auto config = parseApplication("  plugins:\n    enabled: [users, roles, users]\n");
    EXPECT_EQ(config.plugins.enabled, (std::vector<std::string>{"users", "roles"}));
    EXPECT_EQ(config.warnings,
              (std::vector<std::string>{
                  "server.yaml: application.plugins.enabled: \"users\" is listed more than once"}));
}

// ---- golden error messages -----------------------------------------------------------------

TEST(ServerConfigErrors, PortThatIsNotANumber) {
    auto problems = problemsOf("environments:\n  test:\n    uri: sqlite:///x.sqlite\n    port: 50a0\n");
    EXPECT_EQ(problems,
              (std::vector<std::string>{
                  "server.yaml: environments.test.port: expected an integer 1-65535, got \"50a0\""}));
}

TEST(ServerConfigErrors, PortOutOfRange) {
    EXPECT_EQ(problemOfApplication("  port: 70000\n"),
              "server.yaml: application.port: expected an integer 1-65535, got 70000");
    EXPECT_EQ(problemOfApplication("  port: 0\n"),
              "server.yaml: application.port: expected an integer 1-65535, got 0");
    EXPECT_EQ(problemOfApplication("  port: 5000.5\n"),
              "server.yaml: application.port: expected an integer 1-65535, got 5000.5");
    EXPECT_EQ(problemOfApplication("  port: 99999999999999999999999\n"),
              "server.yaml: application.port: expected an integer 1-65535, got 99999999999999999999999");
}

TEST(ServerConfigErrors, UnknownType) {
    EXPECT_EQ(problemOfApplication("  type: staging\n"),
              "server.yaml: application.type: expected one of dev, test, acc, prod, got \"staging\"");
}

TEST(ServerConfigErrors, DescriptionThatIsAList) {
    EXPECT_EQ(problemOfApplication("  description: [a, b]\n"),
              "server.yaml: application.description: expected a text value, got a list");
}

TEST(ServerConfigErrors, InvalidIpAddress) {
    EXPECT_EQ(
        problemOfApplication("  ip: 999.1.1.1\n"),
        "server.yaml: application.ip: expected an IPv4 or IPv6 address (0.0.0.0 for all), got \"999.1.1.1\"");
    EXPECT_EQ(
        problemOfApplication("  ip: localhost\n"),
        "server.yaml: application.ip: expected an IPv4 or IPv6 address (0.0.0.0 for all), got \"localhost\"");
}

TEST(ServerConfigErrors, ApiPathWithoutLeadingOrWithTrailingSlash) {
    const std::string expected =
        "expected a path that starts with \"/\" and does not end with one, e.g. /api";
    EXPECT_EQ(problemOfApplication("  api_path: api\n"),
              "server.yaml: application.api_path: " + expected + ", got \"api\"");
    EXPECT_EQ(problemOfApplication("  api_path: /api/\n"),
              "server.yaml: application.api_path: " + expected + ", got \"/api/\"");
    EXPECT_EQ(problemOfApplication("  api_path: /\n"),
              "server.yaml: application.api_path: " + expected + ", got \"/\"");
}

TEST(ServerConfigErrors, MissingOrEmptyUri) {
    EXPECT_EQ(
        problemsOf("application:\n  port: 5000\n"),
        (std::vector<std::string>{"server.yaml: application.uri: expected a database URI, e.g. "
                                  "sqlite:///default.sqlite (required; or set DQ_DB_URI), got nothing"}));
    EXPECT_EQ(problemsOf("application:\n  uri: \"\"\n"),
              (std::vector<std::string>{"server.yaml: application.uri: expected a database URI, e.g. "
                                        "sqlite:///default.sqlite, got \"\""}));
    EXPECT_EQ(problemsOf("application:\n  uri: {a: 1}\n"),
              (std::vector<std::string>{"server.yaml: application.uri: expected a database URI, e.g. "
                                        "sqlite:///default.sqlite, got a mapping"}));
}

TEST(ServerConfigErrors, AllowDropAllAsStringIsNotTruthy) {
    EXPECT_EQ(problemOfApplication("  allow_drop_all: \"False\"\n"),
              "server.yaml: application.allow_drop_all: expected true or false, got \"False\"");
    EXPECT_EQ(problemOfApplication("  allow_drop_all: 1\n"),
              "server.yaml: application.allow_drop_all: expected true or false, got 1");
}

TEST(ServerConfigErrors, EmptyJwtSecret) {
    EXPECT_EQ(
        problemOfApplication("  jwt_secret_key: \"\"\n"),
        "server.yaml: application.jwt_secret_key: expected a non-empty secret (or no key at all for a random "
        "one at each start), got \"\"");
}

TEST(ServerConfigErrors, TokenLifetimes) {
    EXPECT_EQ(
        problemOfApplication("  token_expires_hours: 0\n"),
        "server.yaml: application.token_expires_hours: expected an integer greater than 0 (hours), got 0");
    EXPECT_EQ(problemOfApplication("  token_expires_hours: 6\n  refresh_token_expires_hours: 6\n"),
              "server.yaml: application.refresh_token_expires_hours: expected an integer greater than "
              "token_expires_hours (6), got 6");
    EXPECT_EQ(problemOfApplication("  token_expires_hours: 100\n"),
              "server.yaml: application.refresh_token_expires_hours: expected an integer greater than "
              "token_expires_hours (100), got the default 48 (set it explicitly)");
}

TEST(ServerConfigErrors, MaxBodySizeAndThreads) {
    EXPECT_EQ(problemOfApplication("  max_body_size: 0\n"),
              "server.yaml: application.max_body_size: expected an integer greater than 0 (kB), got 0");
    EXPECT_EQ(problemOfApplication("  threads: 300\n"),
              "server.yaml: application.threads: expected an integer 1-256, got 300");
    EXPECT_EQ(problemOfApplication("  threads: many\n"),
              "server.yaml: application.threads: expected an integer 1-256, got \"many\"");
}

TEST(ServerConfigErrors, LoggingKeys) {
    EXPECT_EQ(problemOfApplication("  logging: verbose\n"),
              "server.yaml: application.logging: expected a mapping (level, file, use_console, ...), got "
              "\"verbose\"");
    EXPECT_EQ(problemOfApplication("  logging:\n    level: LOUD\n"),
              "server.yaml: application.logging.level: expected one of CRITICAL, ERROR, WARNING, INFO, "
              "DEBUG, NOTSET, "
              "got \"LOUD\"");
    EXPECT_EQ(problemOfApplication("  logging:\n    use_console: \"yes\"\n"),
              "server.yaml: application.logging.use_console: expected true or false, got \"yes\"");
    EXPECT_EQ(problemOfApplication("  logging:\n    backup_count: 0\n"),
              "server.yaml: application.logging.backup_count: expected an integer greater than 0, got 0");
    EXPECT_EQ(problemOfApplication("  logging:\n    max_size: 16\n"),
              "server.yaml: application.logging.max_size: expected an integer greater than 16 (kB), got 16");
    EXPECT_EQ(problemOfApplication("  logging:\n    format: [a]\n"),
              "server.yaml: application.logging.format: expected a Python logging format, got a list");
    EXPECT_EQ(problemOfApplication("  logging:\n    loggers: users\n"),
              "server.yaml: application.logging.loggers: expected a list of {name, level}, got \"users\"");
    EXPECT_EQ(
        problemOfApplication("  logging:\n    loggers:\n      - {name: users, level: LOUD}\n"),
        "server.yaml: application.logging.loggers[0].level: expected one of CRITICAL, ERROR, WARNING, INFO, "
        "DEBUG, NOTSET, got \"LOUD\"");
    EXPECT_EQ(problemOfApplication("  logging:\n    loggers:\n      - {level: INFO}\n"),
              "server.yaml: application.logging.loggers[0].name: expected a logger name, got nothing");
}

TEST(ServerConfigErrors, PluginsSection) {
    EXPECT_EQ(problemOfApplication("  plugins: all\n"),
              "server.yaml: application.plugins: expected a mapping (enabled, folders, optional, settings), "
              "got \"all\"");
    EXPECT_EQ(problemOfApplication("  plugins:\n    enabled: users\n"),
              "server.yaml: application.plugins.enabled: expected a list of plugin names, got \"users\"");
    EXPECT_EQ(problemOfApplication("  plugins:\n    enabled: [users, {a: 1}]\n"),
              "server.yaml: application.plugins.enabled[1]: expected a plugin name, got a mapping");
    EXPECT_EQ(
        problemOfApplication("  plugins:\n    settings:\n      smtp: localhost\n"),
        "server.yaml: application.plugins.settings.smtp: expected a mapping of the plugin's settings, got "
        "\"localhost\"");
}

TEST(ServerConfigErrors, LegacyPluginSectionThatIsNotAMapping) {
    EXPECT_EQ(
        problemOfApplication("  smtp: localhost\n"),
        "server.yaml: application.smtp: expected a mapping (server, port, username, password, MAIL_USE_TLS, "
        "MAIL_USE_SSL, use_tls, email_token_validity_minutes), got \"localhost\"");
}

TEST(ServerConfigErrors, ReportsEveryProblemAtOnce) {
    const std::string yaml = "environments:\n  prod:\n    port: 50a0\n    type: staging\n    threads: 0\n"
                             "    logging:\n      level: LOUD\n";
    try {
        ServerConfig::parse(yaml, "server.yaml", "prod");
        FAIL() << "expected a ConfigError";
    } catch (const ConfigError& e) {
        const std::vector<std::string> expected = {
            "server.yaml: environments.prod.type: expected one of dev, test, acc, prod, got \"staging\"",
            "server.yaml: environments.prod.port: expected an integer 1-65535, got \"50a0\"",
            "server.yaml: environments.prod.uri: expected a database URI, e.g. sqlite:///default.sqlite "
            "(required; "
            "or set DQ_DB_URI), got nothing",
            "server.yaml: environments.prod.threads: expected an integer 1-256, got 0",
            "server.yaml: environments.prod.logging.level: expected one of CRITICAL, ERROR, WARNING, INFO, "
            "DEBUG, "
            "NOTSET, got \"LOUD\"",
        };
        EXPECT_EQ(e.problems(), expected);
        std::string joined;
        for (const auto& problem : expected)
            joined += (joined.empty() ? "" : "\n") + problem;
        EXPECT_EQ(std::string(e.what()), joined);
    }
}

// ---- file-level problems -------------------------------------------------------------------

TEST(ServerConfigErrors, YamlSyntaxErrorNamesLineAndColumn) {
    auto problems = problemsOf("application:\n  uri: sqlite:///x.sqlite\n  port: [5000\n");
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_EQ(problems[0], "server.yaml:4:1: invalid YAML: end of sequence flow not found");
}

TEST(ServerConfigErrors, EmptyFile) {
    EXPECT_EQ(
        problemsOf("# nothing yet\n"),
        (std::vector<std::string>{"server.yaml: the file is empty; it needs an `application:` section or "
                                  "`environments:` with dev, test, acc or prod (see config/server.yaml)"}));
}

TEST(ServerConfigErrors, RootThatIsNotAMapping) {
    EXPECT_EQ(problemsOf("- application\n"),
              (std::vector<std::string>{"server.yaml: expected a mapping with `application:` or "
                                        "`environments:` at the top, got a list"}));
}

TEST(ServerConfigErrors, MissingFile) {
    TempDir dir;
    const std::string file = dir.path("absent.yaml");
    try {
        ServerConfig::load(file);
        FAIL() << "expected a ConfigError";
    } catch (const ConfigError& e) {
        EXPECT_EQ(std::string(e.what()),
                  file + ": no such configuration file (create one with `vserver new`, or "
                         "pass the right path with --config)");
    }
}

TEST(ServerConfigErrors, FolderInsteadOfFile) {
    TempDir dir;
    std::filesystem::create_directories(dir.path("server.yaml"));
    EXPECT_THROW(ServerConfig::load(dir.path("server.yaml")), ConfigError);
}

TEST(ServerConfigErrors, UnknownEnvironmentName) {
    EXPECT_EQ(problemsOf("environments:\n  staging:\n    uri: x\n  prod:\n    uri: x\n", "prod"),
              (std::vector<std::string>{
                  "server.yaml: environments.staging: expected an environment named dev, test, "
                  "acc or prod, got \"staging\""}));
}

// ---- environment selection -----------------------------------------------------------------

TEST(ServerConfigEnvironments, PicksTheOnlyEnvironment) {
    auto config =
        ServerConfig::parse("environments:\n  dev:\n    uri: sqlite:///dev.sqlite\n", "server.yaml");
    EXPECT_EQ(config.environment, "dev");
    EXPECT_EQ(config.uri, "sqlite:///dev.sqlite");
}

TEST(ServerConfigEnvironments, PrefersApplicationWhenNoneIsGiven) {
    auto config = ServerConfig::parse(
        "application:\n  uri: sqlite:///app.sqlite\nenvironments:\n  dev:\n    uri: sqlite:///dev.sqlite\n",
        "server.yaml");
    EXPECT_EQ(config.environment, "application");
    EXPECT_EQ(config.uri, "sqlite:///app.sqlite");
}

TEST(ServerConfigEnvironments, RefusesToGuessAmongSeveral) {
    EXPECT_EQ(problemsOf("environments:\n  prod:\n    uri: a\n  dev:\n    uri: b\n"),
              (std::vector<std::string>{
                  "server.yaml: several environments (dev, prod): choose one with --environment"}));
}

TEST(ServerConfigEnvironments, UsesTheOneAskedFor) {
    const std::string yaml = "environments:\n  prod:\n    uri: sqlite:///prod.sqlite\n    port: 80\n"
                             "  dev:\n    uri: sqlite:///dev.sqlite\n";
    auto config = ServerConfig::parse(yaml, "server.yaml", "prod");
    EXPECT_EQ(config.environment, "prod");
    EXPECT_EQ(config.port, 80);
    EXPECT_EQ(ServerConfig::parse(yaml, "server.yaml", "dev").uri, "sqlite:///dev.sqlite");
}

TEST(ServerConfigEnvironments, ApplicationCanBeAskedForByName) {
    auto config = ServerConfig::parse("application:\n  uri: a\nenvironments:\n  dev:\n    uri: b\n",
                                      "server.yaml", "application");
    EXPECT_EQ(config.uri, "a");
}

TEST(ServerConfigEnvironments, AbsentEnvironmentListsTheAvailableOnes) {
    EXPECT_EQ(
        problemsOf("environments:\n  prod:\n    uri: a\n  dev:\n    uri: b\n", "test"),
        (std::vector<std::string>{
            "server.yaml: no environment \"test\"; the file has dev, prod (choose one with --environment)"}));
}

TEST(ServerConfigEnvironments, NoEnvironmentAtAll) {
    EXPECT_EQ(problemsOf("environments: {}\n"),
              (std::vector<std::string>{
                  "server.yaml: no `application:` section and no environment (dev, test, acc, "
                  "prod) under `environments:`; add one (see config/server.yaml)"}));
}

TEST(ServerConfigEnvironments, OnlyTheChosenEnvironmentIsValidated) {
    auto config = ServerConfig::parse("environments:\n  prod:\n    uri: a\n  dev:\n    port: broken\n",
                                      "server.yaml", "prod");
    EXPECT_EQ(config.uri, "a");
}

TEST(ServerConfigEnvironments, EnvironmentsOfListsApplicationFirstThenInFixedOrder) {
    TempDir dir;
    const std::string file =
        dir.write("s.yaml", "environments:\n  prod: {uri: a}\n  dev: {uri: b}\napplication:\n  uri: c\n");
    EXPECT_EQ(ServerConfig::environmentsOf(file), (std::vector<std::string>{"application", "dev", "prod"}));
    EXPECT_THROW(ServerConfig::environmentsOf(dir.path("absent.yaml")), ConfigError);
}

// ---- warnings ------------------------------------------------------------------------------

TEST(ServerConfigWarnings, UnknownKeySuggestsTheNearestKnownOne) {
    auto config = ServerConfig::parse("environments:\n  prod:\n    uri: a\n    portt: 5000\n", "server.yaml");
    EXPECT_EQ(config.warnings,
              (std::vector<std::string>{
                  "server.yaml: environments.prod.portt: unknown key (ignored); did you mean 'port'?"}));
    EXPECT_EQ(config.port, 5000); // the misspelt key really is ignored
}

TEST(ServerConfigWarnings, UnknownKeyFarFromAnyKnownOneHasNoSuggestion) {
    EXPECT_EQ(parseApplication("  favourite_colour: blue\n").warnings,
              (std::vector<std::string>{"server.yaml: application.favourite_colour: unknown key (ignored)"}));
}

TEST(ServerConfigWarnings, UnknownKeysInNestedSections) {
    auto config =
        parseApplication("  logging:\n    levl: DEBUG\n  smtp:\n    sever: mail\n  plugins:\n    enable: []\n"
                         "enviroments: {}\n");
    EXPECT_EQ(config.warnings,
              (std::vector<std::string>{
                  "server.yaml: enviroments: unknown key (ignored); did you mean 'environments'?",
                  "server.yaml: application.logging.levl: unknown key (ignored); did you mean 'level'?",
                  "server.yaml: application.plugins.enable: unknown key (ignored); did you mean "
                  "'enabled'?",
                  "server.yaml: application.smtp.sever: unknown key (ignored); did you mean 'server'?",
              }));
}

TEST(ServerConfigWarnings, KeysThatPluginsReadAreNotUnknown) {
    auto config = parseApplication(R"(  smtp:
    server: localhost
    port: 1025
    username: a@b.c
    password: x
    MAIL_USE_TLS: true
    MAIL_USE_SSL: false
    use_tls: true
    email_token_validity_minutes: 30
  support_email: help@b.c
  email_token_validity_minutes: 60
  vpn_server:
    url: https://vpn
    redirect_url: http://localhost
    client_id: id
    client_secret: secret
    portal_username: u
    portal_userpass: p
  password_policy:
    max_failed_attempts: 5
    inactivation_minutes: 15
  two_factor_auth: false
  rabbitmq_uri: amqp://u:p@host:5672/vhost
  redis_uri: redis://localhost:6379
  debug: {socketio: false, flask: false}
  directories: {log: /var/log, data: /var/lib}
  images: {server: s, ui: u}
  image: old
  ui: {enabled: false, port: 80}
  server_url: https://dq.example.org
)");
    // rabbitmq_uri is accepted, with one warning saying why it is not needed.
    ASSERT_EQ(config.warnings.size(), 1u) << testing::PrintToString(config.warnings);
    EXPECT_NE(config.warnings[0].find("rabbitmq_uri: not needed"), std::string::npos) << config.warnings[0];
    EXPECT_NE(config.warnings[0].find("outbox"), std::string::npos) << config.warnings[0];
    EXPECT_EQ(config.raw["smtp"]["server"].as<std::string>(), "localhost");
    EXPECT_EQ(config.raw["vpn_server"]["client_id"].as<std::string>(), "id");
}

// ---- environment variables -----------------------------------------------------------------

TEST(ServerConfigEnvironmentVariables, Vantage6DbUriOverridesTheFile) {
    ScopedEnv env("VANTAGE6_DB_URI", "postgresql://u:p@db/dq");
    auto config = parseApplication("");
    EXPECT_EQ(config.uri, "postgresql://u:p@db/dq");
    EXPECT_EQ(config.warnings,
              (std::vector<std::string>{"server.yaml: application.uri: not used, the environment "
                                        "variable VANTAGE6_DB_URI overrides it"}));
}

TEST(ServerConfigEnvironmentVariables, DqDbUriWinsAndMakesUriOptional) {
    ScopedEnv v6("VANTAGE6_DB_URI", "postgresql://u:p@db/v6");
    ScopedEnv dq("DQ_DB_URI", "sqlite:///env.sqlite");
    auto config = ServerConfig::parse("application:\n  port: 5001\n", "server.yaml");
    EXPECT_EQ(config.uri, "sqlite:///env.sqlite");
    EXPECT_TRUE(config.warnings.empty());
}

// ---- the example files ---------------------------------------------------------------------

TEST(ServerConfigExamples, ServerYamlLoadsCleanlyWithAllBundledPlugins) {
    auto config = ServerConfig::load(std::string(DQ_SOURCE_DIR) + "/config/server.yaml");
    EXPECT_TRUE(config.warnings.empty()) << testing::PrintToString(config.warnings);
    EXPECT_EQ(config.environment, "application");
    EXPECT_EQ(config.uri, "sqlite:///default.sqlite");
    EXPECT_EQ(config.plugins.enabled,
              (std::vector<std::string>{"organizations", "users", "roles", "collaborations", "nodes", "tasks",
                                        "vpn", "smtp"}));
}

TEST(ServerConfigExamples, EnvironmentsExampleLoadsEachEnvironment) {
    const std::string file = std::string(DQ_SOURCE_DIR) + "/config/server-environments.yaml";
    EXPECT_EQ(ServerConfig::environmentsOf(file), (std::vector<std::string>{"dev", "prod"}));
    auto dev = ServerConfig::load(file, "dev");
    EXPECT_TRUE(dev.warnings.empty()) << testing::PrintToString(dev.warnings);
    EXPECT_TRUE(dev.allowDropAll);
    auto prod = ServerConfig::load(file, "prod");
    EXPECT_TRUE(prod.warnings.empty()) << testing::PrintToString(prod.warnings);
    EXPECT_EQ(prod.ip, "0.0.0.0");
    EXPECT_THROW(ServerConfig::load(file), ConfigError); // two environments: the choice is required
}

TEST(ServerConfigExamples, EveryServerConfigurationInTheConfigFolderLoads) {
    // Batch-import files live there too; a server configuration is one with environments.
    for (const auto& entry : std::filesystem::directory_iterator(std::string(DQ_SOURCE_DIR) + "/config")) {
        if (entry.path().extension() != ".yaml")
            continue;
        const std::string file = entry.path().string();
        const YAML::Node root = YAML::LoadFile(file);
        if (!root.IsMap() || (!root["application"] && !root["environments"]))
            continue;
        for (const auto& environment : ServerConfig::environmentsOf(file)) {
            SCOPED_TRACE(file + " " + environment);
            EXPECT_NO_THROW(ServerConfig::load(file, environment));
        }
    }
}

namespace {

TEST(ServerConfig, AllowsEveryOriginAndFindsSwaggerUiInFlasggerByDefault) {
    auto config = parseApplication("");
    EXPECT_EQ(config.corsAllowedOrigins, std::vector<std::string>{"*"});
    EXPECT_EQ(config.swaggerUiFolder, "/usr/lib/python3/dist-packages/flasgger/ui3/static");
}

TEST(ServerConfig, ReadsAllowedOriginsAndTheSwaggerUiFolder) {
    auto config =
        parseApplication("  cors_allowed_origins: [https://ui.example.org, 'http://localhost:7600']\n"
                         "  swagger_ui_folder: /opt/swagger-ui-dist\n");
    EXPECT_EQ(config.corsAllowedOrigins,
              (std::vector<std::string>{"https://ui.example.org", "http://localhost:7600"}));
    EXPECT_EQ(config.swaggerUiFolder, "/opt/swagger-ui-dist");
    EXPECT_EQ(parseApplication("  cors_allowed_origins: '*'\n").corsAllowedOrigins,
              std::vector<std::string>{"*"});
}

TEST(ServerConfig, RefusesAnOriginWithAPathOrWithoutAScheme) {
    EXPECT_EQ(problemOfApplication("  cors_allowed_origins: [https://ui.example.org/]\n"),
              "server.yaml: application.cors_allowed_origins[0]: expected \"*\" or an origin such as "
              "https://ui.example.org, got \"https://ui.example.org/\"");
    EXPECT_EQ(problemOfApplication("  cors_allowed_origins: [ok.example.org]\n"),
              "server.yaml: application.cors_allowed_origins[0]: expected \"*\" or an origin such as "
              "https://ui.example.org, got \"ok.example.org\"");
    EXPECT_EQ(problemOfApplication("  cors_allowed_origins: https://ui.example.org\n"),
              "server.yaml: application.cors_allowed_origins: expected \"*\" or a list of origins such as "
              "https://ui.example.org (scheme, host and port as the browser sends them; no path), got "
              "\"https://ui.example.org\"");
}

TEST(ServerConfig, TrustsNoProxyByDefaultAndReadsAddressesAndNetworks) {
    EXPECT_TRUE(parseApplication("").trustedProxies.empty());
    EXPECT_EQ(parseApplication("  trusted_proxies: [127.0.0.1, 10.0.0.0/8, '::1', 'fd00::/8']\n").trustedProxies,
              (std::vector<std::string>{"127.0.0.1", "10.0.0.0/8", "::1", "fd00::/8"}));
}

TEST(ServerConfig, RefusesAProxyThatIsNoAddressOrNetwork) {
    EXPECT_EQ(problemOfApplication("  trusted_proxies: [127.0.0.1, proxy.example.org]\n"),
              "server.yaml: application.trusted_proxies[1]: expected an IPv4 or IPv6 address, or a network "
              "such as 10.0.0.0/8, got \"proxy.example.org\"");
    EXPECT_EQ(problemOfApplication("  trusted_proxies: [10.0.0.0/33]\n"),
              "server.yaml: application.trusted_proxies[0]: expected an IPv4 or IPv6 address, or a network "
              "such as 10.0.0.0/8, got \"10.0.0.0/33\"");
    EXPECT_EQ(problemOfApplication("  trusted_proxies: [10.0.0.0/-1]\n"),
              "server.yaml: application.trusted_proxies[0]: expected an IPv4 or IPv6 address, or a network "
              "such as 10.0.0.0/8, got \"10.0.0.0/-1\"");
    EXPECT_EQ(problemOfApplication("  trusted_proxies: 127.0.0.1\n"),
              "server.yaml: application.trusted_proxies: expected a list of addresses or networks such as "
              "[127.0.0.1, 10.0.0.0/8], got \"127.0.0.1\"");
}

} // namespace

TEST(ServerConfig, IdentityCacheBound) {
    EXPECT_EQ(parseApplication("").identityCacheMs, 1000);
    EXPECT_EQ(parseApplication("  identity_cache_ms: 250\n").identityCacheMs, 250);
    EXPECT_EQ(parseApplication("  identity_cache_ms: 0\n").identityCacheMs, 0);
    EXPECT_EQ(problemOfApplication("  identity_cache_ms: 60001\n"),
              "server.yaml: application.identity_cache_ms: expected an integer 0-60000 (milliseconds; 0: no "
              "cache), got 60001");
    EXPECT_EQ(problemOfApplication("  identity_cache_ms: -1\n"),
              "server.yaml: application.identity_cache_ms: expected an integer 0-60000 (milliseconds; 0: no "
              "cache), got -1");
}

TEST(ServerConfig, ListCacheSize) {
    EXPECT_EQ(parseApplication("").listCacheMb, 16);
    EXPECT_EQ(parseApplication("  list_cache_mb: 0\n").listCacheMb, 0);
    EXPECT_EQ(parseApplication("  list_cache_mb: 64\n").listCacheMb, 64);
    EXPECT_EQ(problemOfApplication("  list_cache_mb: 18446744073709551616\n"),
              "server.yaml: application.list_cache_mb: expected an integer 0-4096 (megabytes; 0: keep no list "
              "answers), got 18446744073709551616");
    EXPECT_EQ(problemOfApplication("  list_cache_mb: lots\n"),
              "server.yaml: application.list_cache_mb: expected an integer 0-4096 (megabytes; 0: keep no list "
              "answers), got \"lots\"");
}
