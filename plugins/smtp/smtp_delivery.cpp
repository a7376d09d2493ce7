// One SMTP delivery with Poco: connect with a timeout, EHLO, STARTTLS when configured, AUTH when a
// password is set, then the message as UTF-8 plain text.
#include "smtp.h"

#include <Poco/Net/Context.h>
#include <Poco/Net/MailMessage.h>
#include <Poco/Net/MailRecipient.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SMTPClientSession.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <stdexcept>

namespace dq::plugins::smtp {

namespace {

void fillMessage(Poco::Net::MailMessage& message, const SmtpConfig& config, const Mail& mail) {
    message.setSender(config.sender());
    message.addRecipient(Poco::Net::MailRecipient(Poco::Net::MailRecipient::PRIMARY_RECIPIENT, mail.to));
    message.setSubject(Poco::Net::MailMessage::encodeWord(mail.subject, "UTF-8"));
    message.setContentType("text/plain; charset=UTF-8");
    message.setContent(mail.body, Poco::Net::MailMessage::ENCODING_QUOTED_PRINTABLE);
}

Poco::Net::Context::Ptr clientTlsContext() {
    // Verify the server against the system's CAs: a mail relay that cannot prove who it is would
    // receive password reset tokens.
    return new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, "", "", "",
                                  Poco::Net::Context::VERIFY_RELAXED, 9, true);
}

/// Poco's SecureSMTPClientSession hands the server's name to TLS (sent as SNI, and checked against
/// the certificate) only when it connected the socket itself, which allows no connect timeout.
/// This session is handed a connected socket and told the name.
class SmtpSession : public Poco::Net::SMTPClientSession {
public:
    using SMTPClientSession::SMTPClientSession;

    /// STARTTLS; false when the server does not offer it. The handshake that follows verifies the
    /// certificate against the system's CAs and `host` (Poco skips the name for loopback hosts).
    bool startTls(const std::string& host, Poco::Net::Context::Ptr context) {
        std::string response;
        if (!isPositiveCompletion(sendCommand("STARTTLS", response)))
            return false;
        socket() = Poco::Net::SecureStreamSocket::attach(socket(), host, context);
        return true;
    }
};

} // namespace

void deliver(const SmtpConfig& config, const Mail& mail) {
    const Poco::Timespan timeout(config.timeoutSeconds, 0);
    std::string step = "connecting";
    try {
        Poco::Net::StreamSocket socket;
        socket.connect(Poco::Net::SocketAddress(config.server, static_cast<Poco::UInt16>(config.port)),
                       timeout);
        SmtpSession session(socket);
        session.setTimeout(timeout);
        step = "greeting (EHLO)";
        session.login();
        if (config.useTls) {
            step = "switching to TLS (STARTTLS)";
            if (!session.startTls(config.server, clientTlsContext()))
                throw std::runtime_error("the server does not offer STARTTLS; set smtp.MAIL_USE_TLS to false "
                                         "only if this server is on a trusted network");
        }
        if (!config.password.empty()) {
            step = "logging in as '" + config.username + "'";
            session.login(Poco::Net::SMTPClientSession::AUTH_LOGIN, config.username, config.password);
        }
        step = "sending";
        Poco::Net::MailMessage message;
        fillMessage(message, config, mail);
        session.sendMessage(message);
        session.close();
    } catch (const Poco::Exception& e) {
        throw std::runtime_error("SMTP server " + config.endpoint() + ": " + step +
                                 " failed: " + e.displayText());
    } catch (const std::exception& e) {
        throw std::runtime_error("SMTP server " + config.endpoint() + ": " + step + " failed: " + e.what());
    }
}

} // namespace dq::plugins::smtp
