// Entry of the smtp plugin: settings, the "mailer" service (background delivery), `vserver smtp test`.
#include "smtp.h"

namespace dq::plugins::smtp {

class SmtpPlugin : public sdk::Plugin {
public:
    sdk::PluginInfo info() const override {
        return {
            "smtp", sdk::kServerVersion, "Mail over SMTP (password recovery, blocked-account notices)", {}};
    }

    void declare(sdk::Registry& registry) override {
        declareSettings(registry);
        registry.provide(sdk::kMailerService, queue_);
        declareCommands(registry);
    }

    void start(sdk::Services& services) override {
        auto config = configFrom(services.settings());
        services.log().information("smtp: mail goes out through %s as %s (%s)", config.endpoint(),
                                   config.sender(), std::string(config.useTls ? "STARTTLS" : "no TLS"));
        queue_->start(std::move(config), services.log());
    }

    void stop() override { queue_->stop(); }

private:
    std::shared_ptr<MailQueue> queue_ = std::make_shared<MailQueue>();
};

} // namespace dq::plugins::smtp

DQ_PLUGIN(dq::plugins::smtp::SmtpPlugin)
