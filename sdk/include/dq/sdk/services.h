// What a plugin can use at run time: the kernel's services (tokens, passwords, events, settings,
// database) and the interfaces through which plugins provide capabilities to each other.
#pragma once

#include "dq/sdk/permission.h"
#include "dq/sdk/store.h"

#include <Poco/JSON/Object.h>
#include <Poco/Logger.h>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace dq::sdk {

/// Base of everything a plugin provides to others. Looked up by name; the name promises the type.
class Service {
public:
    virtual ~Service();
};

// ---- Interfaces that plugins implement and the kernel (or other plugins) consume ----

/// Resolves a token's subject to a live identity, or nullopt when it no longer exists (the
/// kernel then answers 401). Provided by users ("identity.user") and nodes ("identity.node"), with
/// the account's credentialVersion; and for containers ("identity.container", by task id) by the
/// plugin that owns tasks: nullopt once the task is deleted or finished.
class IdentityProvider : public Service {
public:
    virtual std::optional<Identity> resolve(Store& store, Id id) = 0;
    /// Called once per authenticated request (vantage6 keeps `last_seen`).
    virtual void touch(Store& store, Id id) { (void)store, (void)id; }
};
inline constexpr const char* kUserIdentityService = "identity.user";
inline constexpr const char* kNodeIdentityService = "identity.node";
inline constexpr const char* kContainerIdentityService = "identity.container";

/// Answers which rules an identity holds. Provided by the roles plugin ("rules").
class RuleSource : public Service {
public:
    virtual std::vector<RuleKey> rulesOf(Store& store, const Identity& who) = 0;
};
inline constexpr const char* kRuleSourceService = "rules";

/// Collaboration membership, for the COLLABORATION scope. Provided by collaborations ("membership");
/// without it that scope grants nothing beyond the caller's own organization.
class Membership : public Service {
public:
    virtual std::vector<Id> collaborationsOf(Store& store, Id organizationId) = 0;
    virtual std::vector<Id> organizationsOf(Store& store, Id collaborationId) = 0;
};
inline constexpr const char* kMembershipService = "membership";

/// Sends mail in the background. Provided by the smtp plugin ("mailer").
class Mailer : public Service {
public:
    virtual void send(const std::string& to, const std::string& subject, const std::string& textBody) = 0;
    /// The address users are told to contact.
    virtual std::string supportAddress() const = 0;
};
inline constexpr const char* kMailerService = "mailer";

// ---- Kernel services ----

/// Issued tokens: the same body shape the login endpoints return.
struct TokenPair {
    std::string accessToken;
    std::string refreshToken;
};

class Tokens {
public:
    virtual ~Tokens() = default;
    /// Access + refresh token for a user or node (claims sub, type, client_type, roles, iat, nbf,
    /// exp, jti, fresh; integer times; lifetimes from the config), under the account's current
    /// `credentialVersion` (claim cv; see Identity).
    virtual TokenPair issue(ClientKind kind, Id id, const std::vector<std::string>& roles,
                            std::int64_t credentialVersion) = 0;
    /// A container token (no expiry): sub is the identity object of vantage6.
    virtual std::string issueContainer(const Identity& container) = 0;
    /// A short-lived signed token for one purpose (e.g. "password-reset") with its own claims.
    virtual std::string issuePurpose(const std::string& purpose, const Poco::JSON::Object::Ptr& claims,
                                     int lifetimeSeconds) = 0;
    /// The claims of a purpose token; throws Unauthorized when expired, BadRequest when invalid or
    /// issued for another purpose.
    virtual Poco::JSON::Object::Ptr verifyPurpose(const std::string& purpose, const std::string& token) = 0;
};

class Passwords {
public:
    virtual ~Passwords() = default;
    /// bcrypt `$2b$` hash.
    virtual std::string hash(const std::string& clear) = 0;
    virtual bool verify(const std::string& clear, const std::string& hash) = 0;
};

/// Domain events. The event channel delivers them to connected nodes and users; in-process
/// subscribers (other plugins, tests) receive them synchronously after the emitting request commits.
class Events {
public:
    virtual ~Events() = default;
    virtual void emit(const std::string& room, const std::string& event,
                      const Poco::Dynamic::Var& payload) = 0;
    using Handler = std::function<void(const std::string& room, const std::string& event,
                                       const Poco::Dynamic::Var& payload)>;
    /// Returns a subscription id.
    virtual int subscribe(Handler handler) = 0;
    virtual void unsubscribe(int id) = 0;
};

/// The plugin's settings, validated against its SettingDecls; keys as declared.
class Settings {
public:
    virtual ~Settings() = default;
    virtual bool has(const std::string& key) const = 0;
    virtual std::string text(const std::string& key) const = 0;
    virtual std::int64_t integer(const std::string& key) const = 0;
    virtual bool boolean(const std::string& key) const = 0;
    virtual std::vector<std::string> list(const std::string& key) const = 0;
    /// Server-wide settings, read-only: type, api_path, ip, port, description, environment, name (the
    /// configuration's name: its file name without extension), or any scalar of the config by path.
    virtual std::string server(const std::string& key) const = 0;
};

/// Handed to Plugin::start(): everything a plugin may use while it runs.
class Services {
public:
    virtual ~Services() = default;
    virtual Tokens& tokens() = 0;
    virtual Passwords& passwords() = 0;
    virtual Events& events() = 0;
    virtual const Settings& settings() = 0;
    /// A logger named after the plugin.
    virtual Poco::Logger& log() = 0;
    /// Runs `work` in a transaction: committed when it returns, rolled back when it throws. A thread
    /// holds one database session at a time: inside a request handler whose transaction is open this
    /// is refused (std::logic_error); use ctx.store(), or ctx.commit() first.
    virtual void transaction(const std::function<void(Store&)>& work) = 0;
    /// A service another plugin provides, or nullptr.
    virtual std::shared_ptr<Service> find(const std::string& name) = 0;
    /// Every rule every loaded plugin declared (the roles plugin stores them).
    virtual std::vector<RuleDecl> declaredRules() const = 0;

    template <typename T> std::shared_ptr<T> find(const std::string& name) {
        return std::static_pointer_cast<T>(find(name));
    }
};

} // namespace dq::sdk
