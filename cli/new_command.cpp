// `vserver new`: writes a new server configuration, from prompts (with defaults, re-asking on bad
// input) or from flags with --non-interactive. Never overwrites an existing configuration.
#include "commands.h"
#include "kernel/app/kernel.h"
#include "kernel/db/database_uri.h"

#include <Poco/File.h>
#include <Poco/Net/IPAddress.h>
#include <Poco/NumberParser.h>
#include <Poco/Path.h>
#include <Poco/UUIDGenerator.h>
#include <fstream>
#include <functional>
#include <iostream>
#include <regex>
#include <sstream>
#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

namespace dq::cli {

namespace {

using Validator = std::function<std::string(const std::string&)>; // "" when fine, else what is expected

struct Question {
    std::string option; ///< the flag that answers it non-interactively
    std::string prompt;
    std::string defaultValue;
    Validator validate;
};

std::string oneOf(const std::string& value, const std::vector<std::string>& allowed) {
    for (const auto& a : allowed)
        if (value == a)
            return "";
    std::string list;
    for (const auto& a : allowed)
        list += (list.empty() ? "" : ", ") + a;
    return "one of " + list;
}

const Validator kName = [](const std::string& v) {
    return std::regex_match(v, std::regex("^[a-zA-Z0-9_.-]+$")) ? ""
                                                                : "letters, digits, '.', '_' or '-' only";
};
const Validator kAny = [](const std::string&) { return std::string(); };
const Validator kType = [](const std::string& v) { return oneOf(v, {"dev", "test", "acc", "prod"}); };
const Validator kLevel = [](const std::string& v) {
    return oneOf(v, {"CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG", "NOTSET"});
};
const Validator kYesNo = [](const std::string& v) { return oneOf(v, {"y", "n", "yes", "no"}); };
const Validator kIp = [](const std::string& v) {
    Poco::Net::IPAddress ip;
    return Poco::Net::IPAddress::tryParse(v, ip) ? "" : "an IP address such as 127.0.0.1 or 0.0.0.0";
};
const Validator kPort = [](const std::string& v) {
    int port = 0;
    return Poco::NumberParser::tryParse(v, port) && port >= 1 && port <= 65535 ? "" : "an integer 1-65535";
};
const Validator kApiPath = [](const std::string& v) {
    return v.size() > 1 && v.front() == '/' && v.back() != '/'
               ? ""
               : "a path such as /api (leading /, no trailing /)";
};
const Validator kUri = [](const std::string& v) {
    try {
        kernel::DatabaseUri::parse(v);
        return std::string();
    } catch (const std::exception&) {
        return std::string(
            "sqlite:///file.sqlite, sqlite:////abs/path.sqlite or postgresql://user:pass@host:port/db");
    }
};

class Asker {
public:
    Asker(const Arguments& args, std::istream& in, std::ostream& out, bool interactive)
        : args_(args), in_(in), out_(out), interactive_(interactive) {}

    /// The answer from the flag, else the prompt (re-asked until valid), else the default.
    std::string ask(const Question& q) {
        if (auto given = args_.option(q.option)) {
            auto problem = q.validate(*given);
            if (!problem.empty())
                throw std::runtime_error("--" + q.option + ": expected " + problem + ", got \"" + *given +
                                         "\"");
            return *given;
        }
        if (!interactive_)
            return q.defaultValue;
        while (true) {
            out_ << q.prompt << (q.defaultValue.empty() ? "" : " [" + q.defaultValue + "]") << ": "
                 << std::flush;
            std::string line;
            if (!std::getline(in_, line))
                throw std::runtime_error(
                    "input ended before the configuration was complete; nothing written");
            if (line.empty())
                line = q.defaultValue;
            auto problem = q.validate(line);
            if (problem.empty())
                return line;
            out_ << "  expected " << problem << "; try again\n";
        }
    }

private:
    const Arguments& args_;
    std::istream& in_;
    std::ostream& out_;
    bool interactive_;
};

} // namespace

int newCommand(const Arguments& args, std::ostream& out, std::ostream& err) {
    bool interactive = !args.flag("non-interactive");
    Asker asker(args, std::cin, out, interactive);
    try {
        bool system = !args.flag("user");
        std::string name = asker.ask({"name", "Name of the configuration", "", kName});
        if (name.empty())
            throw std::runtime_error("a name is required (--name NAME)");
        std::string folder = configFolder(system);
        std::string file = Poco::Path(folder, name + ".yaml").toString();
        if (Poco::File(file).exists())
            throw std::runtime_error("configuration '" + name + "' already exists at " + file +
                                     "; remove it or choose another name");

        YAML::Emitter yaml;
        yaml << YAML::Comment("dataquality-server configuration, written by vserver new") << YAML::BeginMap
             << YAML::Key << "application" << YAML::Value << YAML::BeginMap;
        auto put = [&](const std::string& key, const std::string& value) {
            yaml << YAML::Key << key << YAML::Value << value;
        };
        put("description", asker.ask({"description", "Description", "", kAny}));
        put("type", asker.ask({"type", "Server type (dev, test, acc, prod)", "prod", kType}));
        put("ip", asker.ask({"ip", "IP address to listen on", "127.0.0.1", kIp}));
        yaml << YAML::Key << "port" << YAML::Value
             << Poco::NumberParser::parse(asker.ask({"port", "Port to listen on", "5000", kPort}));
        put("api_path", asker.ask({"api-path", "Path of the API", "/api", kApiPath}));
        put("uri", asker.ask({"uri", "Database URI", "sqlite:///" + name + ".sqlite", kUri}));
        yaml << YAML::Key << "allow_drop_all" << YAML::Value << false;
        auto constant = asker.ask(
            {"jwt-secret", "Keep a constant JWT secret, so tokens survive restarts? (y/n)", "y", kYesNo});
        if (constant[0] == 'y')
            put("jwt_secret_key", Poco::UUIDGenerator::defaultGenerator().createRandom().toString());
        yaml << YAML::Key << "logging" << YAML::Value << YAML::BeginMap;
        put("level",
            asker.ask({"log-level", "Log level (CRITICAL, ERROR, WARNING, INFO, DEBUG)", "INFO", kLevel}));
        put("file", name + ".log");
        yaml << YAML::Key << "use_console" << YAML::Value << true << YAML::Key << "backup_count"
             << YAML::Value << 5 << YAML::Key << "max_size" << YAML::Value << 1024 << YAML::EndMap;
        auto twoFactor = asker.ask(
            {"two-factor", "Require two-factor authentication (TOTP codes) for users? (y/n)", "n", kYesNo});
        yaml << YAML::Key << "two_factor_auth" << YAML::Value << (twoFactor[0] == 'y');

        std::string bundled;
        for (const auto& p : kernel::bundledPlugins())
            bundled += (bundled.empty() ? "" : ",") + p;
        auto plugins = asker.ask({"plugins", "Plugins to enable (comma-separated)", bundled, kAny});
        yaml << YAML::Key << "plugins" << YAML::Value << YAML::BeginMap << YAML::Key << "enabled"
             << YAML::Value << YAML::Flow << YAML::BeginSeq;
        std::stringstream list(plugins);
        std::string plugin;
        while (std::getline(list, plugin, ','))
            if (!plugin.empty())
                yaml << plugin;
        yaml << YAML::EndSeq << YAML::EndMap;

        auto smtp =
            asker.ask({"smtp-server", "SMTP server for password-reset mails (empty: none)", "", kAny});
        if (!smtp.empty()) {
            yaml << YAML::Key << "smtp" << YAML::Value << YAML::BeginMap;
            put("server", smtp);
            yaml << YAML::Key << "port" << YAML::Value
                 << Poco::NumberParser::parse(asker.ask({"smtp-port", "SMTP port", "25", kPort}));
            put("username", asker.ask({"smtp-username", "SMTP username", "", kAny}));
            put("password", asker.ask({"smtp-password", "SMTP password", "", kAny}));
            yaml << YAML::EndMap;
        }
        auto vpn = asker.ask({"vpn-url", "EduVPN server URL (empty: no VPN)", "", kAny});
        if (!vpn.empty()) {
            yaml << YAML::Key << "vpn_server" << YAML::Value << YAML::BeginMap;
            put("url", vpn);
            put("portal_username", asker.ask({"vpn-portal-username", "EduVPN portal username", "", kAny}));
            put("portal_userpass", asker.ask({"vpn-portal-password", "EduVPN portal password", "", kAny}));
            put("client_id", asker.ask({"vpn-client-id", "EduVPN OAuth client id", "", kAny}));
            put("client_secret", asker.ask({"vpn-client-secret", "EduVPN OAuth client secret", "", kAny}));
            put("redirect_url", asker.ask({"vpn-redirect-url", "EduVPN OAuth redirect URL", "", kAny}));
            yaml << YAML::EndMap;
        }
        yaml << YAML::EndMap << YAML::EndMap;

        try {
            Poco::File(folder).createDirectories();
        } catch (const Poco::Exception& e) {
            throw std::runtime_error("cannot create " + folder + ": " + e.displayText() +
                                     (system ? " (use --user for your own folder)" : ""));
        }
        std::ofstream outFile(file);
        if (!outFile)
            throw std::runtime_error("cannot write " + file +
                                     (system ? " (use --user for your own folder)" : ""));
        outFile << yaml.c_str() << "\n";
        outFile.close();
        Poco::File(file).setWriteable(true);
        // The file holds the JWT secret and maybe mail passwords: its owner only, and the group of a
        // folder shared with the service user (the package's /etc/dataquality/server is setgid
        // dataquality), which must read it.
        struct stat folderStat {};
        bool shared = system && ::stat(folder.c_str(), &folderStat) == 0 && folderStat.st_gid != 0 &&
                      (folderStat.st_mode & S_ISGID);
        ::chmod(file.c_str(), shared ? 0640 : 0600);
        out << "wrote " << file << "\nstart it with: vserver start --name " << name
            << (system ? "" : " --user") << "\n";
        if (shared)
            out << "or as a service: systemctl enable --now dataquality-server@" << name << "\n";
        return 0;
    } catch (const std::exception& e) {
        return fail(err, "new", e);
    }
}

} // namespace dq::cli
