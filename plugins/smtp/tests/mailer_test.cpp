// The smtp plugin's mailer against a real SMTP sink on loopback: retries, AUTH, refused settings,
// STARTTLS with a trusted and with an untrusted certificate, and the `vserver smtp test` command.
#include "tests/peers/peer_process.h"
#include "tests/support/test_server.h"

#include <Poco/Base64Encoder.h>
#include <gtest/gtest.h>
#include <sstream>

namespace {

using dq::test::json;
using dq::test::TestServer;
using dq::test::peers::SmtpSink;
using dq::test::peers::TestCertificate;

std::string base64(const std::string& text) {
    std::ostringstream out;
    Poco::Base64Encoder encoder(out);
    encoder << text;
    encoder.close();
    return out.str();
}

TestServer::Options smtpOptions(int port, const std::string& extra = "", bool tls = false,
                                const std::string& host = "127.0.0.1") {
    TestServer::Options options;
    options.extraYaml = "  smtp:\n    server: " + host + "\n    port: " + std::to_string(port) +
                        "\n    username: noreply@example.org\n    MAIL_USE_TLS: " + (tls ? "true" : "false") +
                        "\n" + extra;
    return options;
}

std::shared_ptr<dq::sdk::Mailer> mailerOf(TestServer& s) {
    return s.services("smtp").find<dq::sdk::Mailer>(dq::sdk::kMailerService);
}

TEST(SmtpMailer, RetriesWhenTheServerRefusesTheFirstConnections) {
    SmtpSink sink(2);
    TestServer s(
        smtpOptions(sink.port(), "  plugins:\n    settings:\n      smtp:\n        retry_delay_seconds: 0\n"));
    mailerOf(s)->send("someone@example.org", "Hello", "third time lucky");
    auto mails = sink.waitFor(1);
    ASSERT_EQ(mails.size(), 1u);
    EXPECT_EQ(mails[0]->getArray("to")->getElement<std::string>(0), "someone@example.org");
}

TEST(SmtpMailer, LogsInWhenAPasswordIsSet) {
    SmtpSink sink;
    TestServer s(smtpOptions(sink.port(), "    password: s3cret\n"));
    mailerOf(s)->send("someone@example.org", "Hello", "with auth");
    auto mails = sink.waitFor(1);
    ASSERT_EQ(mails.size(), 1u);
    auto auth = mails[0]->getObject("auth");
    ASSERT_TRUE(auth) << "no AUTH before the mail";
    EXPECT_EQ(auth->getValue<std::string>("user"), base64("noreply@example.org"));
    EXPECT_EQ(auth->getValue<std::string>("password"), base64("s3cret"));
}

TEST(SmtpMailer, SendsWithoutLoginWhenNoPasswordIsSet) {
    SmtpSink sink;
    TestServer s(smtpOptions(sink.port()));
    EXPECT_EQ(mailerOf(s)->supportAddress(), "noreply@example.org");
    mailerOf(s)->send("someone@example.org", "Hello", "no auth");
    auto mails = sink.waitFor(1);
    ASSERT_EQ(mails.size(), 1u);
    EXPECT_TRUE(mails[0]->isNull("auth"));
}

TEST(SmtpMailer, RefusesToStartWithImplicitSsl) {
    try {
        TestServer s(smtpOptions(25, "    MAIL_USE_SSL: true\n"));
        FAIL() << "the server started with MAIL_USE_SSL: true";
    } catch (const std::exception& e) {
        EXPECT_NE(std::string(e.what()).find("MAIL_USE_SSL"), std::string::npos) << e.what();
    }
}

/// What `vserver smtp test` hands the command: options, streams and the plugin's services.
class CommandRun : public dq::sdk::CommandContext {
public:
    CommandRun(dq::sdk::Services& services, std::map<std::string, std::string> options)
        : services_(services), options_(std::move(options)) {}
    std::optional<std::string> option(const std::string& name) const override {
        auto it = options_.find(name);
        return it == options_.end() ? std::nullopt : std::optional<std::string>(it->second);
    }
    bool flag(const std::string&) const override { return false; }
    const std::vector<std::string>& arguments() const override { return arguments_; }
    dq::sdk::Store& store() override { throw std::logic_error("smtp test needs no database"); }
    dq::sdk::Services& services() override { return services_; }
    std::ostream& out() override { return out_; }
    std::ostream& err() override { return err_; }

    std::ostringstream out_, err_;

private:
    dq::sdk::Services& services_;
    std::map<std::string, std::string> options_;
    std::vector<std::string> arguments_;
};

int runSmtpTest(TestServer& s, CommandRun& run) {
    if (const auto* command = s.command({"smtp", "test"}))
        return command->handler(run);
    ADD_FAILURE() << "no `smtp test` command declared";
    return -1;
}

TEST(SmtpTestCommand, SendsATestMailSynchronously) {
    SmtpSink sink;
    TestServer s(smtpOptions(sink.port()));
    CommandRun run(s.services("smtp"), {{"to", "operator@example.org"}});
    EXPECT_EQ(runSmtpTest(s, run), 0) << run.err_.str();
    EXPECT_NE(run.out_.str().find("Sent a test mail to operator@example.org"), std::string::npos)
        << run.out_.str();
    // Synchronous: the mail is there when the command returns.
    auto mails = sink.mails();
    ASSERT_EQ(mails.size(), 1u);
    EXPECT_EQ(mails[0]->getArray("to")->getElement<std::string>(0), "operator@example.org");
}

TEST(SmtpTestCommand, ReportsAServerThatCannotBeReached) {
    TestServer s(smtpOptions(dq::test::peers::closedPort()));
    CommandRun run(s.services("smtp"), {{"to", "operator@example.org"}});
    EXPECT_EQ(runSmtpTest(s, run), 1);
    EXPECT_NE(run.err_.str().find("Could not send a test mail to operator@example.org"), std::string::npos)
        << run.err_.str();
    EXPECT_NE(run.err_.str().find("127.0.0.1"), std::string::npos) << run.err_.str();
}

/// Points OpenSSL's default trust store (which the mailer uses) at one certificate, for one test.
class TrustOnly {
public:
    explicit TrustOnly(const std::string& certificateFile) {
        setenv("SSL_CERT_FILE", certificateFile.c_str(), 1);
    }
    ~TrustOnly() { unsetenv("SSL_CERT_FILE"); }
};

TEST(SmtpStartTls, LogsInAndSendsOnlyAfterSwitchingToTls) {
    TestCertificate certificate;
    TrustOnly trust(certificate.certificateFile());
    SmtpSink sink(0, certificate.serverPem());
    TestServer s(smtpOptions(sink.port(), "    password: s3cret\n", true, "localhost"));
    CommandRun run(s.services("smtp"), {{"to", "operator@example.org"}});
    EXPECT_EQ(runSmtpTest(s, run), 0) << run.err_.str();
    auto mails = sink.mails();
    ASSERT_EQ(mails.size(), 1u);
    EXPECT_TRUE(mails[0]->getValue<bool>("tls"));
    // The configured name goes into the handshake (SNI), and the certificate is checked against it
    // (Poco skips that check for loopback names, so it cannot be shown failing here).
    EXPECT_EQ(mails[0]->optValue<std::string>("sni", ""), "localhost");
    auto auth = mails[0]->getObject("auth");
    ASSERT_TRUE(auth) << "no AUTH after STARTTLS";
    EXPECT_EQ(auth->getValue<std::string>("password"), base64("s3cret"));
}

TEST(SmtpStartTls, RefusesAServerWhoseCertificateIsNotTrusted) {
    TestCertificate certificate; // not trusted: the system's CAs did not sign it
    SmtpSink sink(0, certificate.serverPem());
    TestServer s(smtpOptions(sink.port(), "    password: s3cret\n", true, "localhost"));
    CommandRun run(s.services("smtp"), {{"to", "operator@example.org"}});
    EXPECT_EQ(runSmtpTest(s, run), 1);
    EXPECT_NE(run.err_.str().find("switching to TLS (STARTTLS) failed"), std::string::npos) << run.err_.str();
    EXPECT_NE(run.err_.str().find("certificate"), std::string::npos) << run.err_.str();
    EXPECT_TRUE(sink.mails().empty()) << "a mail went to a server that could not prove who it is";
}

TEST(SmtpStartTls, SaysWhenTheServerDoesNotOfferStartTls) {
    SmtpSink sink; // plain
    TestServer s(smtpOptions(sink.port(), "", true));
    CommandRun run(s.services("smtp"), {{"to", "operator@example.org"}});
    EXPECT_EQ(runSmtpTest(s, run), 1);
    EXPECT_NE(run.err_.str().find("does not offer STARTTLS"), std::string::npos) << run.err_.str();
    EXPECT_TRUE(sink.mails().empty());
}

} // namespace
