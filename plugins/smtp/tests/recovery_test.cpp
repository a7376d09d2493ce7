// Recovery of a password or a second factor by e-mail end to end: the users routes, the smtp plugin's mailer,
// and a real SMTP sink on loopback that stores what it receives.
#include "tests/peers/peer_process.h"
#include "tests/support/test_server.h"

#include <Poco/JWT/Signer.h>
#include <Poco/JWT/Token.h>
#include <Poco/Net/QuotedPrintableDecoder.h>
#include <Poco/StreamCopier.h>
#include <ctime>
#include <gtest/gtest.h>
#include <regex>
#include <thread>
#include <vector>

namespace {

using dq::test::HttpResult;
using dq::test::json;
using dq::test::TestServer;
using dq::test::peers::authenticator;
using dq::test::peers::SmtpSink;

const std::string kSameAnswer = "If the username or email is in our database you will soon receive an email.";

std::string smtpYaml(const SmtpSink& sink) {
    return "  smtp:\n    server: 127.0.0.1\n    port: " + std::to_string(sink.port()) +
           "\n    username: noreply@example.org\n    MAIL_USE_TLS: false\n    email_token_validity_minutes: "
           "5\n"
           "  support_email: help@example.org\n";
}

/// The text of a stored mail: headers dropped, quoted-printable decoded.
std::string bodyOf(const Poco::JSON::Object::Ptr& mail) {
    auto data = mail->getValue<std::string>("data");
    auto start = data.find("\r\n\r\n");
    std::istringstream encoded(start == std::string::npos ? data : data.substr(start + 4));
    Poco::Net::QuotedPrintableDecoder decoder(encoded);
    std::string text;
    Poco::StreamCopier::copyToString(decoder, text);
    return text;
}

std::string tokenIn(const Poco::JSON::Object::Ptr& mail) {
    std::smatch match;
    auto body = bodyOf(mail);
    if (!std::regex_search(body, match, std::regex("eyJ[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+")))
        return "";
    return match.str();
}

std::string recipientOf(const Poco::JSON::Object::Ptr& mail) {
    return mail->getArray("to")->getElement<std::string>(0);
}

class PasswordRecovery : public dq::test::BothDatabases {
protected:
    TestServer& start(const std::string& extra = "") {
        TestServer::Options options;
        options.extraYaml = smtpYaml(sink) + extra;
        return server(options);
    }

    /// With 2FA on, root's own login would need a code too.
    std::string rootToken() { return dq::test::mintedRootToken(server()); }

    /// A user with an e-mail address; returns its id.
    long long createUser(const std::string& name) {
        return dq::test::createUserWithEmail(server(), name, rootToken());
    }

    SmtpSink sink;
};

TEST_P(PasswordRecovery, MailedTokenSetsTheNewPasswordExactlyOnce) {
    auto& s = start();
    createUser("ada");

    auto lost = s.post("/recover/lost", json({{"username", std::string("ada")}}));
    EXPECT_EQ(lost.status, 200) << lost.body;
    EXPECT_EQ(lost.msg(), kSameAnswer);

    auto mails = sink.waitFor(1);
    ASSERT_EQ(mails.size(), 1u);
    EXPECT_EQ(recipientOf(mails[0]), "ada@example.org");
    EXPECT_EQ(mails[0]->getValue<std::string>("from"), "noreply@example.org");
    EXPECT_NE(mails[0]->getValue<std::string>("data").find("Subject: Password reset vantage6"),
              std::string::npos);
    EXPECT_NE(bodyOf(mails[0]).find("help@example.org"), std::string::npos) << bodyOf(mails[0]);
    auto token = tokenIn(mails[0]);
    ASSERT_FALSE(token.empty()) << bodyOf(mails[0]);

    auto reset =
        s.post("/recover/reset", json({{"reset_token", token}, {"password", std::string("N3w-Secret!")}}));
    EXPECT_EQ(reset.status, 200) << reset.body;
    EXPECT_EQ(reset.msg(), "The password has successfully been reset!");

    EXPECT_FALSE(s.login("ada", "N3w-Secret!").empty());
    EXPECT_EQ(s.post("/token/user",
                     json({{"username", std::string("ada")}, {"password", std::string("Welkom01!")}}))
                  .status,
              401);

    auto again =
        s.post("/recover/reset", json({{"reset_token", token}, {"password", std::string("0ther-Secret!")}}));
    EXPECT_EQ(again.status, 400) << again.body;
    EXPECT_EQ(again.msg(), "Invalid recovery token!");
    EXPECT_FALSE(s.login("ada", "N3w-Secret!").empty());
}

TEST_P(PasswordRecovery, FindsTheUserByEmail) {
    auto& s = start();
    createUser("grace");
    auto lost = s.post("/recover/lost", json({{"email", std::string("grace@example.org")}}));
    EXPECT_EQ(lost.status, 200) << lost.body;
    auto mails = sink.waitFor(1);
    ASSERT_EQ(mails.size(), 1u);
    EXPECT_EQ(recipientOf(mails[0]), "grace@example.org");
    EXPECT_FALSE(tokenIn(mails[0]).empty());
}

TEST_P(PasswordRecovery, UnknownUserGetsTheSameAnswerAndNoMail) {
    auto& s = start();
    createUser("alan");
    auto unknown = s.post("/recover/lost", json({{"username", std::string("nobody")}}));
    EXPECT_EQ(unknown.status, 200);
    EXPECT_EQ(unknown.body,
              s.post("/recover/lost", json({{"email", std::string("nobody@example.org")}})).body);
    EXPECT_EQ(unknown.msg(), kSameAnswer);
    // Mail goes out in order: once alan's arrived, a mail for "nobody" would have arrived before it.
    EXPECT_EQ(s.post("/recover/lost", json({{"username", std::string("alan")}})).status, 200);
    auto mails = sink.waitFor(1);
    ASSERT_EQ(mails.size(), 1u);
    EXPECT_EQ(recipientOf(mails[0]), "alan@example.org");
}

TEST_P(PasswordRecovery, RejectsMissingAndInvalidInput) {
    auto& s = start();
    auto lost = s.post("/recover/lost", json({}));
    EXPECT_EQ(lost.status, 400);
    EXPECT_EQ(lost.msg(), "No username or email provided!");

    auto missing = s.post("/recover/reset", json({{"password", std::string("N3w-Secret!")}}));
    EXPECT_EQ(missing.status, 400);
    EXPECT_EQ(missing.msg(), "The reset token and/or password is missing!");

    auto forged =
        s.post("/recover/reset",
               json({{"reset_token", std::string("not.a.token")}, {"password", std::string("N3w-Secret!")}}));
    EXPECT_EQ(forged.status, 400);
    EXPECT_EQ(forged.msg(), "Invalid recovery token!");

    // A login token is signed by the server but not for this purpose.
    auto login = s.post("/recover/reset",
                        json({{"reset_token", s.rootToken()}, {"password", std::string("N3w-Secret!")}}));
    EXPECT_EQ(login.status, 400);
    EXPECT_EQ(login.msg(), "Invalid recovery token!");
}

TEST_P(PasswordRecovery, ExpiredTokenIsRefusedWith401) {
    auto& s = start();
    auto id = createUser("edsger");
    // Signed with the test server's jwt_secret_key, as the server would have an hour ago.
    auto now = static_cast<Poco::Int64>(std::time(nullptr));
    Poco::JWT::Token token;
    token.setType("JWT");
    auto& claims = token.payload();
    claims.set("type", std::string("purpose"));
    claims.set("purpose", std::string("password-reset"));
    claims.set("user_id", static_cast<Poco::Int64>(id));
    claims.set("iat", now - 3600);
    claims.set("nbf", now - 3600);
    claims.set("exp", now - 600);
    auto expired = Poco::JWT::Signer("test-secret").sign(token, Poco::JWT::Signer::ALGO_HS256);
    auto r =
        s.post("/recover/reset", json({{"reset_token", expired}, {"password", std::string("N3w-Secret!")}}));
    EXPECT_EQ(r.status, 401) << r.body;
    EXPECT_EQ(r.msg(), "Token has expired");
}

TEST_P(PasswordRecovery, WeakPasswordIsRefusedAndTheTokenStaysUsable) {
    auto& s = start();
    createUser("barbara");
    EXPECT_EQ(s.post("/recover/lost", json({{"username", std::string("barbara")}})).status, 200);
    auto mails = sink.waitFor(1);
    ASSERT_EQ(mails.size(), 1u);
    auto token = tokenIn(mails[0]);

    auto weak =
        s.post("/recover/reset", json({{"reset_token", token}, {"password", std::string("alllowercase1!")}}));
    EXPECT_EQ(weak.status, 400);
    EXPECT_EQ(weak.msg(), "Password should contain at least one uppercase letter");

    auto good =
        s.post("/recover/reset", json({{"reset_token", token}, {"password", std::string("N3w-Secret!")}}));
    EXPECT_EQ(good.status, 200) << good.body;
}

TEST_P(PasswordRecovery, ResetUnlocksABlockedAccountAndTheBlockIsMailed) {
    auto& s = start();
    createUser("linus");
    for (int i = 0; i < 5; ++i)
        EXPECT_EQ(s.post("/token/user",
                         json({{"username", std::string("linus")}, {"password", std::string("wrong")}}))
                      .status,
                  401);
    EXPECT_EQ(s.post("/token/user",
                     json({{"username", std::string("linus")}, {"password", std::string("Welkom01!")}}))
                  .status,
              401);
    auto blocked = sink.waitFor(1);
    ASSERT_EQ(blocked.size(), 1u);
    EXPECT_EQ(recipientOf(blocked[0]), "linus@example.org");
    EXPECT_NE(blocked[0]->getValue<std::string>("data").find("blocked"), std::string::npos);

    EXPECT_EQ(s.post("/recover/lost", json({{"username", std::string("linus")}})).status, 200);
    auto mails = sink.waitFor(2);
    ASSERT_EQ(mails.size(), 2u);
    auto reset = s.post("/recover/reset",
                        json({{"reset_token", tokenIn(mails[1])}, {"password", std::string("N3w-Secret!")}}));
    EXPECT_EQ(reset.status, 200) << reset.body;
    EXPECT_FALSE(s.login("linus", "N3w-Secret!").empty());
}

// The throttles hold across server processes on one database (scale-out): alternating between two
// processes gets no more mails, nor requests, than one process would allow.
TEST_P(PasswordRecovery, MailsPerAddressAreThrottledAcrossServerProcesses) {
    auto& s = start();
    createUser("ada");
    dq::test::ServerProcess other(s);
    for (int i = 0; i < 6; ++i) {
        auto lost = i % 2 ? other.post("/recover/lost", json({{"username", std::string("ada")}}))
                          : s.post("/recover/lost", json({{"email", std::string("ada@example.org")}}));
        // The same answer when the mail is held back: the throttle tells nothing about the account.
        EXPECT_EQ(lost.status, 200) << i << ": " << lost.body;
        EXPECT_EQ(lost.msg(), kSameAnswer);
    }
    ASSERT_EQ(sink.waitFor(3).size(), 3u);
    // Mail goes out in order: a mail for the other user, sent after, arrives after any fourth.
    createUser("alan");
    EXPECT_EQ(other.post("/recover/lost", json({{"username", std::string("alan")}})).status, 200);
    auto mails = sink.waitFor(4);
    ASSERT_EQ(mails.size(), 4u);
    EXPECT_EQ(recipientOf(mails[3]), "alan@example.org");
}

TEST_P(PasswordRecovery, RequestsPerClientAreThrottledAcrossServerProcessesAndWindowsEnd) {
    auto& s = start();
    dq::test::ServerProcess other(s);
    // Sent at once, half to each process: exactly the limit (10) passes, whatever the interleaving.
    std::vector<HttpResult> answers(16);
    std::vector<std::thread> clients;
    for (std::size_t i = 0; i < answers.size(); ++i)
        clients.emplace_back([&, i] {
            auto body = json({{"username", "nobody" + std::to_string(i)}});
            answers[i] = i % 2 ? other.post("/recover/lost", body) : s.post("/recover/lost", body);
        });
    for (auto& c : clients)
        c.join();
    int passed = 0, throttled = 0;
    for (const auto& a : answers) {
        if (a.status == 200) {
            ++passed;
        } else {
            EXPECT_EQ(a.status, 429) << a.body;
            ++throttled;
            ASSERT_TRUE(a.headers.count("retry-after")) << a.body;
            auto wait = std::stoi(a.headers.at("retry-after"));
            EXPECT_GT(wait, 0);
            EXPECT_LE(wait, 15 * 60);
        }
    }
    EXPECT_EQ(passed, 10);
    EXPECT_EQ(throttled, 6);
    // Every recovery route counts, on either process.
    EXPECT_EQ(s.post("/recover/reset", json({{"reset_token", std::string("x")}, {"password", std::string("y")}}))
                  .status,
              429);
    EXPECT_EQ(other.post("/recover/2fa/reset", json({{"reset_token", std::string("x")}})).status, 429);

    // Fifteen minutes later (the window moved back instead) the client may ask again.
    s.transaction([](dq::sdk::Store& store) {
        store.execute("UPDATE recovery_throttle SET window_ends = window_ends - 900", {});
    });
    EXPECT_EQ(other.post("/recover/lost", json({{"username", std::string("nobody")}})).status, 200);
    EXPECT_EQ(s.post("/recover/lost", json({{"username", std::string("nobody")}})).status, 200);
}

// Behind a reverse proxy every request comes from the proxy's address: the per-client throttle
// counts the client X-Forwarded-For names, but only when the proxy is trusted (`trusted_proxies`).
namespace {

HttpResult lostVia(TestServer& s, const std::string& forwardedFor) {
    return s.request("POST", "/recover/lost", R"({"username": "nobody"})", "", {{"X-Forwarded-For", forwardedFor}});
}

} // namespace

TEST_P(PasswordRecovery, ForwardedForFromAPeerNotTrustedIsIgnored) {
    // Another proxy is trusted, not this client (loopback).
    auto& s = start("  trusted_proxies: [192.0.2.1, 10.0.0.0/8]\n");
    // Each request claims another address: all are the one client all the same.
    for (int i = 0; i < 10; ++i)
        EXPECT_EQ(lostVia(s, "203.0.113." + std::to_string(i + 1)).status, 200) << i;
    auto spoofed = lostVia(s, "198.51.100.99");
    EXPECT_EQ(spoofed.status, 429) << spoofed.body;
}

TEST_P(PasswordRecovery, ForwardedForFromATrustedProxySeparatesClients) {
    auto& s = start("  trusted_proxies: [127.0.0.1]\n");
    for (int i = 0; i < 10; ++i)
        EXPECT_EQ(lostVia(s, "203.0.113.7").status, 200) << i;
    EXPECT_EQ(lostVia(s, "203.0.113.7").status, 429);
    // A client that writes a header of its own: the proxy appends the address it saw, and that one,
    // the right-most not trusted, is the client.
    EXPECT_EQ(lostVia(s, "198.51.100.1, 203.0.113.7").status, 429);
    // Another client behind the same proxy has a count of its own.
    EXPECT_EQ(lostVia(s, "203.0.113.8").status, 200);
    // The proxy itself, without the header, is a client too (and so is a trusted hop named in it).
    EXPECT_EQ(s.post("/recover/lost", json({{"username", std::string("nobody")}})).status, 200);
    EXPECT_EQ(lostVia(s, "203.0.113.9, 127.0.0.1").status, 200);
}

DQ_ON_BOTH_DATABASES(PasswordRecovery);

// Recovery of a lost second factor (vantage6 /recover/2fa/lost, /recover/2fa/reset), with 2FA on.
class TwoFactorRecovery : public PasswordRecovery {
protected:
    TestServer& start() { return PasswordRecovery::start("  two_factor_auth: true\n"); }

    HttpResult lost(const std::string& name, const std::string& password) {
        return server().post("/recover/2fa/lost", json({{"username", name}, {"password", password}}));
    }

    HttpResult login(const std::string& name, const std::string& code = "") {
        auto body = json({{"username", name}, {"password", std::string("Welkom01!")}});
        if (!code.empty())
            body->set("mfa_code", code);
        return server().post("/token/user", body);
    }
};

const std::string kTwoFactorAnswer =
    "If you sent a correct combination of username/email andpassword, you will soon receive an email.";

TEST_P(TwoFactorRecovery, MailedTokenGivesANewSecretExactlyOnce) {
    start();
    createUser("ada");
    auto enrolled = login("ada");
    ASSERT_EQ(enrolled.status, 200) << enrolled.body;
    auto oldSecret = enrolled.object()->getValue<std::string>("otp_secret");
    auto oldUri = enrolled.object()->getValue<std::string>("qr_uri");

    auto asked = lost("ada", "Welkom01!");
    EXPECT_EQ(asked.status, 200) << asked.body;
    EXPECT_EQ(asked.msg(), kTwoFactorAnswer);
    auto mails = sink.waitFor(1);
    ASSERT_EQ(mails.size(), 1u);
    EXPECT_EQ(recipientOf(mails[0]), "ada@example.org");
    EXPECT_NE(
        mails[0]->getValue<std::string>("data").find("Subject: Two-factor authentication reset vantage6"),
        std::string::npos);
    auto token = tokenIn(mails[0]);
    ASSERT_FALSE(token.empty()) << bodyOf(mails[0]);

    auto reset = server().post("/recover/2fa/reset", json({{"reset_token", token}}));
    ASSERT_EQ(reset.status, 200) << reset.body;
    auto newSecret = reset.object()->getValue<std::string>("otp_secret");
    EXPECT_NE(newSecret, oldSecret);
    auto newUri = reset.object()->getValue<std::string>("qr_uri");
    EXPECT_NE(newUri.find("secret=" + newSecret), std::string::npos) << newUri;

    auto oldCode = authenticator(oldUri).code;
    auto newCode = authenticator(newUri).code;
    if (oldCode != newCode) { // equal by chance once in a million
        EXPECT_EQ(login("ada", oldCode).status, 401) << "the lost authenticator still works";
    }
    auto withNew = login("ada", newCode);
    EXPECT_EQ(withNew.status, 200) << withNew.body;
    EXPECT_TRUE(withNew.object()->has("access_token"));

    auto again = server().post("/recover/2fa/reset", json({{"reset_token", token}}));
    EXPECT_EQ(again.status, 400) << again.body;
    EXPECT_EQ(again.msg(), "Invalid recovery token!");
}

TEST_P(TwoFactorRecovery, WrongPasswordCountsAsAFailedLoginAndMailsNothing) {
    auto& s = start();
    createUser("bob");
    auto wrong = lost("bob", "Wrong-Pass1!");
    EXPECT_EQ(wrong.status, 401) << wrong.body;
    EXPECT_EQ(wrong.msg(), "Failed to login");
    long long attempts = -1;
    s.transaction([&](dq::sdk::Store& store) {
        attempts = store.select("user", dq::sdk::Query().add(dq::sdk::Condition::equal("username", "bob")))
                       .front()
                       .integer("failed_login_attempts")
                       .value_or(0);
    });
    EXPECT_EQ(attempts, 1);
    // Mail goes out in order: a mail for bob's wrong password or for the unknown user would
    // arrive before the one for dan's good request.
    EXPECT_EQ(lost("nobody", "Welkom01!").msg(), kTwoFactorAnswer);
    createUser("dan");
    EXPECT_EQ(lost("dan", "Welkom01!").status, 200);
    auto mails = sink.waitFor(1);
    ASSERT_EQ(mails.size(), 1u);
    EXPECT_EQ(recipientOf(mails[0]), "dan@example.org");
}

TEST_P(TwoFactorRecovery, RejectsMissingAndInvalidInput) {
    auto& s = start();
    createUser("cy");
    auto none = s.post("/recover/2fa/lost", json({{"password", std::string("Welkom01!")}}));
    EXPECT_EQ(none.status, 400);
    EXPECT_EQ(none.msg(), "No username or email provided!");
    auto noPassword = s.post("/recover/2fa/lost", json({{"email", std::string("cy@example.org")}}));
    EXPECT_EQ(noPassword.status, 400);
    EXPECT_EQ(noPassword.msg(), "No password provided!");

    auto missing = s.post("/recover/2fa/reset", json({}));
    EXPECT_EQ(missing.status, 400);
    EXPECT_EQ(missing.msg(), "The reset token is missing!");
    auto forged = s.post("/recover/2fa/reset", json({{"reset_token", std::string("not.a.token")}}));
    EXPECT_EQ(forged.status, 400);
    EXPECT_EQ(forged.msg(), "Invalid recovery token!");

    // A mailed password-reset token is for another purpose.
    EXPECT_EQ(s.post("/recover/lost", json({{"username", std::string("cy")}})).status, 200);
    auto mails = sink.waitFor(1);
    ASSERT_EQ(mails.size(), 1u);
    auto passwordToken = s.post("/recover/2fa/reset", json({{"reset_token", tokenIn(mails[0])}}));
    EXPECT_EQ(passwordToken.status, 400) << passwordToken.body;
    EXPECT_EQ(passwordToken.msg(), "Invalid recovery token!");
}

DQ_ON_BOTH_DATABASES(TwoFactorRecovery);

TEST(PasswordRecoveryWithoutSmtp, Answers501) {
    TestServer::Options options;
    options.plugins = {"organizations", "roles", "users"};
    TestServer s(options);
    const std::string msg = "Recovery by e-mail is not configured on this server (no smtp plugin)";
    auto lost = s.post("/recover/lost", json({{"username", std::string("root")}}));
    EXPECT_EQ(lost.status, 501);
    EXPECT_EQ(lost.msg(), msg);
    auto reset =
        s.post("/recover/reset", json({{"reset_token", std::string("x")}, {"password", std::string("y")}}));
    EXPECT_EQ(reset.status, 501);
    EXPECT_EQ(reset.msg(), msg);
    auto lostTwoFactor = s.post("/recover/2fa/lost",
                                json({{"username", std::string("root")}, {"password", std::string("root")}}));
    EXPECT_EQ(lostTwoFactor.status, 501);
    EXPECT_EQ(lostTwoFactor.msg(), msg);
    auto resetTwoFactor = s.post("/recover/2fa/reset", json({{"reset_token", std::string("x")}}));
    EXPECT_EQ(resetTwoFactor.status, 501);
    EXPECT_EQ(resetTwoFactor.msg(), msg);
}

} // namespace
