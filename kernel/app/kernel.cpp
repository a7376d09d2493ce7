// Start-up in phases: plugins (declare) → settings → database (migrate) → plugins (start) → HTTP.
// Each phase collects every problem before refusing, and nothing of a failed phase keeps running.
#include "kernel/app/kernel.h"

#include "kernel/http/api_docs.h"
#include "kernel/http/openapi.h"

#include <Poco/Environment.h>
#include <Poco/File.h>
#include <Poco/Logger.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/NumberParser.h>
#include <Poco/Path.h>
#include <Poco/String.h>
#include <algorithm>
#include <climits>
#include <cstdlib>
#include <sstream>
#include <unistd.h>

namespace dq::kernel {

namespace {

std::vector<std::string> splitList(const std::string& text) {
    std::vector<std::string> out;
    std::stringstream in(text);
    std::string item;
    while (std::getline(in, item, ','))
        if (!item.empty())
            out.push_back(item);
    return out;
}

/// The YAML node at a dotted path, or an undefined node.
YAML::Node nodeAt(const YAML::Node& root, const std::string& dotted) {
    if (!root || !root.IsMap())
        return YAML::Node(YAML::NodeType::Undefined);
    YAML::Node current = YAML::Clone(root);
    for (const auto& part : splitList(Poco::replace(dotted, ".", ","))) {
        if (!current.IsMap() || !current[part])
            return YAML::Node(YAML::NodeType::Undefined);
        current = current[part];
    }
    return current;
}

std::string typeName(sdk::SettingDecl::Type type) {
    switch (type) {
    case sdk::SettingDecl::Type::Text:
        return "a string";
    case sdk::SettingDecl::Type::Integer:
        return "an integer";
    case sdk::SettingDecl::Type::Boolean:
        return "true or false";
    case sdk::SettingDecl::Type::List:
        return "a list";
    }
    return "";
}

} // namespace

std::vector<std::string> bundledPlugins() {
    return splitList(DQ_BUNDLED_PLUGINS);
}

std::vector<std::string> defaultPluginFolders() {
    // Relative to the running program, never a path fixed at build time: an install tree works
    // wherever it is unpacked, and bin/vserver finds lib/dataquality/plugins beside it.
    char self[PATH_MAX];
    ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
    self[n > 0 ? n : 0] = '\0';
    std::string folder = Poco::Path(self).parent().toString() + DQ_PLUGIN_DIR_FROM_BIN;
    char real[PATH_MAX];
    return {::realpath(folder.c_str(), real) ? std::string(real) : folder};
}

std::vector<std::string> pluginFolders(const std::vector<std::string>& configured) {
    auto canonical = [](const std::string& folder) {
        char real[PATH_MAX];
        return ::realpath(folder.c_str(), real) ? std::string(real) : folder;
    };
    std::vector<std::string> folders, seen;
    for (const auto& f : configured)
        if (std::find(seen.begin(), seen.end(), canonical(f)) == seen.end()) {
            folders.push_back(f);
            seen.push_back(canonical(f));
        }
    for (const auto& f : defaultPluginFolders())
        if (std::find(seen.begin(), seen.end(), canonical(f)) == seen.end())
            folders.push_back(f);
    return folders;
}

// ---- Settings and services handed to each plugin ----

class Kernel::PluginSettings : public sdk::Settings {
public:
    PluginSettings(const ServerConfig& config) : config_(config) {}

    bool has(const std::string& key) const override { return values_.count(key) != 0; }
    std::string text(const std::string& key) const override {
        auto it = values_.find(key);
        if (it == values_.end())
            throw std::out_of_range("setting '" + key + "' is not declared or has no value");
        return it->second;
    }
    std::int64_t integer(const std::string& key) const override {
        return Poco::NumberParser::parse64(text(key));
    }
    bool boolean(const std::string& key) const override {
        auto v = Poco::toLower(text(key));
        return v == "true" || v == "1" || v == "yes" || v == "on";
    }
    std::vector<std::string> list(const std::string& key) const override { return splitList(text(key)); }
    std::string server(const std::string& key) const override {
        if (key == "type")
            return config_.type;
        if (key == "api_path")
            return config_.apiPath;
        if (key == "ip")
            return config_.ip;
        if (key == "port")
            return std::to_string(config_.port);
        if (key == "description")
            return config_.description;
        if (key == "environment")
            return config_.environment;
        if (key == "name")
            return Poco::Path(config_.file).getBaseName();
        auto node = nodeAt(config_.raw, key);
        return node && node.IsScalar() ? node.as<std::string>() : "";
    }

    std::map<std::string, std::string> values_;

private:
    const ServerConfig& config_;
};

class Kernel::PluginServices : public sdk::Services {
public:
    PluginServices(Kernel& kernel, const std::string& plugin, const sdk::Settings& settings)
        : kernel_(kernel), settings_(settings), log_(Poco::Logger::get(plugin)) {}

    sdk::Tokens& tokens() override { return *kernel_.tokens_; }
    sdk::Passwords& passwords() override { return *kernel_.passwords_; }
    sdk::Events& events() override { return kernel_.events_; }
    const sdk::Settings& settings() override { return settings_; }
    Poco::Logger& log() override { return log_; }
    void transaction(const std::function<void(sdk::Store&)>& work) override {
        kernel_.database_->transaction(work);
    }
    std::shared_ptr<sdk::Service> find(const std::string& name) override {
        return kernel_.catalog_.service(name);
    }
    std::vector<sdk::RuleDecl> declaredRules() const override {
        std::vector<sdk::RuleDecl> out;
        for (const auto& r : kernel_.catalog_.rules())
            out.push_back(r.decl);
        return out;
    }

private:
    Kernel& kernel_;
    const sdk::Settings& settings_;
    Poco::Logger& log_;
};

// ---- Kernel ----

Kernel::Kernel(ServerConfig config, std::string dataFolder)
    : config_(std::move(config)), dataFolder_(std::move(dataFolder)), host_(catalog_) {
    TokenSettings tokenSettings;
    tokenSettings.secret = config_.jwtSecretKey.value_or("");
    tokenSettings.accessSeconds = config_.tokenExpiresHours * 3600;
    tokenSettings.refreshSeconds = config_.refreshTokenExpiresHours * 3600;
    if (config_.tokenExpiresSeconds)
        tokenSettings.accessSeconds = *config_.tokenExpiresSeconds;
    tokens_ = std::make_unique<TokenService>(tokenSettings);
    PasswordHasher::Caller caller;
    caller.servingRequest = [] { return ApiServer::servingRequest(); };
    caller.holdsSession = [] { return Database::sessionHeldOnThisThread(); };
    caller.deadline = [] { return Database::Deadline::current(); };
    caller.whileWaiting = [](const std::function<void()>& wait) {
        Admission::Away away;
        wait();
    };
    passwords_ = std::make_unique<PasswordHasher>(
        config_.bcryptRounds, PasswordHasher::Limits{config_.hashThreads, config_.hashQueue}, caller);
}

Kernel::~Kernel() {
    shutdown();
}

void Kernel::load() {
    PluginHost::Options options;
    options.enabled = config_.plugins.enabled.empty() ? bundledPlugins() : config_.plugins.enabled;
    options.folders = pluginFolders(config_.plugins.folders);
    options.optional = config_.plugins.optional;
    host_.load(options);
    for (const auto& w : host_.warnings())
        Poco::Logger::get("kernel").warning(w);

    auto problems = validateSettings();
    if (!problems.empty())
        throw StartupError(problems);

    try {
        database_ = std::make_unique<Database>(DatabaseUri::parse(config_.uri, dataFolder_), catalog_);
        database_->exclusive([this] { database_->migrate(); });
    } catch (const std::exception& e) {
        throw StartupError({config_.file + ": database: " + e.what()});
    }
    OutboxSettings outbox;
    outbox.reader = processName();
    outbox.retention = std::chrono::minutes(config_.eventRetentionMinutes);
    if (database_->dialect() == "postgresql")
        outbox.listenConnection = database_->uri().connectionString();
    outbox_ = std::make_unique<Outbox>(*database_, events_, outbox);
    // Every process that writes (servers, the shell, import, commands) tells the servers when
    // identities or rules changed; servers drop what they keep of them.
    identities_ = std::make_unique<IdentityResolver>(
        *database_, catalog_, std::chrono::milliseconds(config_.identityCacheMs),
        [this](const Poco::Dynamic::Var& payload) {
            events_.emit(IdentityResolver::kRoom, IdentityResolver::kEvent, payload);
        });
    database_->watchWrites(identities_.get());
    events_.subscribe([this](const std::string& room, const std::string& event, const Poco::Dynamic::Var& payload) {
        if (room == IdentityResolver::kRoom && event == IdentityResolver::kEvent)
            identities_->heard(payload);
    });
    settings_["kernel"] = std::make_unique<PluginSettings>(config_);
    for (const auto& [name, settings] : settings_)
        services_[name] = std::make_unique<PluginServices>(*this, name, *settings);
}

std::vector<std::string> Kernel::validateSettings() {
    std::vector<std::string> problems;
    const std::string where =
        config_.file + ": " +
        (config_.environment == "application" ? "application." : "environments." + config_.environment + ".");
    for (const auto& plugin : host_.plugins()) {
        auto settings = std::make_unique<PluginSettings>(config_);
        YAML::Node section;
        auto it = config_.plugins.settings.find(plugin.name);
        if (it != config_.plugins.settings.end())
            section = it->second;
        auto declared = catalog_.settingsOf(plugin.name);
        if (section && section.IsMap()) {
            for (const auto& entry : section) {
                auto key = entry.first.as<std::string>();
                bool known = false;
                for (const auto& d : declared)
                    known = known || d.key == key || d.key.rfind(key + ".", 0) == 0;
                if (!known)
                    config_.warnings.push_back(where + "plugins.settings." + plugin.name + "." + key +
                                               ": unknown setting of plugin '" + plugin.name + "' (ignored)");
            }
        }
        for (const auto& decl : declared) {
            std::string path = where + "plugins.settings." + plugin.name + "." + decl.key;
            YAML::Node node = section ? nodeAt(section, decl.key) : YAML::Node(YAML::NodeType::Undefined);
            if ((!node || node.IsNull()) && !decl.legacyPath.empty()) {
                node = nodeAt(config_.raw, decl.legacyPath);
                path = where + decl.legacyPath;
            }
            std::string value;
            if (node && !node.IsNull()) {
                if (decl.type == sdk::SettingDecl::Type::List) {
                    if (!node.IsSequence()) {
                        problems.push_back(path + ": expected a list");
                        continue;
                    }
                    for (const auto& item : node)
                        value += (value.empty() ? "" : ",") + item.as<std::string>();
                } else if (!node.IsScalar()) {
                    problems.push_back(path + ": expected " + typeName(decl.type));
                    continue;
                } else {
                    value = node.as<std::string>();
                }
            } else if (!decl.defaultValue.empty()) {
                value = decl.defaultValue;
            } else if (decl.required) {
                problems.push_back(path + ": required by plugin '" + plugin.name + "' (" + decl.description +
                                   ")");
                continue;
            } else {
                continue;
            }
            Poco::Int64 number = 0;
            auto lower = Poco::toLower(value);
            if (decl.type == sdk::SettingDecl::Type::Integer &&
                !Poco::NumberParser::tryParse64(value, number)) {
                problems.push_back(path + ": expected an integer, got \"" + value + "\"");
                continue;
            }
            if (decl.type == sdk::SettingDecl::Type::Boolean && lower != "true" && lower != "false" &&
                lower != "1" && lower != "0" && lower != "yes" && lower != "no" && lower != "on" &&
                lower != "off") {
                problems.push_back(path + ": expected true or false, got \"" + value + "\"");
                continue;
            }
            if (decl.validate) {
                auto problem = decl.validate(value);
                if (!problem.empty()) {
                    problems.push_back(path + ": expected " + problem + ", got \"" + value + "\"");
                    continue;
                }
            }
            settings->values_[decl.key] = value;
        }
        settings_[plugin.name] = std::move(settings);
    }
    for (const auto& [name, node] : config_.plugins.settings) {
        bool loaded = false;
        for (const auto& plugin : host_.plugins())
            loaded = loaded || plugin.name == name;
        if (!loaded)
            config_.warnings.push_back(where + "plugins.settings." + name + ": plugin '" + name +
                                       "' is not enabled (settings ignored)");
    }
    return problems;
}

void Kernel::start() {
    // Plugins seed rows on start (root user, rules): N processes starting at once take turns.
    auto startPlugins = [this] {
        host_.start([this](const LoadedPlugin& plugin) -> sdk::Services& { return servicesOf(plugin.name); });
    };
    if (database_)
        database_->exclusive(startPlugins);
    else
        startPlugins();
    started_ = true;
}

std::string Kernel::processName() const {
    return Poco::Environment::nodeName() + "/" + Poco::Path(config_.file).getBaseName() + ":" +
           std::to_string(config_.port);
}

bool Kernel::settleEvents(std::chrono::milliseconds timeout) {
    return outbox_ && outbox_->settle(timeout);
}

sdk::Services& Kernel::servicesOf(const std::string& plugin) {
    auto it = services_.find(plugin);
    if (it == services_.end())
        throw std::logic_error("no services for plugin '" + plugin + "'");
    return *it->second;
}

void Kernel::serve() {
    Router router;
    router.add({{sdk::Method::Get,
                 "/version",
                 {},
                 [this](sdk::RequestContext&) { return sdk::Response::json(versionInfo()); },
                 "server, kernel, SDK ABI and plugin versions"},
                "kernel",
                false});
    router.add({{sdk::Method::Get,
                 "/health",
                 {},
                 [this](sdk::RequestContext&) {
                     Poco::JSON::Object::Ptr body = new Poco::JSON::Object;
                     bool ok = database_->healthy();
                     body->set("database", ok);
                     return sdk::Response::json(body, ok ? 200 : 503);
                 },
                 "database check"},
                "kernel",
                false});
    // Filled once every route is in the router, the description's own among them.
    auto description = std::make_shared<Poco::JSON::Object::Ptr>();
    router.add({{sdk::Method::Get,
                 "/openapi.json",
                 {},
                 [description](sdk::RequestContext&) { return sdk::Response::json(*description); },
                 "the OpenAPI 3 description of this API (also at /apispec_1.json)"},
                "kernel",
                false});
    for (const auto& route : catalog_.routes())
        router.add({route.decl, route.plugin});
    *description = openApiDocument(catalog_, router, [&] {
        OpenApiInfo info;
        info.version = sdk::kServerVersion;
        info.apiPath = config_.apiPath;
        std::string plugins;
        for (const auto& p : host_.plugins())
            plugins += (plugins.empty() ? "" : ", ") + p.name + " " + p.info.version;
        info.description = "The REST API of dataquality-server, compatible with vantage6 " +
                           std::string(sdk::kServerVersion) +
                           ". Generated from the declarations of the loaded "
                           "plugins: " +
                           plugins + ".";
        return info;
    }());
    CorsPolicy cors(config_.corsAllowedOrigins);
    auto docs = std::make_shared<ApiDocs>(*description, config_.swaggerUiFolder, cors);
    if (auto missing = docs->missingAssets(); !missing.empty())
        Poco::Logger::get("kernel").warning("/apidocs/: %s", missing);

    ApiEnvironment env;
    env.catalog = &catalog_;
    env.database = database_.get();
    env.tokens = tokens_.get();
    env.identities = identities_.get();
    env.apiPath = config_.apiPath;
    env.maxBodyBytes = config_.maxBodyBytes;
    env.cors = cors;
    env.proxies = TrustedProxies(config_.trustedProxies);
    env.listCacheBytes = static_cast<std::size_t>(config_.listCacheMb) * 1024 * 1024;
    env.servicesOf = [this](const std::string& plugin) -> sdk::Services& { return servicesOf(plugin); };

    EventChannelEnvironment channel;
    channel.bus = &events_;
    channel.verify = [this](const std::string& token) { return tokens_->verify(token); };
    channel.identify = [this](const VerifiedToken& token) { return identities_->resolve(token).identity; };
    channel.transaction = [this](const std::function<void(sdk::Store&)>& work) {
        database_->transaction(work);
    };
    EventChannelSettings channelSettings;
    channelSettings.presenceTimeoutMs = config_.presenceTimeoutSeconds * 1000;
    channelSettings.process = processName();
    channel.service = [this](const std::string& name) { return catalog_.service(name); };
    channel.workersScarce = [this] { return api_ && api_->connectionsWaiting(); };
    channel.cors = [cors](const Poco::Net::HTTPServerRequest& request) { return cors.forRequest(request); };
    channel_ = std::make_unique<EventChannel>(channel, channelSettings);
    channel_->start();
    env.outsideApi = [this, docs](Poco::Net::HTTPServerRequest& request,
                                  Poco::Net::HTTPServerResponse& response) {
        return docs->handle(request, response) || channel_->handle(request, response);
    };
    api_ = std::make_unique<ApiServer>(env, std::move(router));
    api_->start({config_.ip, config_.port, config_.threads});
    outbox_->startDelivery();
    Poco::Logger::get("kernel").information("serving http://%s:%d%s with plugins: %s", config_.ip,
                                            api_->port(), config_.apiPath, [&] {
                                                std::string names;
                                                for (const auto& p : host_.plugins())
                                                    names += (names.empty() ? "" : ", ") + p.name;
                                                return names;
                                            }());
}

void Kernel::shutdown() {
    if (outbox_)
        outbox_->stopDelivery();
    // The channel first: it releases long-polls that would otherwise hold the HTTP server's stop.
    if (channel_)
        channel_->stop();
    if (api_)
        api_->stop();
    api_.reset();
    channel_.reset();
    if (started_)
        host_.stop();
    started_ = false;
}

int Kernel::port() const {
    return api_ ? api_->port() : 0;
}

Poco::JSON::Object::Ptr Kernel::versionInfo() const {
    Poco::JSON::Object::Ptr info = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    info->set("version", std::string(sdk::kServerVersion));
    info->set("kernel", std::string(sdk::kServerVersion));
    info->set("sdk_abi", std::to_string(sdk::kAbiMajor) + "." + std::to_string(sdk::kAbiMinor));
    Poco::JSON::Object::Ptr plugins = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    for (const auto& p : host_.plugins())
        plugins->set(p.name, p.info.version);
    info->set("plugins", plugins);
    return info;
}

} // namespace dq::kernel
