// The background mail queue: handlers enqueue and return; one worker delivers, retries with a
// growing delay, and logs every mail it had to drop.
#include "smtp.h"

namespace dq::plugins::smtp {

MailQueue::~MailQueue() {
    stop();
}

void MailQueue::start(SmtpConfig config, Poco::Logger& log) {
    std::lock_guard lock(mutex_);
    if (worker_.joinable())
        return;
    config_ = std::move(config);
    log_ = &log;
    stopping_ = false;
    worker_ = std::thread([this] { run(); });
}

void MailQueue::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (worker_.joinable())
        worker_.join();
}

void MailQueue::send(const std::string& to, const std::string& subject, const std::string& textBody) {
    {
        std::lock_guard lock(mutex_);
        if (!worker_.joinable() || stopping_) {
            if (log_)
                log_->error("smtp: mail '%s' to %s dropped: the mail queue is not running", subject, to);
            throw std::runtime_error("the smtp plugin's mail queue is not running");
        }
        queue_.push_back({to, subject, textBody});
    }
    wake_.notify_one();
}

std::string MailQueue::supportAddress() const {
    std::lock_guard lock(mutex_);
    return config_ ? config_->supportEmail : "";
}

void MailQueue::run() {
    for (;;) {
        Mail mail;
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
            if (queue_.empty())
                return;
            mail = std::move(queue_.front());
            queue_.pop_front();
        }
        deliverWithRetries(mail);
    }
}

void MailQueue::deliverWithRetries(const Mail& mail) {
    const auto& config = *config_;
    std::string lastError;
    for (int attempt = 1; attempt <= config.attempts; ++attempt) {
        try {
            deliver(config, mail);
            log_->information("smtp: sent '%s' to %s", mail.subject, mail.to);
            return;
        } catch (const std::exception& e) {
            lastError = e.what();
        }
        std::unique_lock lock(mutex_);
        // Shutting down: no more waiting, the rest of the queue still gets its one attempt.
        if (stopping_ || attempt == config.attempts)
            break;
        log_->warning("smtp: attempt %d of %d to send '%s' to %s failed, retrying: %s", attempt,
                      config.attempts, mail.subject, mail.to, lastError);
        wake_.wait_for(lock, std::chrono::seconds(config.retryDelaySeconds * attempt),
                       [this] { return stopping_; });
    }
    log_->error("smtp: could not send '%s' to %s, mail dropped: %s. Check the smtp settings (server, port, "
                "username, password, MAIL_USE_TLS) and try `vserver smtp test --to ADDRESS`.",
                mail.subject, mail.to, lastError);
}

} // namespace dq::plugins::smtp
