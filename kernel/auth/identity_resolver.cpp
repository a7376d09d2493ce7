// Identities and rules per account, read once and kept until something they were read from changes.
#include "kernel/auth/identity_resolver.h"

#include "kernel/db/schema.h"

#include <Poco/JSON/Object.h>
#include <Poco/UUIDGenerator.h>
#include <dq/sdk/http.h>
#include <dq/sdk/services.h>

namespace dq::kernel {

namespace {

/// Bookkeeping columns that requests and connections write all the time and that no identity is
/// made of: their updates leave the entries alone.
const std::set<std::string> kBookkeeping = {"last_seen", "status", "ip", "failed_login_attempts",
                                            "last_login_attempt"};

/// Keeps more than this many entries only until the next load (a bound on memory, not a policy).
constexpr std::size_t kMaxEntries = 100000;

} // namespace

IdentityResolver::IdentityResolver(Database& database, const Catalog& catalog,
                                   std::chrono::milliseconds staleness,
                                   std::function<void(const Poco::Dynamic::Var&)> announce)
    : database_(database), catalog_(catalog), staleness_(staleness), announce_(std::move(announce)),
      origin_(Poco::UUIDGenerator::defaultGenerator().createRandom().toString()) {
    // Who a user or node is, and which rules roles give: the users, nodes and roles plugins' models.
    // A container is valid while its task runs: the tasks plugin's task and result rows.
    const std::set<std::string> accounts = {"user", "node", "role", "rule"};
    const std::set<std::string> containers = {"task", "result", "role", "rule"};
    accountTables_ = accounts;
    containerTables_ = containers;
    for (const auto& model : catalog_.models())
        for (const auto& a : schema::associationsOf(model.decl)) {
            if (accounts.count(a.model) || accounts.count(a.target))
                accountTables_.insert(a.table);
            if (containers.count(a.model) || containers.count(a.target))
                containerTables_.insert(a.table);
        }
}

int IdentityResolver::affected(const std::set<std::string>& written) const {
    int kinds = 0;
    for (const auto& w : written) {
        auto dot = w.find('.');
        auto table = w.substr(0, dot);
        if (dot != std::string::npos && kBookkeeping.count(w.substr(dot + 1)))
            continue;
        if (accountTables_.count(table))
            kinds |= Accounts;
        if (containerTables_.count(table))
            kinds |= Containers;
    }
    return kinds;
}

void IdentityResolver::committing(const std::set<std::string>& written) {
    if (auto kinds = affected(written); kinds && announce_) {
        Poco::JSON::Object::Ptr payload = new Poco::JSON::Object;
        payload->set("kinds", kinds);
        payload->set("from", origin_);
        announce_(Poco::Dynamic::Var(payload));
    }
}

void IdentityResolver::heard(const Poco::Dynamic::Var& payload) {
    // Written by a process of this or an older version, or by hand: drop everything.
    int kinds = Accounts | Containers;
    if (payload.type() == typeid(Poco::JSON::Object::Ptr)) {
        auto object = payload.extract<Poco::JSON::Object::Ptr>();
        if (object->has("from") && object->get("from").toString() == origin_)
            return;
        if (auto k = sdk::integerValue(object->get("kinds"), {1, Accounts | Containers}))
            kinds = static_cast<int>(*k);
    }
    invalidate(kinds);
}

void IdentityResolver::committed(const std::set<std::string>& written) {
    if (auto kinds = affected(written))
        invalidate(kinds);
}

void IdentityResolver::invalidate(int kinds) {
    // Raising the generation voids every entry of the kind, also one being loaded right now from
    // rows read before this change committed.
    if (kinds & Accounts)
        ++accounts_;
    if (kinds & Containers)
        ++containers_;
}

std::atomic<std::uint64_t>& IdentityResolver::generation(sdk::ClientKind kind) {
    return kind == sdk::ClientKind::Container ? containers_ : accounts_;
}

IdentityResolver::Entry IdentityResolver::lookup(sdk::ClientKind kind, sdk::Id id) {
    const Key key{static_cast<int>(kind), id};
    if (staleness_.count() > 0) {
        std::lock_guard lock(mutex_);
        auto it = entries_.find(key);
        if (it != entries_.end() && it->second.generation == generation(kind).load() &&
            Clock::now() - it->second.loaded < staleness_)
            return it->second;
    }
    auto entry = load(kind, id);
    if (staleness_.count() > 0) {
        std::lock_guard lock(mutex_);
        if (entries_.size() >= kMaxEntries)
            entries_.clear();
        entries_[key] = entry;
    }
    return entry;
}

IdentityResolver::Entry IdentityResolver::load(sdk::ClientKind kind, sdk::Id id) {
    Entry entry;
    // Taken before reading: a change that commits while this reads raises it, and the entry is stale.
    entry.generation = generation(kind).load();
    entry.serial = ++loads_;
    entry.loaded = Clock::now();
    const char* serviceName = kind == sdk::ClientKind::User   ? sdk::kUserIdentityService
                              : kind == sdk::ClientKind::Node ? sdk::kNodeIdentityService
                                                              : sdk::kContainerIdentityService;
    auto provider = std::static_pointer_cast<sdk::IdentityProvider>(catalog_.service(serviceName));
    auto rules = std::static_pointer_cast<sdk::RuleSource>(catalog_.service(sdk::kRuleSourceService));
    auto held = std::make_shared<std::vector<sdk::RuleKey>>();
    database_.transaction(
        [&](sdk::Store& store) {
            if (provider)
                entry.identity = provider->resolve(store, id);
            if (entry.identity) {
                entry.identity->kind = kind;
                // Without a rule source (no roles plugin) nobody holds any rule: all is refused.
                if (rules)
                    *held = rules->rulesOf(store, *entry.identity);
            }
        },
        Database::Access::Read, Database::Wait::Bounded);
    entry.rules = std::move(held);
    return entry;
}

ResolvedIdentity IdentityResolver::resolve(const VerifiedToken& token) {
    const auto sub = token.claims ? token.claims->get("sub") : Poco::Dynamic::Var();
    if (token.clientType == "container") {
        if (sub.type() != typeid(Poco::JSON::Object::Ptr))
            throw sdk::Unauthorized("Invalid container token: its subject is not an identity object");
        auto s = sub.extract<Poco::JSON::Object::Ptr>();
        // Signed by us, but read as carefully as any input: a wrong type is a 401, never a 500.
        auto id = [&](const char* name) -> sdk::Id {
            auto value = s->has(name) ? sdk::integerValue(s->get(name), {0, sdk::kMaxId}) : sdk::Id(0);
            if (!value)
                throw sdk::Unauthorized(std::string("Invalid container token: '") + name + "' is not an id");
            return *value;
        };
        auto text = [&](const char* name) {
            auto value = s->has(name) ? s->get(name) : Poco::Dynamic::Var();
            return value.isString() ? value.extract<std::string>() : std::string();
        };
        ResolvedIdentity out;
        auto& who = out.identity;
        who.kind = sdk::ClientKind::Container;
        who.id = id("node_id");
        who.organizationId = id("organization_id");
        who.collaborationId = id("collaboration_id");
        who.taskId = id("task_id");
        who.image = text("image");
        who.database = text("database");
        who.name = "container of task " + std::to_string(*who.taskId);
        // A container works for one task: once that is deleted or finished, its token is void.
        auto entry = lookup(sdk::ClientKind::Container, *who.taskId);
        if (!entry.identity)
            throw sdk::Unauthorized("Container-token is not valid: its task (id=" +
                                    std::to_string(*who.taskId) + ") was deleted or has finished");
        out.rules = entry.rules;
        return out;
    }
    sdk::ClientKind kind;
    if (token.clientType == "user")
        kind = sdk::ClientKind::User;
    else if (token.clientType == "node")
        kind = sdk::ClientKind::Node;
    else
        throw sdk::Unprocessable("Invalid token: unknown client type '" + token.clientType + "'");
    auto subject = sdk::integerValue(sub, sdk::kIdRange);
    if (!subject)
        throw sdk::Unauthorized("Invalid token: its subject is not an id");
    auto entry = lookup(kind, *subject);
    if (!entry.identity)
        throw sdk::Unauthorized("Error loading the " + token.clientType + " " + std::to_string(*subject));
    // Issued before the password or api key changed, the account locked ...: log in again.
    if (entry.identity->credentialVersion != token.credentialVersion)
        throw sdk::Unauthorized("Token has been revoked: the credentials of this " + token.clientType +
                                " changed since it was issued; log in again");
    return {*entry.identity, entry.rules, entry.serial};
}

} // namespace dq::kernel
