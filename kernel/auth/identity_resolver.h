// Who a verified token stands for, and the rules they hold: the one step between token and request
// for the HTTP API and the event channel. Kept in memory per account (user, node, container's task)
// so that a request needs no database round trip for it; an entry is dropped when a transaction of
// this process writes what it was read from (at commit, before the writer goes on), when another
// process announces such a write (an outbox event), and at the latest after `staleness`.
#pragma once

#include "kernel/auth/token_service.h"
#include "kernel/catalog/catalog.h"
#include "kernel/db/database.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <dq/sdk/permission.h>
#include <Poco/Dynamic/Var.h>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace dq::kernel {

struct ResolvedIdentity {
    sdk::Identity identity;
    /// The rules the identity holds (never null).
    std::shared_ptr<const std::vector<sdk::RuleKey>> rules;
    /// Changes whenever identity and rules are read from the database again (never 0 for users
    /// and nodes; 0 for containers and the unauthenticated): what was computed for the same
    /// serial was computed for the same identity and rules.
    std::uint64_t serial = 0;
};

class IdentityResolver : public WriteWatcher {
public:
    /// The outbox event by which processes tell each other that identities changed: room and name;
    /// its payload is announcement().
    static constexpr const char* kRoom = "kernel.identity";
    static constexpr const char* kEvent = "identity-changed";
    enum Kinds : int { Accounts = 1, Containers = 2 };

    /// `staleness`: how long an entry may be used at most (0: nothing is kept). `announce(payload)`
    /// is called inside a transaction that changed identities, to tell the other processes (emit
    /// kEvent to kRoom with it); what they announce goes to heard().
    IdentityResolver(Database& database, const Catalog& catalog, std::chrono::milliseconds staleness,
                     std::function<void(const Poco::Dynamic::Var& payload)> announce);

    /// The identity of a verified token and its rules. Throws sdk::Unauthorized when its account
    /// or task is gone, its credential version is not the account's, or its subject is malformed;
    /// sdk::Unprocessable for an unknown client type. Reads the database (a bounded read
    /// transaction of its own) only when nothing fresh is kept: call it without a transaction open.
    ResolvedIdentity resolve(const VerifiedToken& token);

    /// An announcement of kEvent: drops what another resolver's change made stale. This resolver's
    /// own announcements are ignored, as it dropped those entries when the change committed.
    void heard(const Poco::Dynamic::Var& payload);

    // WriteWatcher
    void committing(const std::set<std::string>& written) override;
    void committed(const std::set<std::string>& written) override;

private:
    using Clock = std::chrono::steady_clock;
    struct Entry {
        std::optional<sdk::Identity> identity; ///< nullopt: the account or task is gone
        std::shared_ptr<const std::vector<sdk::RuleKey>> rules;
        std::uint64_t generation = 0;
        std::uint64_t serial = 0;
        Clock::time_point loaded;
    };
    /// (client kind, id): user or node id, task id for containers.
    using Key = std::pair<int, sdk::Id>;

    Entry lookup(sdk::ClientKind kind, sdk::Id id);
    Entry load(sdk::ClientKind kind, sdk::Id id);
    /// The kinds of entries that `written` may have changed.
    int affected(const std::set<std::string>& written) const;
    std::atomic<std::uint64_t>& generation(sdk::ClientKind kind);
    void invalidate(int kinds);

    Database& database_;
    const Catalog& catalog_;
    std::chrono::milliseconds staleness_;
    std::function<void(const Poco::Dynamic::Var&)> announce_;
    /// Tells this resolver's announcements from others'.
    std::string origin_;
    /// Tables whose rows make up each kind of entry (models and their association tables).
    std::set<std::string> accountTables_, containerTables_;
    std::atomic<std::uint64_t> accounts_{1}, containers_{1};
    std::atomic<std::uint64_t> loads_{0};
    std::mutex mutex_;
    std::map<Key, Entry> entries_;
};

} // namespace dq::kernel
