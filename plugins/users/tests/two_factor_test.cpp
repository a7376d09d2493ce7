// Two-factor login (`two_factor_auth: true`): the secret handed out on the first good password, codes
// read by a real authenticator (pyotp, what vantage6 uses) from the otpauth:// URI, the time window,
// refusals, and that a server without the setting ignores `mfa_code`.
#include "tests/peers/peer_process.h"
#include "tests/support/test_server.h"

#include <Poco/Path.h>
#include <gtest/gtest.h>
#include <regex>

namespace {

using dq::test::HttpResult;
using dq::test::json;
using dq::test::TestServer;
using dq::test::peers::authenticator;

const std::string kSetupMessage = "Two-factor authentication is obligatory on this server. Please visualize "
                                  "the QR code to set up authentication.";

class TwoFactor : public dq::test::BothDatabases {
protected:
    TestServer& start() {
        TestServer::Options options;
        options.extraYaml = "  two_factor_auth: true\n";
        return server(options);
    }

    /// With 2FA on, root's own login would need a code too.
    std::string rootToken() { return dq::test::mintedRootToken(server()); }

    long long createUser(const std::string& name) {
        return dq::test::createUserWithEmail(server(), name, rootToken());
    }

    HttpResult login(const std::string& name, const Poco::Dynamic::Var& code = Poco::Dynamic::Var(),
                     const std::string& password = "Welkom01!") {
        auto body = json({{"username", name}, {"password", password}});
        if (!code.isEmpty())
            body->set("mfa_code", code);
        return server().post("/token/user", body);
    }

    /// The otpauth:// URI the first good login hands out.
    std::string enroll(const std::string& name) {
        auto first = login(name);
        EXPECT_EQ(first.status, 200) << first.body;
        return first.status == 200 ? first.object()->optValue<std::string>("qr_uri", "") : "";
    }

    std::string serverName() { return Poco::Path(server().configFile()).getBaseName(); }
};

TEST_P(TwoFactor, FirstGoodPasswordHandsOutASecretInsteadOfTokens) {
    auto& s = start();
    auto id = createUser("ada");

    auto first = login("ada");
    ASSERT_EQ(first.status, 200) << first.body;
    auto body = first.object();
    EXPECT_FALSE(body->has("access_token")) << first.body;
    EXPECT_EQ(first.msg(), kSetupMessage);
    auto secret = body->getValue<std::string>("otp_secret");
    EXPECT_TRUE(std::regex_match(secret, std::regex("[A-Z2-7]{32}"))) << secret;
    auto uri = body->getValue<std::string>("qr_uri");
    EXPECT_EQ(uri, "otpauth://totp/vantage6%20%28" + serverName() + "%29:ada?secret=" + secret +
                       "&issuer=vantage6%20%28" + serverName() + "%29");

    auto app = authenticator(uri);
    EXPECT_EQ(app.issuer, "vantage6 (" + serverName() + ")");
    EXPECT_EQ(app.name, "ada");
    auto withCode = login("ada", app.code);
    ASSERT_EQ(withCode.status, 200) << withCode.body;
    auto access = withCode.object()->getValue<std::string>("access_token");
    EXPECT_EQ(withCode.headers["jwt-token"], access);
    auto self = s.get("/user/" + std::to_string(id), access);
    EXPECT_EQ(self.status, 200) << self.body;
    EXPECT_FALSE(self.object()->has("otp_secret")) << self.body;
}

TEST_P(TwoFactor, EnrolledUserWithoutCodeIsAskedForItAndKeepsTheSecret) {
    start();
    createUser("bob");
    auto uri = enroll("bob");
    ASSERT_FALSE(uri.empty());

    auto again = login("bob");
    EXPECT_EQ(again.status, 200) << again.body;
    EXPECT_EQ(again.msg(), "Please include your two-factor authentication code");
    EXPECT_FALSE(again.object()->has("access_token"));
    EXPECT_FALSE(again.object()->has("otp_secret")) << "a second login must not replace the secret";
    EXPECT_EQ(login("bob", authenticator(uri).code).status, 200);
}

TEST_P(TwoFactor, AcceptsOneStepOfClockSkewAndNoMore) {
    start();
    createUser("cy");
    auto uri = enroll("cy");
    ASSERT_FALSE(uri.empty());

    EXPECT_EQ(login("cy", authenticator(uri, -30).code).status, 200);
    EXPECT_EQ(login("cy", authenticator(uri, 30).code).status, 200);
    for (int offset : {-120, 120}) {
        auto code = authenticator(uri, offset).code;
        // A far code can equal a near one by chance (1 in a million); then it rightly passes.
        bool nearCode = false;
        for (int near : {-30, 0, 30})
            nearCode |= authenticator(uri, near).code == code;
        if (nearCode)
            continue;
        auto stale = login("cy", code);
        EXPECT_EQ(stale.status, 401) << "offset " << offset << ": " << stale.body;
        EXPECT_EQ(stale.msg(), "Your two-factor authentication code is incorrect!");
    }
    auto wrong = login("cy", std::string("12345"));
    EXPECT_EQ(wrong.status, 401) << wrong.body;
    EXPECT_FALSE(wrong.object()->has("access_token"));
}

TEST_P(TwoFactor, CodeMayBeSentAsANumber) {
    start();
    createUser("dee");
    auto uri = enroll("dee");
    ASSERT_FALSE(uri.empty());
    // A number loses a leading zero (as in vantage6, which compares str(code)): take a code without.
    std::string code;
    for (int offset : {0, -30, 30})
        if (auto c = authenticator(uri, offset).code; c[0] != '0') {
            code = c;
            break;
        }
    ASSERT_FALSE(code.empty());
    auto r = login("dee", Poco::Dynamic::Var(std::stoll(code)));
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_TRUE(r.object()->has("access_token"));

    auto typed = login("dee", Poco::Dynamic::Var(true));
    EXPECT_EQ(typed.status, 400) << typed.body;
    EXPECT_NE(typed.body.find("mfa_code"), std::string::npos) << typed.body;
}

TEST_P(TwoFactor, WrongPasswordFailsBeforeTheSecondFactorAndHandsOutNothing) {
    start();
    createUser("eve");
    auto wrong = login("eve", Poco::Dynamic::Var(), "Wrong-Pass1!");
    EXPECT_EQ(wrong.status, 401);
    EXPECT_EQ(wrong.msg(), "Failed to login");
    EXPECT_FALSE(wrong.object()->has("otp_secret"));
    // The first good password still gets the setup answer: the wrong one created no secret.
    EXPECT_EQ(login("eve").msg(), kSetupMessage);
}

DQ_ON_BOTH_DATABASES(TwoFactor);

TEST(TwoFactorOff, IgnoresMfaCodeAndHandsOutTokens) {
    TestServer s;
    auto r = s.post("/token/user", json({{"username", std::string("root")},
                                         {"password", std::string("root")},
                                         {"mfa_code", std::string("123456")}}));
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_TRUE(r.object()->has("access_token"));
    EXPECT_FALSE(r.object()->has("otp_secret"));
}

TEST(TwoFactorSetting, MustBeTrueOrFalse) {
    TestServer::Options options;
    options.extraYaml = "  two_factor_auth: sometimes\n";
    try {
        TestServer s(options);
        FAIL() << "the server started with two_factor_auth: sometimes";
    } catch (const std::exception& e) {
        EXPECT_NE(std::string(e.what()).find("two_factor_auth"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("true or false"), std::string::npos) << e.what();
    }
}

} // namespace
