// The settings of the smtp plugin. Each one also answers at its vantage6 place (`smtp.*` and
// `support_email` at the top of an environment), so existing vantage6 configs work unchanged.
#include "smtp.h"

#include <Poco/NumberParser.h>
#include <stdexcept>

namespace dq::plugins::smtp {

using Type = sdk::SettingDecl::Type;

namespace {

std::function<std::string(const std::string&)> between(std::int64_t low, std::int64_t high) {
    return [low, high](const std::string& value) -> std::string {
        Poco::Int64 n = 0;
        if (Poco::NumberParser::tryParse64(value, n) && n >= low && n <= high)
            return "";
        return "an integer " + std::to_string(low) + "-" + std::to_string(high);
    };
}

} // namespace

void declareSettings(sdk::Registry& registry) {
    registry.setting({"server", Type::Text, "localhost", "host name of the SMTP server", "smtp.server"});
    registry.setting(
        {"port", Type::Integer, "1025", "port of the SMTP server", "smtp.port", between(1, 65535)});
    registry.setting({"username", Type::Text, "", "SMTP login name, also the sender address of every mail",
                      "smtp.username"});
    registry.setting(
        {"password", Type::Text, "", "SMTP password (empty: send without logging in)", "smtp.password"});
    registry.setting({"use_tls", Type::Boolean, "true", "switch to TLS with STARTTLS before logging in",
                      "smtp.MAIL_USE_TLS"});
    registry.setting({"use_ssl", Type::Boolean, "false",
                      "TLS from the first byte (port 465); not supported, use use_tls (STARTTLS)",
                      "smtp.MAIL_USE_SSL"});
    registry.setting({"support_email", Type::Text, "",
                      "the address users are told to contact (default: username)", "support_email"});
    // vantage6 reads it inside `smtp`; its docs put it at the top level, read as a fallback in configFrom().
    registry.setting({"email_token_validity_minutes", Type::Integer, "",
                      "minutes a password reset token sent by mail stays valid (default 60)",
                      "smtp.email_token_validity_minutes", between(1, 7 * 24 * 60)});
    registry.setting({"send_attempts", Type::Integer, "3", "delivery attempts per mail before it is dropped",
                      "", between(1, 20)});
    registry.setting({"retry_delay_seconds", Type::Integer, "2",
                      "seconds before the first retry; the n-th retry waits n times this", "",
                      between(0, 3600)});
    registry.setting({"timeout_seconds", Type::Integer, "30",
                      "seconds to wait for each answer of the SMTP server", "", between(1, 600)});
}

SmtpConfig configFrom(const sdk::Settings& settings) {
    SmtpConfig config;
    config.server = settings.text("server");
    config.port = static_cast<int>(settings.integer("port"));
    config.username = settings.has("username") ? settings.text("username") : "";
    config.password = settings.has("password") ? settings.text("password") : "";
    config.useTls = settings.boolean("use_tls");
    config.supportEmail = settings.has("support_email") ? settings.text("support_email") : config.sender();
    config.attempts = static_cast<int>(settings.integer("send_attempts"));
    config.retryDelaySeconds = static_cast<int>(settings.integer("retry_delay_seconds"));
    config.timeoutSeconds = static_cast<int>(settings.integer("timeout_seconds"));

    std::string problems;
    if (settings.boolean("use_ssl"))
        problems += "smtp.MAIL_USE_SSL (plugins.settings.smtp.use_ssl) is true, but implicit TLS is not "
                    "supported: set it to false and use MAIL_USE_TLS (STARTTLS, usually port 587). ";
    if (settings.has("email_token_validity_minutes")) {
        config.tokenValidityMinutes = static_cast<int>(settings.integer("email_token_validity_minutes"));
    } else if (auto top = settings.server("email_token_validity_minutes"); !top.empty()) {
        int minutes = 0;
        if (!Poco::NumberParser::tryParse(top, minutes) || minutes < 1)
            problems +=
                "email_token_validity_minutes: expected a positive number of minutes, got \"" + top + "\". ";
        else
            config.tokenValidityMinutes = minutes;
    }
    if (!problems.empty())
        throw std::runtime_error("smtp plugin: " + problems);
    return config;
}

} // namespace dq::plugins::smtp
