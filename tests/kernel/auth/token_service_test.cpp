// JWT round trip, expiry, integer times, purposes; bcrypt hashes.
#include "kernel/auth/password_hasher.h"
#include "kernel/auth/token_service.h"

#include <Poco/Thread.h>
#include <dq/sdk/http.h>
#include <gtest/gtest.h>

using dq::kernel::PasswordHasher;
using dq::kernel::TokenService;
using dq::sdk::ClientKind;

namespace {

TEST(TokenService, RoundTripKeepsSubjectKindAndRoles) {
    TokenService tokens({"secret", 3600, 7200});
    auto pair = tokens.issue(ClientKind::Node, 42, {});
    auto access = tokens.verify(pair.accessToken);
    EXPECT_EQ(access.type, "access");
    EXPECT_EQ(access.clientType, "node");
    EXPECT_EQ(access.claims->getValue<Poco::Int64>("sub"), 42);
    EXPECT_TRUE(access.claims->getValue<bool>("fresh"));
    auto refresh = tokens.verify(pair.refreshToken);
    EXPECT_EQ(refresh.type, "refresh");
    EXPECT_EQ(refresh.claims->getValue<Poco::Int64>("exp") - refresh.claims->getValue<Poco::Int64>("iat"),
              7200);
}

TEST(TokenService, TimesAreIntegersNotFloats) {
    TokenService tokens({"secret", 3600, 7200});
    auto claims = tokens.verify(tokens.issue(ClientKind::User, 1, {"Root"}).accessToken).claims;
    for (const char* claim : {"iat", "nbf", "exp"})
        EXPECT_TRUE(claims->get(claim).isInteger()) << claim;
}

TEST(TokenService, ExpiredTokenIsUnauthorized) {
    TokenService tokens({"secret", 1, 7200});
    auto token = tokens.issue(ClientKind::User, 1, {}).accessToken;
    Poco::Thread::sleep(2100);
    EXPECT_THROW(tokens.verify(token), dq::sdk::Unauthorized);
}

TEST(TokenService, ForeignSignatureAndGarbageAreUnprocessable) {
    TokenService ours({"ours", 3600, 7200});
    TokenService theirs({"theirs", 3600, 7200});
    EXPECT_THROW(ours.verify(theirs.issue(ClientKind::User, 1, {}).accessToken), dq::sdk::Unprocessable);
    EXPECT_THROW(ours.verify("garbage"), dq::sdk::Unprocessable);
}

TEST(TokenService, PurposeTokensAreOnlyValidForTheirPurpose) {
    TokenService tokens({"secret", 3600, 7200});
    Poco::JSON::Object::Ptr claims = new Poco::JSON::Object;
    claims->set("user_id", 5);
    auto token = tokens.issuePurpose("password-reset", claims, 60);
    EXPECT_EQ(tokens.verifyPurpose("password-reset", token)->getValue<int>("user_id"), 5);
    EXPECT_THROW(tokens.verifyPurpose("2fa-reset", token), dq::sdk::BadRequest);
    EXPECT_THROW(tokens.verifyPurpose("password-reset", tokens.issue(ClientKind::User, 1, {}).accessToken),
                 dq::sdk::BadRequest);
}

TEST(PasswordHasher, WritesBcrypt2bAndVerifies) {
    PasswordHasher hasher(4);
    auto hash = hasher.hash("Welkom01!");
    EXPECT_EQ(hash.rfind("$2b$04$", 0), 0u) << hash;
    EXPECT_TRUE(hasher.verify("Welkom01!", hash));
    EXPECT_FALSE(hasher.verify("welkom01!", hash));
    EXPECT_FALSE(hasher.verify("Welkom01!", "not-a-hash"));
    EXPECT_NE(hasher.hash("Welkom01!"), hash) << "salted";
}

TEST(PasswordHasher, VerifiesHashesWrittenByPythonBcrypt) {
    PasswordHasher hasher;
    // bcrypt.hashpw(b"root", bcrypt.gensalt(4)), made with Debian's python3-bcrypt.
    const std::string fromPython = "$2b$04$VVHEbPMl5hqsZqtyhw0LE.gsdx5pwXEtLM2w1xjFWUzYsiJF7Kfba";
    EXPECT_TRUE(hasher.verify("root", fromPython));
    EXPECT_FALSE(hasher.verify("Root", fromPython));
}

} // namespace
