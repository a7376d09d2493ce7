// Two-factor authentication as vantage6 does it (§4, config `two_factor_auth: true`): after the
// password, a TOTP code (RFC 6238: HMAC-SHA1, 6 digits, 30-second steps, one step of slack either
// way, as pyotp's `verify(code, valid_window=1)`). A user without a secret gets one on their next
// good password, as an otpauth:// URI for an authenticator app, and no tokens yet.
#include "users.h"

#include <Poco/Base32Decoder.h>
#include <Poco/Base32Encoder.h>
#include <Poco/HMACEngine.h>
#include <Poco/RandomStream.h>
#include <Poco/SHA1Engine.h>
#include <Poco/String.h>
#include <Poco/Timestamp.h>
#include <Poco/URI.h>
#include <sstream>

namespace dq::plugins::users {

using sdk::RequestContext;
using sdk::Response;

namespace {

constexpr std::int64_t kStepSeconds = 30;
constexpr int kDigits = 6;
constexpr int kSecretBytes = 20; // 160 bits: 32 base32 characters, the length pyotp generates

/// Python's `urllib.parse.quote`, which pyotp uses for the label and the issuer.
std::string quote(const std::string& text) {
    std::string encoded;
    Poco::URI::encode(text, ":@?#&=+;", encoded);
    return encoded;
}

/// The secret's bytes; nullopt when it is not base32 (a secret damaged in the database).
std::optional<std::string> secretBytes(std::string secret) {
    secret = Poco::toUpper(secret);
    secret.append((8 - secret.size() % 8) % 8, '=');
    try {
        std::istringstream in(secret);
        Poco::Base32Decoder decoder(in);
        std::string bytes((std::istreambuf_iterator<char>(decoder)), std::istreambuf_iterator<char>());
        if (bytes.empty())
            return std::nullopt;
        return bytes;
    } catch (const Poco::Exception&) {
        return std::nullopt;
    }
}

std::string codeAt(const std::string& key, std::int64_t step) {
    unsigned char counter[8];
    for (int i = 7; i >= 0; --i, step >>= 8)
        counter[i] = static_cast<unsigned char>(step & 0xff);
    Poco::HMACEngine<Poco::SHA1Engine> hmac(key);
    hmac.update(counter, sizeof counter);
    const auto& digest = hmac.digest();
    int offset = digest.back() & 0x0f;
    std::uint32_t binary = (std::uint32_t(digest[offset] & 0x7f) << 24) |
                           (std::uint32_t(digest[offset + 1]) << 16) |
                           (std::uint32_t(digest[offset + 2]) << 8) | std::uint32_t(digest[offset + 3]);
    std::string code = std::to_string(binary % 1000000);
    return std::string(kDigits - code.size(), '0') + code;
}

/// Compares without stopping at the first difference, so timing says nothing about the code.
bool sameCode(const std::string& a, const std::string& b) {
    if (a.size() != b.size())
        return false;
    unsigned char difference = 0;
    for (std::size_t i = 0; i < a.size(); ++i)
        difference |= static_cast<unsigned char>(a[i] ^ b[i]);
    return difference == 0;
}

} // namespace

std::optional<std::string> otpCodeIn(sdk::JsonBody& body) {
    auto value = body.value("mfa_code");
    if (!value || value->isEmpty())
        return std::nullopt;
    if (value->isString() || (value->isInteger() && !value->isBoolean()))
        return Poco::trim(value->convert<std::string>());
    body.fail("mfa_code", "expected the 6-digit code as a string");
    return std::nullopt;
}

std::string newOtpSecret() {
    char bytes[kSecretBytes];
    Poco::RandomInputStream random;
    random.read(bytes, sizeof bytes);
    std::ostringstream out;
    {
        Poco::Base32Encoder encoder(out, false);
        encoder.write(bytes, sizeof bytes);
        encoder.close();
    }
    return out.str();
}

bool otpCodeMatches(const std::string& secret, const std::string& code, std::int64_t unixTime) {
    auto key = secretBytes(secret);
    if (!key || code.size() != kDigits)
        return false;
    bool matches = false;
    for (std::int64_t slack : {-1, 0, 1})
        matches |= sameCode(codeAt(*key, unixTime / kStepSeconds + slack), code);
    return matches;
}

Response otpSetupAnswer(RequestContext& ctx, const sdk::Record& user, const std::string& secret) {
    auto name = ctx.services().settings().server("name");
    std::string issuer = "vantage6 (" + (name.empty() ? std::string("dataquality-server") : name) + ")";
    Poco::JSON::Object::Ptr body = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    body->set("qr_uri", "otpauth://totp/" + quote(issuer) + ":" + quote(user.text("username")) +
                            "?secret=" + secret + "&issuer=" + quote(issuer));
    body->set("otp_secret", secret);
    body->set("msg", "Two-factor authentication is obligatory on this server. Please visualize the QR code "
                     "to set up authentication.");
    return Response::json(body);
}

std::optional<Response> secondFactor(RequestContext& ctx, const sdk::Record& user,
                                     const std::optional<std::string>& code) {
    auto& services = ctx.services();
    if (!services.settings().boolean(kTwoFactorAuth))
        return std::nullopt;
    auto secret = user.text("otp_secret");
    if (secret.empty()) {
        secret = newOtpSecret();
        sdk::Record changes;
        changes.set("otp_secret", secret);
        ctx.store().update("user", user.id, changes);
        services.log().information("users: user '%s' got a new two-factor secret", user.text("username"));
        return otpSetupAnswer(ctx, user, secret);
    }
    if (!code || code->empty())
        return Response::message("Please include your two-factor authentication code");
    if (!otpCodeMatches(secret, *code, Poco::Timestamp().epochTime())) {
        services.log().information("users: wrong two-factor code for user '%s'", user.text("username"));
        return Response::message("Your two-factor authentication code is incorrect!", 401);
    }
    return std::nullopt;
}

} // namespace dq::plugins::users
