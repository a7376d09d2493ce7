// JWT issue and verification. Poco's Token setters write iat/exp as floats, which vantage6 clients
// reject, so every time claim is set as an integer here.
#include "kernel/auth/token_service.h"

#include <Poco/Base64Decoder.h>
#include <Poco/Crypto/OpenSSLInitializer.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JWT/JWTException.h>
#include <Poco/JWT/Signer.h>
#include <Poco/JWT/Token.h>
#include <Poco/Random.h>
#include <Poco/Timestamp.h>
#include <Poco/UUIDGenerator.h>
#include <dq/sdk/http.h>
#include <cmath>
#include <mutex>
#include <optional>
#include <sstream>

namespace dq::kernel {

namespace {

Poco::Int64 nowSeconds() {
    return Poco::Timestamp().epochTime();
}

/// A time claim (`exp`, `nbf`) as whole seconds, if present. A correctly signed token may still
/// carry a string or a number beyond 64 bits there; that is an invalid token (401), not a 500.
std::optional<Poco::Int64> timeClaim(const Poco::JSON::Object::Ptr& claims, const std::string& name) {
    if (!claims->has(name))
        return std::nullopt;
    auto value = claims->get(name);
    if (auto seconds = sdk::integerValue(value))
        return seconds;
    // PyJWT accepts float times; so do we, within 64 bits.
    if (!value.isBoolean() && value.isNumeric() && !value.isInteger()) {
        double d = value.convert<double>();
        if (std::isfinite(d) && d > -9.2e18 && d < 9.2e18)
            return static_cast<Poco::Int64>(std::floor(d));
    }
    throw sdk::Unauthorized("Invalid token: its '" + name + "' claim is not a time in whole seconds");
}

/// A text claim, or "" when absent or not a string (null, a number, an object ...).
std::string textClaim(const Poco::JSON::Object::Ptr& claims, const std::string& name) {
    auto value = claims->has(name) ? claims->get(name) : Poco::Dynamic::Var();
    return value.isString() ? value.extract<std::string>() : std::string();
}

/// Every Poco digest (so every JWT signed or checked) takes a reference on Poco's OpenSSL
/// initializer and drops it when done. When the count reaches zero Poco frees its lock array, and
/// two threads crossing zero at once free it twice: the heap corruption crashed the server under
/// load. One reference held for the life of the process keeps the count above zero, and spares
/// each token a re-initialisation of OpenSSL (which reads /dev/urandom).
void holdOpenSslForTheProcess() {
    static std::once_flag once;
    std::call_once(once, [] { Poco::Crypto::OpenSSLInitializer::initialize(); });
}

} // namespace

std::string randomSecret() {
    return Poco::UUIDGenerator::defaultGenerator().createRandom().toString();
}

TokenService::TokenService(TokenSettings settings) : settings_(std::move(settings)) {
    holdOpenSslForTheProcess();
    if (settings_.secret.empty())
        settings_.secret = randomSecret();
}

Poco::JSON::Object::Ptr TokenService::baseClaims(const std::string& type, int lifetimeSeconds) const {
    Poco::JSON::Object::Ptr claims = new Poco::JSON::Object;
    auto now = nowSeconds();
    claims->set("fresh", false);
    claims->set("iat", now);
    claims->set("jti", Poco::UUIDGenerator::defaultGenerator().createRandom().toString());
    claims->set("type", type);
    claims->set("nbf", now);
    if (lifetimeSeconds > 0)
        claims->set("exp", now + lifetimeSeconds);
    return claims;
}

std::string TokenService::sign(const Poco::JSON::Object::Ptr& claims) const {
    Poco::JWT::Token token;
    token.setType("JWT");
    token.payload() = *claims;
    Poco::JWT::Signer signer(settings_.secret);
    return signer.sign(token, Poco::JWT::Signer::ALGO_HS256);
}

sdk::TokenPair TokenService::issue(sdk::ClientKind kind, sdk::Id id, const std::vector<std::string>& roles,
                                   std::int64_t credentialVersion) {
    Poco::JSON::Array::Ptr roleArray = new Poco::JSON::Array;
    for (const auto& r : roles)
        roleArray->add(r);
    auto make = [&](const std::string& type, int lifetime, bool fresh) {
        auto claims = baseClaims(type, lifetime);
        claims->set("fresh", fresh);
        claims->set("sub", static_cast<Poco::Int64>(id));
        claims->set("client_type", sdk::toString(kind));
        claims->set("roles", roleArray);
        claims->set("cv", static_cast<Poco::Int64>(credentialVersion));
        return sign(claims);
    };
    return {make("access", settings_.accessSeconds, true), make("refresh", settings_.refreshSeconds, false)};
}

std::string TokenService::issueContainer(const sdk::Identity& container) {
    Poco::JSON::Object::Ptr sub = new Poco::JSON::Object;
    sub->set("client_type", "container");
    sub->set("node_id", static_cast<Poco::Int64>(container.id));
    sub->set("organization_id", static_cast<Poco::Int64>(container.organizationId));
    sub->set("collaboration_id", static_cast<Poco::Int64>(container.collaborationId.value_or(0)));
    sub->set("task_id", static_cast<Poco::Int64>(container.taskId.value_or(0)));
    sub->set("image", container.image);
    sub->set("database", container.database);
    // Container tokens do not expire in vantage6: the node kills the container instead.
    auto claims = baseClaims("access", 0);
    claims->set("sub", sub);
    claims->set("client_type", "container");
    claims->set("roles", Poco::JSON::Array::Ptr(new Poco::JSON::Array));
    return sign(claims);
}

std::string TokenService::issuePurpose(const std::string& purpose, const Poco::JSON::Object::Ptr& extra,
                                       int lifetimeSeconds) {
    auto claims = baseClaims("purpose", lifetimeSeconds);
    claims->set("purpose", purpose);
    if (extra)
        for (const auto& [key, value] : *extra)
            claims->set(key, value);
    return sign(claims);
}

Poco::JSON::Object::Ptr TokenService::verifyPurpose(const std::string& purpose, const std::string& token) {
    Poco::JSON::Object::Ptr claims;
    try {
        claims = verifySignature(token);
    } catch (const sdk::Unprocessable& e) {
        throw sdk::BadRequest(std::string("Invalid token: ") + e.what());
    }
    if (textClaim(claims, "type") != "purpose" || textClaim(claims, "purpose") != purpose)
        throw sdk::BadRequest("Invalid token: it was not issued for " + purpose);
    return claims;
}

Poco::JSON::Object::Ptr TokenService::verifySignature(const std::string& text) const {
    Poco::JWT::Token token;
    try {
        Poco::JWT::Signer signer(settings_.secret);
        signer.addAllAlgorithms();
        token = signer.verify(text);
    } catch (const Poco::JWT::SignatureVerificationException&) {
        throw sdk::Unprocessable("Signature verification failed");
    } catch (const Poco::Exception& e) {
        throw sdk::Unprocessable("Invalid token: " + e.message());
    }
    Poco::JSON::Object::Ptr claims = new Poco::JSON::Object(token.payload());
    checkTimes(timeClaim(claims, "nbf"), timeClaim(claims, "exp"));
    return claims;
}

void TokenService::checkTimes(const std::optional<std::int64_t>& notBefore,
                              const std::optional<std::int64_t>& expires) {
    auto now = nowSeconds();
    if (expires && *expires <= now)
        throw sdk::Unauthorized("Token has expired");
    if (notBefore && *notBefore > now + 5)
        throw sdk::Unprocessable("The token is not yet valid (nbf)");
}

VerifiedToken TokenService::verify(const std::string& text) const {
    std::shared_ptr<const Verified> known;
    {
        std::lock_guard lock(verifiedMutex_);
        if (auto it = verified_.find(text); it != verified_.end())
            known = it->second;
    }
    if (known) {
        checkTimes(known->notBefore, known->expires);
        return known->token;
    }
    VerifiedToken out;
    out.claims = verifySignature(text);
    out.type = textClaim(out.claims, "type");
    out.clientType = textClaim(out.claims, "client_type");
    if (out.type.empty() || out.clientType.empty() || !out.claims->has("sub"))
        throw sdk::Unprocessable("Invalid token: missing claims");
    if (out.claims->has("cv")) {
        const auto cv = out.claims->get("cv");
        if (!cv.isInteger())
            throw sdk::Unauthorized("Invalid token: its credential version (cv) is not an integer");
        out.credentialVersion = cv.convert<Poco::Int64>();
    }
    auto kept = std::make_shared<const Verified>(
        Verified{out, timeClaim(out.claims, "nbf"), timeClaim(out.claims, "exp")});
    std::lock_guard lock(verifiedMutex_);
    // Bounded: when full, start over (tokens in use come back at their next request).
    if (verified_.size() >= kVerifiedKept)
        verified_.clear();
    verified_.emplace(text, std::move(kept));
    return out;
}

void TokenService::forgetVerified() const {
    std::lock_guard lock(verifiedMutex_);
    std::unordered_map<std::string, std::shared_ptr<const Verified>>().swap(verified_);
}

} // namespace dq::kernel
