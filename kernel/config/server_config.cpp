#include "kernel/config/server_config.h"

#include <algorithm>
#include <arpa/inet.h>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace dq::kernel {

namespace {

const std::vector<std::string> kEnvironmentNames = {"dev", "test", "acc", "prod"};

/// The keys of an environment: ours, and those the bundled plugins read (smtp ... server_url).
const std::vector<std::string> kEnvironmentKeys = {"description",
                                                   "type",
                                                   "ip",
                                                   "port",
                                                   "api_path",
                                                   "uri",
                                                   "allow_drop_all",
                                                   "jwt_secret_key",
                                                   "token_expires_hours",
                                                   "refresh_token_expires_hours",
                                                   "max_body_size",
                                                   "threads",
                                                   "token_expires_seconds",
                                                   "bcrypt_rounds",
                                                   "event_retention_minutes",
                                                   "presence_timeout_seconds",
                                                   "cors_allowed_origins",
                                                   "trusted_proxies",
                                                   "swagger_ui_folder",
                                                   "identity_cache_ms",
                                                   "list_cache_mb",
                                                   "password_hashing",
                                                   "logging",
                                                   "plugins",
                                                   "smtp",
                                                   "support_email",
                                                   "email_token_validity_minutes",
                                                   "vpn_server",
                                                   "password_policy",
                                                   "two_factor_auth",
                                                   "rabbitmq_uri",
                                                   "redis_uri",
                                                   "debug",
                                                   "directories",
                                                   "images",
                                                   "image",
                                                   "ui",
                                                   "server_url"};

std::string join(const std::vector<std::string>& items, const std::string& separator) {
    std::string out;
    for (const auto& item : items) {
        if (!out.empty())
            out += separator;
        out += item;
    }
    return out;
}

std::string quoted(const std::string& text) {
    std::string out = "\"";
    for (char c : text) {
        if (c == '"' || c == '\\')
            out += '\\';
        out += c;
    }
    return out + "\"";
}

/// yaml-cpp's node for a missing key throws on most questions; ask this first.
bool absent(const YAML::Node& node) {
    return !node.IsDefined() || node.IsNull();
}

bool isDecimalInteger(const std::string& text) {
    std::size_t i = (!text.empty() && (text[0] == '+' || text[0] == '-')) ? 1 : 0;
    if (i == text.size())
        return false;
    return std::all_of(text.begin() + static_cast<std::ptrdiff_t>(i), text.end(),
                       [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; });
}

/// The booleans of YAML 1.1, which PyYAML (and so vantage6) reads; only unquoted.
std::optional<bool> yamlBoolean(const YAML::Node& node) {
    if (!node.IsScalar() || node.Tag() == "!")
        return std::nullopt;
    static const std::vector<std::string> yes = {"true", "True", "TRUE", "yes", "Yes",
                                                 "YES",  "on",   "On",   "ON"};
    static const std::vector<std::string> no = {"false", "False", "FALSE", "no", "No",
                                                "NO",    "off",   "Off",   "OFF"};
    const std::string& v = node.Scalar();
    if (std::find(yes.begin(), yes.end(), v) != yes.end())
        return true;
    if (std::find(no.begin(), no.end(), v) != no.end())
        return false;
    return std::nullopt;
}

/// A value as the operator wrote it: numbers and booleans bare, text in quotes (so `50a0` and
/// `"5000"` are told apart from 5000), collections by their kind.
std::string shown(const YAML::Node& node) {
    if (absent(node))
        return "nothing";
    if (node.IsSequence())
        return "a list";
    if (node.IsMap())
        return "a mapping";
    const std::string& v = node.Scalar();
    if (node.Tag() != "!") {
        double ignored = 0;
        std::istringstream number(v);
        if (yamlBoolean(node) || (number >> ignored && number.eof()))
            return v;
    }
    return quoted(v);
}

std::size_t editDistance(const std::string& a, const std::string& b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j)
        row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t above = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diagonal = above;
        }
    }
    return row[b.size()];
}

/// Collects problems and warnings for one file; each reader checks one key and reports against
/// its full path (`environments.prod.logging.level`).
class Checker {
public:
    explicit Checker(std::string file) : file_(std::move(file)) {}

    std::vector<std::string> problems;
    std::vector<std::string> warnings;

    void problem(const std::string& path, const std::string& expected, const YAML::Node& got) {
        problems.push_back(file_ + ": " + path + ": expected " + expected + ", got " + shown(got));
    }
    void problem(const std::string& message) { problems.push_back(file_ + ": " + message); }
    void warning(const std::string& message) { warnings.push_back(file_ + ": " + message); }

    /// Warns about every key of `map` not in `known`, naming the nearest known key when close.
    void unknownKeys(const YAML::Node& map, const std::string& path, const std::vector<std::string>& known) {
        for (const auto& entry : map) {
            const std::string key = entry.first.IsScalar() ? entry.first.Scalar() : "?";
            if (std::find(known.begin(), known.end(), key) != known.end())
                continue;
            std::string warning =
                file_ + ": " + (path.empty() ? "" : path + ".") + key + ": unknown key (ignored)";
            const std::string suggestion = closestName(key, known);
            if (!suggestion.empty())
                warning += "; did you mean '" + suggestion + "'?";
            warnings.push_back(warning);
        }
    }

    std::optional<std::string> text(const YAML::Node& node, const std::string& path,
                                    const std::string& expected = "a text value") {
        if (absent(node))
            return std::nullopt;
        if (!node.IsScalar()) {
            problem(path, expected, node);
            return std::nullopt;
        }
        return node.Scalar();
    }

    std::optional<long long> integer(const YAML::Node& node, const std::string& path, long long min,
                                     long long max, const std::string& expected) {
        if (absent(node))
            return std::nullopt;
        // Quoted digits pass, as vantage6's Use(int) converts them.
        if (node.IsScalar() && isDecimalInteger(node.Scalar())) {
            errno = 0;
            const long long value = std::strtoll(node.Scalar().c_str(), nullptr, 10);
            if (errno == 0 && value >= min && value <= max)
                return value;
        }
        problem(path, expected, node);
        return std::nullopt;
    }

    std::optional<bool> boolean(const YAML::Node& node, const std::string& path) {
        if (absent(node))
            return std::nullopt;
        // A quoted "False" is text; vantage6 took it for true. Refuse it rather than guess.
        if (auto value = yamlBoolean(node))
            return value;
        problem(path, "true or false", node);
        return std::nullopt;
    }

    std::optional<std::string> choice(const YAML::Node& node, const std::string& path,
                                      const std::vector<std::string>& choices, bool upperCase = false) {
        auto value = text(node, path, "one of " + join(choices, ", "));
        if (!value)
            return std::nullopt;
        std::string wanted = *value;
        if (upperCase)
            std::transform(wanted.begin(), wanted.end(), wanted.begin(),
                           [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
        if (std::find(choices.begin(), choices.end(), wanted) != choices.end())
            return wanted;
        problem(path, "one of " + join(choices, ", "), node);
        return std::nullopt;
    }

    std::vector<std::string> names(const YAML::Node& node, const std::string& path, const std::string& what) {
        std::vector<std::string> out;
        if (absent(node))
            return out;
        if (!node.IsSequence()) {
            problem(path, "a list of " + what + "s", node);
            return out;
        }
        for (std::size_t i = 0; i < node.size(); ++i) {
            const YAML::Node item = node[i];
            if (item.IsScalar() && !item.Scalar().empty())
                out.push_back(item.Scalar());
            else
                problem(path + "[" + std::to_string(i) + "]", "a " + what, item);
        }
        return out;
    }

    /// A section other plugins read (smtp, vpn_server ...): must be a mapping of known keys.
    void section(const YAML::Node& node, const std::string& path, const std::vector<std::string>& known) {
        if (absent(node))
            return;
        if (!node.IsMap()) {
            problem(path, "a mapping (" + join(known, ", ") + ")", node);
            return;
        }
        unknownKeys(node, path, known);
    }

private:
    std::string file_;
};

const std::vector<std::string> kLevels = {"CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG", "NOTSET"};

void readLogging(Checker& check, const YAML::Node& node, const std::string& path, LoggingConfig& logging) {
    if (absent(node))
        return;
    if (!node.IsMap()) {
        check.problem(path, "a mapping (level, file, use_console, ...)", node);
        return;
    }
    check.unknownKeys(
        node, path,
        {"level", "file", "use_console", "backup_count", "max_size", "format", "datefmt", "loggers"});
    if (auto v = check.choice(node["level"], path + ".level", kLevels, true))
        logging.level = *v;
    if (auto v = check.text(node["file"], path + ".file", "a file name"))
        logging.file = *v;
    if (auto v = check.boolean(node["use_console"], path + ".use_console"))
        logging.useConsole = *v;
    if (auto v = check.integer(node["backup_count"], path + ".backup_count", 1, INT_MAX,
                               "an integer greater than 0"))
        logging.backupCount = static_cast<int>(*v);
    if (auto v = check.integer(node["max_size"], path + ".max_size", 17, INT_MAX,
                               "an integer greater than 16 (kB)"))
        logging.maxSizeKb = static_cast<int>(*v);
    if (auto v = check.text(node["format"], path + ".format", "a Python logging format"))
        logging.format = *v;
    if (auto v = check.text(node["datefmt"], path + ".datefmt", "a strftime date format"))
        logging.datefmt = *v;

    const YAML::Node loggers = node["loggers"];
    if (absent(loggers))
        return;
    if (!loggers.IsSequence()) {
        check.problem(path + ".loggers", "a list of {name, level}", loggers);
        return;
    }
    for (std::size_t i = 0; i < loggers.size(); ++i) {
        const std::string itemPath = path + ".loggers[" + std::to_string(i) + "]";
        const YAML::Node item = loggers[i];
        if (!item.IsMap()) {
            check.problem(itemPath, "a mapping {name, level}", item);
            continue;
        }
        check.unknownKeys(item, itemPath, {"name", "level"});
        const YAML::Node nameNode = item["name"];
        auto name = check.text(nameNode, itemPath + ".name", "a logger name");
        if (absent(nameNode) || (name && name->empty()))
            check.problem(itemPath + ".name", "a logger name", nameNode);
        auto level = check.choice(item["level"], itemPath + ".level", kLevels, true);
        if (absent(item["level"]))
            check.problem(itemPath + ".level", "one of " + join(kLevels, ", "), item["level"]);
        if (name && !name->empty() && level)
            logging.loggers.push_back({*name, *level});
    }
}

void readPlugins(Checker& check, const YAML::Node& node, const std::string& path, PluginsConfig& plugins) {
    if (absent(node))
        return;
    if (!node.IsMap()) {
        check.problem(path, "a mapping (enabled, folders, optional, settings)", node);
        return;
    }
    check.unknownKeys(node, path, {"enabled", "folders", "optional", "settings"});
    plugins.enabled = check.names(node["enabled"], path + ".enabled", "plugin name");
    std::vector<std::string> unique;
    for (const auto& name : plugins.enabled) {
        if (std::find(unique.begin(), unique.end(), name) == unique.end())
            unique.push_back(name);
        else
            check.warning(path + ".enabled: " + quoted(name) + " is listed more than once");
    }
    plugins.enabled = unique;
    plugins.folders = check.names(node["folders"], path + ".folders", "folder");
    for (auto& name : check.names(node["optional"], path + ".optional", "plugin name"))
        plugins.optional.insert(name);

    const YAML::Node settings = node["settings"];
    if (absent(settings))
        return;
    if (!settings.IsMap()) {
        check.problem(path + ".settings", "a mapping of plugin name to its settings", settings);
        return;
    }
    for (const auto& entry : settings) {
        const std::string name = entry.first.Scalar();
        if (entry.second.IsNull())
            continue;
        if (!entry.second.IsMap()) {
            check.problem(path + ".settings." + name, "a mapping of the plugin's settings", entry.second);
            continue;
        }
        plugins.settings[name] = entry.second;
    }
}

bool isIpAddress(const std::string& text) {
    unsigned char buffer[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, text.c_str(), buffer) == 1 || inet_pton(AF_INET6, text.c_str(), buffer) == 1;
}

/// "https://ui.example.org" or "http://localhost:7600": a scheme, a host and maybe a port, as a
/// browser sends it in Origin (no path, no trailing slash).
bool isOrigin(const std::string& text) {
    auto scheme = text.find("://");
    if (scheme == std::string::npos || scheme == 0 || scheme + 3 == text.size())
        return false;
    auto rest = text.substr(scheme + 3);
    return rest.find_first_of("/?# ") == std::string::npos;
}

void readCorsOrigins(Checker& check, const YAML::Node& node, const std::string& path, ServerConfig& config) {
    const std::string expected = "\"*\" or a list of origins such as https://ui.example.org (scheme, host "
                                 "and port as the browser sends them; no path)";
    if (absent(node))
        return;
    if (node.IsScalar() && node.Scalar() == "*") {
        config.corsAllowedOrigins = {"*"};
        return;
    }
    if (!node.IsSequence() || node.size() == 0) {
        check.problem(path, expected, node);
        return;
    }
    std::vector<std::string> origins;
    for (std::size_t i = 0; i < node.size(); ++i) {
        const YAML::Node item = node[i];
        if (item.IsScalar() && (item.Scalar() == "*" || isOrigin(item.Scalar())))
            origins.push_back(item.Scalar());
        else
            check.problem(path + "[" + std::to_string(i) + "]",
                          "\"*\" or an origin such as https://ui.example.org", item);
    }
    config.corsAllowedOrigins = origins;
}

/// "10.0.0.0/8", "fd00::/8" or a single address.
bool isAddressOrNetwork(const std::string& text) {
    auto slash = text.find('/');
    if (!isIpAddress(text.substr(0, slash)))
        return false;
    if (slash == std::string::npos)
        return true;
    const int bits = text.find(':') == std::string::npos ? 32 : 128;
    const auto prefix = text.substr(slash + 1);
    return !prefix.empty() && prefix.size() <= 3 && prefix.find_first_not_of("0123456789") == std::string::npos &&
           std::stoi(prefix) <= bits;
}

void readTrustedProxies(Checker& check, const YAML::Node& node, const std::string& path,
                        ServerConfig& config) {
    if (absent(node))
        return;
    if (!node.IsSequence()) {
        check.problem(path, "a list of addresses or networks such as [127.0.0.1, 10.0.0.0/8]", node);
        return;
    }
    std::vector<std::string> proxies;
    for (std::size_t i = 0; i < node.size(); ++i) {
        const YAML::Node item = node[i];
        if (item.IsScalar() && isAddressOrNetwork(item.Scalar()))
            proxies.push_back(item.Scalar());
        else
            check.problem(path + "[" + std::to_string(i) + "]",
                          "an IPv4 or IPv6 address, or a network such as 10.0.0.0/8", item);
    }
    config.trustedProxies = proxies;
}

void readEnvironment(Checker& check, const YAML::Node& env, const std::string& prefix, ServerConfig& config) {
    check.unknownKeys(env, prefix, kEnvironmentKeys);
    const auto at = [&](const std::string& key) { return prefix + "." + key; };

    if (auto v = check.text(env["description"], at("description")))
        config.description = *v;
    if (auto v = check.choice(env["type"], at("type"), kEnvironmentNames))
        config.type = *v;
    if (auto v = check.text(env["ip"], at("ip"), "an IPv4 or IPv6 address (0.0.0.0 for all)")) {
        if (isIpAddress(*v))
            config.ip = *v;
        else
            check.problem(at("ip"), "an IPv4 or IPv6 address (0.0.0.0 for all)", env["ip"]);
    }
    if (auto v = check.integer(env["port"], at("port"), 1, 65535, "an integer 1-65535"))
        config.port = static_cast<int>(*v);
    const std::string apiPathExpected = "a path that starts with \"/\" and does not end with one, e.g. /api";
    if (auto v = check.text(env["api_path"], at("api_path"), apiPathExpected)) {
        if (!v->empty() && v->front() == '/' && v->back() != '/')
            config.apiPath = *v;
        else
            check.problem(at("api_path"), apiPathExpected, env["api_path"]);
    }

    const std::string uriExpected = "a database URI, e.g. sqlite:///default.sqlite";
    auto uri = check.text(env["uri"], at("uri"), uriExpected);
    if (uri && uri->empty()) {
        check.problem(at("uri"), uriExpected, env["uri"]);
        uri.reset();
    }
    // As vantage6 does with VANTAGE6_DB_URI: containers get their database from the environment.
    std::string overrideName;
    for (const char* name : {"DQ_DB_URI", "VANTAGE6_DB_URI"}) {
        const char* value = std::getenv(name);
        if (value && *value && overrideName.empty()) {
            overrideName = name;
            config.uri = value;
        }
    }
    if (overrideName.empty()) {
        if (uri)
            config.uri = *uri;
        else if (absent(env["uri"]))
            check.problem(at("uri"), uriExpected + " (required; or set DQ_DB_URI)", env["uri"]);
    } else if (uri) {
        check.warning(at("uri") + ": not used, the environment variable " + overrideName + " overrides it");
    }

    if (auto v = check.boolean(env["allow_drop_all"], at("allow_drop_all")))
        config.allowDropAll = *v;
    if (auto v = check.text(env["jwt_secret_key"], at("jwt_secret_key"),
                            "a secret text (or no key at all for a random one at each start)")) {
        if (v->empty())
            check.problem(at("jwt_secret_key"),
                          "a non-empty secret (or no key at all for a random one at each start)",
                          env["jwt_secret_key"]);
        else
            config.jwtSecretKey = *v;
    }
    auto access = check.integer(env["token_expires_hours"], at("token_expires_hours"), 1, INT_MAX,
                                "an integer greater than 0 (hours)");
    if (access)
        config.tokenExpiresHours = static_cast<int>(*access);
    const YAML::Node refreshNode = env["refresh_token_expires_hours"];
    auto refresh = check.integer(refreshNode, at("refresh_token_expires_hours"), 1, INT_MAX,
                                 "an integer greater than 0 (hours)");
    if (refresh)
        config.refreshTokenExpiresHours = static_cast<int>(*refresh);
    // A refresh token that dies before its access token would make refreshing pointless.
    if (config.refreshTokenExpiresHours <= config.tokenExpiresHours) {
        const std::string expected =
            "an integer greater than token_expires_hours (" + std::to_string(config.tokenExpiresHours) + ")";
        if (refresh)
            check.problem(at("refresh_token_expires_hours"), expected, refreshNode);
        else if (absent(refreshNode))
            check.problem(at("refresh_token_expires_hours") + ": expected " + expected +
                          ", got the default " + std::to_string(config.refreshTokenExpiresHours) +
                          " (set it explicitly)");
    }
    if (config.type == "test")
        config.tokenExpiresHours = 24; // vantage6: a test server's access tokens last one day
    if (auto v = check.integer(env["token_expires_seconds"], at("token_expires_seconds"), 1, INT_MAX,
                               "an integer greater than 0 (seconds)"))
        config.tokenExpiresSeconds = static_cast<int>(*v);
    if (auto v = check.integer(env["bcrypt_rounds"], at("bcrypt_rounds"), 4, 31, "an integer 4-31"))
        config.bcryptRounds = static_cast<int>(*v);
    if (const auto hashing = env["password_hashing"]; hashing && hashing.IsMap()) {
        check.unknownKeys(hashing, at("password_hashing"), {"threads", "queue"});
        if (auto v = check.integer(hashing["threads"], at("password_hashing.threads"), 0, 256,
                                   "an integer 0-256 (0: half the cores)"))
            config.hashThreads = static_cast<int>(*v);
        if (auto v = check.integer(hashing["queue"], at("password_hashing.queue"), 0, 100000,
                                   "an integer 0-100000 (0: four per thread)"))
            config.hashQueue = static_cast<int>(*v);
    } else if (hashing && !hashing.IsNull()) {
        check.problem(at("password_hashing"), "a mapping with threads and queue", hashing);
    }
    if (auto v = check.integer(env["max_body_size"], at("max_body_size"), 1, INT_MAX / 1024,
                               "an integer greater than 0 (kB)"))
        config.maxBodyBytes = static_cast<std::size_t>(*v) * 1024;
    if (auto v = check.integer(env["threads"], at("threads"), 1, 256, "an integer 1-256"))
        config.threads = static_cast<int>(*v);
    if (auto v = check.integer(env["event_retention_minutes"], at("event_retention_minutes"), 1, 525600,
                               "an integer 1-525600 (minutes)"))
        config.eventRetentionMinutes = static_cast<int>(*v);
    if (auto v = check.integer(env["presence_timeout_seconds"], at("presence_timeout_seconds"), 3, 86400,
                               "an integer 3-86400 (seconds)"))
        config.presenceTimeoutSeconds = static_cast<int>(*v);
    readCorsOrigins(check, env["cors_allowed_origins"], at("cors_allowed_origins"), config);
    readTrustedProxies(check, env["trusted_proxies"], at("trusted_proxies"), config);
    if (auto v = check.text(env["swagger_ui_folder"], at("swagger_ui_folder"), "a folder")) {
        if (v->empty())
            check.problem(at("swagger_ui_folder"), "a folder", env["swagger_ui_folder"]);
        else
            config.swaggerUiFolder = *v;
    }
    if (auto v = check.integer(env["identity_cache_ms"], at("identity_cache_ms"), 0, 60000,
                               "an integer 0-60000 (milliseconds; 0: no cache)"))
        config.identityCacheMs = static_cast<int>(*v);
    if (auto v = check.integer(env["list_cache_mb"], at("list_cache_mb"), 0, 4096,
                               "an integer 0-4096 (megabytes; 0: keep no list answers)"))
        config.listCacheMb = static_cast<int>(*v);
    if (!absent(env["rabbitmq_uri"]))
        check.warning(at("rabbitmq_uri") +
                      ": not needed, ignored. vantage6 relays events between server processes through "
                      "RabbitMQ; this server writes them into the database (an outbox table) and every "
                      "process reads them from there (woken by PostgreSQL LISTEN/NOTIFY), so several "
                      "servers need only their shared PostgreSQL. Remove the key.");

    readLogging(check, env["logging"], at("logging"), config.logging);
    readPlugins(check, env["plugins"], at("plugins"), config.plugins);

    // Read by the smtp, vpn and users plugins through their legacy paths.
    check.section(env["smtp"], at("smtp"),
                  {"server", "port", "username", "password", "MAIL_USE_TLS", "MAIL_USE_SSL", "use_tls",
                   "email_token_validity_minutes"});
    check.section(
        env["vpn_server"], at("vpn_server"),
        {"url", "redirect_url", "client_id", "client_secret", "portal_username", "portal_userpass"});
    check.section(env["password_policy"], at("password_policy"),
                  {"max_failed_attempts", "inactivation_minutes"});
}

std::string readFile(const std::string& file) {
    namespace fs = std::filesystem;
    std::error_code error;
    if (!fs::exists(file, error))
        throw ConfigError({file + ": no such configuration file (create one with `vserver new`, or pass the "
                                  "right path with --config)"});
    if (fs::is_directory(file, error))
        throw ConfigError(
            {file + ": is a folder, not a configuration file (pass the YAML file with --config)"});
    std::ifstream in(file, std::ios::binary);
    if (!in)
        throw ConfigError({file + ": cannot read the configuration file (check its permissions)"});
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

/// The parsed root mapping; every way a file can fail to be one is a ConfigError.
YAML::Node parseRoot(const std::string& yamlText, const std::string& file) {
    YAML::Node root;
    try {
        root = YAML::Load(yamlText);
    } catch (const YAML::ParserException& e) {
        const std::string where = e.mark.is_null() ? file
                                                   : file + ":" + std::to_string(e.mark.line + 1) + ":" +
                                                         std::to_string(e.mark.column + 1);
        throw ConfigError({where + ": invalid YAML: " + e.msg});
    }
    if (absent(root))
        throw ConfigError({file +
                           ": the file is empty; it needs an `application:` section or `environments:` "
                           "with dev, test, acc or prod (see config/server.yaml)"});
    if (!root.IsMap())
        throw ConfigError({file +
                           ": expected a mapping with `application:` or `environments:` at the top, got " +
                           shown(root)});
    return root;
}

std::vector<std::string> environmentNames(const YAML::Node& root) {
    std::vector<std::string> names;
    if (root["application"].IsDefined())
        names.push_back("application");
    const YAML::Node environments = root["environments"];
    if (environments.IsDefined() && environments.IsMap())
        for (const auto& name : kEnvironmentNames)
            if (environments[name].IsDefined())
                names.push_back(name);
    return names;
}

} // namespace

ConfigError::ConfigError(std::vector<std::string> problems)
    : std::runtime_error(join(problems, "\n")), problems_(std::move(problems)) {}

ServerConfig ServerConfig::parse(const std::string& yamlText, const std::string& file,
                                 const std::string& environment) {
    const YAML::Node root = parseRoot(yamlText, file);
    Checker check(file);
    check.unknownKeys(root, "", {"application", "environments"});

    const YAML::Node application = root["application"];
    if (application.IsDefined() && !application.IsMap())
        check.problem("application", "a mapping of settings", application);
    const YAML::Node environments = root["environments"];
    if (!absent(environments)) {
        if (!environments.IsMap())
            check.problem("environments", "a mapping with dev, test, acc or prod", environments);
        else
            for (const auto& entry : environments) {
                const std::string name = entry.first.Scalar();
                if (std::find(kEnvironmentNames.begin(), kEnvironmentNames.end(), name) ==
                    kEnvironmentNames.end())
                    check.problem("environments." + name, "an environment named dev, test, acc or prod",
                                  entry.first);
                else if (!entry.second.IsMap())
                    check.problem("environments." + name, "a mapping of settings", entry.second);
            }
    }

    const std::vector<std::string> available = environmentNames(root);
    std::string chosen;
    if (!environment.empty()) {
        if (std::find(available.begin(), available.end(), environment) != available.end())
            chosen = environment;
        else if (available.empty())
            check.problem("no environment \"" + environment + "\": the file has none");
        else
            check.problem("no environment \"" + environment + "\"; the file has " + join(available, ", ") +
                          " (choose one with --environment)");
    } else if (application.IsDefined()) {
        chosen = "application";
    } else if (available.size() == 1) {
        chosen = available.front();
    } else if (available.empty()) {
        check.problem("no `application:` section and no environment (dev, test, acc, prod) under "
                      "`environments:`; add one (see config/server.yaml)");
    } else {
        check.problem("several environments (" + join(available, ", ") + "): choose one with --environment");
    }

    ServerConfig config;
    config.file = file;
    if (!chosen.empty()) {
        config.environment = chosen;
        const std::string prefix = chosen == "application" ? chosen : "environments." + chosen;
        const YAML::Node env = chosen == "application" ? application : environments[chosen];
        if (env.IsMap()) {
            config.raw = env;
            readEnvironment(check, env, prefix, config);
        }
    }
    if (!check.problems.empty())
        throw ConfigError(check.problems);
    config.warnings = check.warnings;
    return config;
}

ServerConfig ServerConfig::load(const std::string& file, const std::string& environment) {
    return parse(readFile(file), file, environment);
}

std::vector<std::string> ServerConfig::environmentsOf(const std::string& file) {
    return environmentNames(parseRoot(readFile(file), file));
}

std::string closestName(const std::string& word, const std::vector<std::string>& candidates) {
    std::string best;
    std::size_t bestDistance = std::max<std::size_t>(2, word.size() / 3) + 1;
    for (const auto& c : candidates) {
        std::size_t d = editDistance(word, c);
        if (c.rfind(word, 0) == 0 && word.size() >= 3)
            d = std::min<std::size_t>(d, 1);
        if (d < bestDistance) {
            best = c;
            bestDistance = d;
        }
    }
    return best;
}

} // namespace dq::kernel
