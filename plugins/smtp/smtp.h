// The smtp plugin's parts: its settings, one synchronous SMTP delivery, and the background queue
// that other plugins reach as the "mailer" service.
#pragma once

#include <Poco/Logger.h>
#include <condition_variable>
#include <deque>
#include <dq/sdk/plugin.h>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace dq::plugins::smtp {

/// Where and how mail goes out, read once from the settings.
struct SmtpConfig {
    std::string server = "localhost";
    int port = 1025;
    std::string username; ///< also the sender address, as in vantage6
    std::string password; ///< empty: no AUTH
    bool useTls = true;   ///< STARTTLS before AUTH
    std::string supportEmail;
    int attempts = 3;
    int retryDelaySeconds = 2; ///< the n-th retry waits n times this
    int timeoutSeconds = 30;   ///< per network step (connect, each reply)
    int tokenValidityMinutes = 60;

    std::string sender() const { return username.empty() ? "support@vantage6.ai" : username; }
    std::string endpoint() const { return server + ":" + std::to_string(port); }
};

struct Mail {
    std::string to;
    std::string subject;
    std::string body;
};

void declareSettings(sdk::Registry& registry);
/// The configuration from the plugin's settings; throws std::runtime_error naming every bad key.
SmtpConfig configFrom(const sdk::Settings& settings);

/// Delivers one mail now (connect, EHLO, STARTTLS, AUTH, send); throws with what failed and where.
void deliver(const SmtpConfig& config, const Mail& mail);

/// The "mailer" service: send() queues and returns at once; one worker thread delivers with
/// retries and logs mail it could not deliver. Requests never wait for the SMTP server.
class MailQueue : public sdk::Mailer {
public:
    ~MailQueue() override;

    /// Starts the worker; mail sent before start() is refused with an error in the log.
    void start(SmtpConfig config, Poco::Logger& log);
    /// Delivers what is queued (one attempt each, no waiting between retries) and stops the worker.
    void stop();

    void send(const std::string& to, const std::string& subject, const std::string& textBody) override;
    std::string supportAddress() const override;

private:
    void run();
    void deliverWithRetries(const Mail& mail);

    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<Mail> queue_;
    bool stopping_ = false;
    std::optional<SmtpConfig> config_;
    Poco::Logger* log_ = nullptr;
    std::thread worker_;
};

void declareCommands(sdk::Registry& registry);

} // namespace dq::plugins::smtp
