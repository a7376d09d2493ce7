// The server configuration file (YAML, `application:` or `environments:`), validated.
#pragma once

#include "kernel/log/logging.h"

#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>
#include <yaml-cpp/yaml.h>

namespace dq::kernel {

/// All problems of a configuration file at once, each as
/// `<file>: <key path>: expected <what>, got <value>` (key path includes `environments.<env>.`).
class ConfigError : public std::runtime_error {
public:
    explicit ConfigError(std::vector<std::string> problems);
    const std::vector<std::string>& problems() const { return problems_; }

private:
    std::vector<std::string> problems_;
};

struct PluginsConfig {
    /// Empty when the file names none: the kernel then fills in all bundled plugins.
    std::vector<std::string> enabled;
    /// Empty when the file names none: the kernel then uses the bundled plugin folder.
    std::vector<std::string> folders;
    std::set<std::string> optional;
    /// Raw per-plugin settings (`plugins.settings.<name>`), validated later against declarations.
    std::map<std::string, YAML::Node> settings;
};

struct ServerConfig {
    std::string file;        ///< the path it was read from
    std::string environment; ///< "application" or dev/test/acc/prod
    std::string description;
    std::string type = "prod";
    std::string ip = "127.0.0.1";
    int port = 5000;
    std::string apiPath = "/api";
    std::string uri; ///< DQ_DB_URI, else VANTAGE6_DB_URI, else the file's `uri`
    bool allowDropAll = false;
    std::optional<std::string> jwtSecretKey;
    /// `token_expires_hours`; 24 whatever the file says when type is `test` (as vantage6 does).
    int tokenExpiresHours = 6;
    int refreshTokenExpiresHours = 48;
    std::size_t maxBodyBytes = 1024 * 1024; ///< `max_body_size` kB; larger requests get 413
    int threads = 64;                       ///< HTTP worker threads
    /// Access-token lifetime in seconds, overriding the hours (short lifetimes for tests).
    std::optional<int> tokenExpiresSeconds;
    /// bcrypt cost (log2 rounds) of new password and api-key hashes; 12 as vantage6.
    int bcryptRounds = 12;
    /// `event_retention_minutes`: outbox rows older than this are pruned.
    int eventRetentionMinutes = 60;
    /// `presence_timeout_seconds`: a node whose server process stops refreshing its connection
    /// (killed, cut off) turns offline this long after the last refresh.
    int presenceTimeoutSeconds = 60;
    /// `cors_allowed_origins`: the origins browsers may call the API from; "*" for any.
    std::vector<std::string> corsAllowedOrigins = {"*"};
    /// `trusted_proxies`: addresses and networks of reverse proxies whose X-Forwarded-For names the
    /// client (per-client throttles then count each client, not the proxy); none by default.
    std::vector<std::string> trustedProxies;
    /// `swagger_ui_folder`: Swagger UI's files for /apidocs/; by default where Debian's
    /// python3-flasgger installs them.
    std::string swaggerUiFolder = "/usr/lib/python3/dist-packages/flasgger/ui3/static";
    /// `identity_cache_ms`: the longest a process answers from the identity and rules it keeps of a
    /// caller before reading them again (changes usually reach it sooner, as outbox events); 0: no cache.
    int identityCacheMs = 1000;
    /// `list_cache_mb`: the most memory the GET list answers kept while the database is unchanged
    /// may take (ListMemo); 0: none are kept.
    int listCacheMb = 16;
    /// `password_hashing.threads` (0: half the cores) and `.queue`: the bounded pool that hashes
    /// and checks passwords and api keys.
    int hashThreads = 0;
    int hashQueue = 16;
    LoggingConfig logging;
    PluginsConfig plugins;
    /// The whole environment node, for settings plugins declare with a legacy path (smtp.server ...).
    YAML::Node raw;
    /// Unknown keys and similar: not fatal, printed at start.
    std::vector<std::string> warnings;

    /// Reads and validates. `environment` empty: `application` when there is one, else the only
    /// environment there is. Only the chosen environment is validated. Throws ConfigError with
    /// every problem (missing file, YAML syntax, no such environment, each invalid key).
    static ServerConfig load(const std::string& file, const std::string& environment = "");
    /// Same, from YAML text (for tests); `file` is only used in messages.
    static ServerConfig parse(const std::string& yamlText, const std::string& file,
                              const std::string& environment = "");
    /// The environments a file defines: "application" first when present, then those of dev,
    /// test, acc, prod it has under `environments:`. Throws ConfigError when it cannot be read.
    static std::vector<std::string> environmentsOf(const std::string& file);
};

/// The candidate `word` was most likely meant as (a typo or an unfinished prefix), or "" when
/// none is close: the "did you mean" of configuration keys and command-line options.
std::string closestName(const std::string& word, const std::vector<std::string>& candidates);

} // namespace dq::kernel
