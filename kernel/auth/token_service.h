// JWTs (HS256, Poco JWT) for users, nodes and containers, with vantage6's claims and lifetimes.
#pragma once

#include <Poco/JSON/Object.h>
#include <dq/sdk/services.h>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace dq::kernel {

struct TokenSettings {
    std::string secret; ///< jwt_secret_key; random per start when not configured
    int accessSeconds = 6 * 3600;
    int refreshSeconds = 48 * 3600;
};

/// What a verified token says: its kind, subject and type.
struct VerifiedToken {
    Poco::JSON::Object::Ptr claims;
    std::string type;       ///< "access" or "refresh"
    std::string clientType; ///< "user", "node" or "container"
    /// Claim `cv`: the account's credential version when the token was issued (0 when absent).
    std::int64_t credentialVersion = 0;
};

class TokenService : public sdk::Tokens {
public:
    explicit TokenService(TokenSettings settings);

    sdk::TokenPair issue(sdk::ClientKind kind, sdk::Id id, const std::vector<std::string>& roles,
                         std::int64_t credentialVersion) override;
    std::string issueContainer(const sdk::Identity& container) override;
    std::string issuePurpose(const std::string& purpose, const Poco::JSON::Object::Ptr& claims,
                             int lifetimeSeconds) override;
    Poco::JSON::Object::Ptr verifyPurpose(const std::string& purpose, const std::string& token) override;

    /// Checks signature, `nbf` and `exp`. Throws sdk::Unauthorized("Token has expired") when expired
    /// and sdk::Unprocessable with the reason when malformed or badly signed (as vantage6 does).
    /// A token verified before is recognised by its text: only `nbf` and `exp` are checked again.
    VerifiedToken verify(const std::string& token) const;
    /// Forgets the tokens verified so far (the server is idle: give the memory back).
    void forgetVerified() const;

private:
    /// What a verified token's text stands for. The same text always verifies the same way (the
    /// secret never changes while the server runs), so only its times need checking again.
    struct Verified {
        VerifiedToken token;
        std::optional<std::int64_t> notBefore, expires;
    };
    /// Tokens are used again and again (a client sends its token with every request); parsing and
    /// checking one is a tenth of a list request's time. About 2 kB each: a thousand is plenty for
    /// the clients of one busy moment, and 10,000 would weigh on an idle server's memory.
    static constexpr std::size_t kVerifiedKept = 1024;
    mutable std::mutex verifiedMutex_;
    mutable std::unordered_map<std::string, std::shared_ptr<const Verified>> verified_;
    /// Throws as verify() does when the token is not (or no longer) valid at this moment.
    static void checkTimes(const std::optional<std::int64_t>& notBefore, const std::optional<std::int64_t>& expires);

    /// Signature, `nbf` and `exp` only.
    Poco::JSON::Object::Ptr verifySignature(const std::string& token) const;
    std::string sign(const Poco::JSON::Object::Ptr& claims) const;
    Poco::JSON::Object::Ptr baseClaims(const std::string& type, int lifetimeSeconds) const;
    TokenSettings settings_;
};

/// A random secret for when the config has no jwt_secret_key.
std::string randomSecret();

} // namespace dq::kernel
