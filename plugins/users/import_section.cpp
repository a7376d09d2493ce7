// The `users:` list of each organization in `vserver import`: accounts found again by username,
// given the Root role as vantage6's import does. Passwords are hashed (or checked against the
// stored hash) before the write transaction opens: bcrypt takes a quarter second per password, and
// a write transaction held that long would lock the running server out of the database.
#include "users.h"

#include <algorithm>
#include <map>

namespace dq::plugins::users {

namespace {

class UsersSection : public sdk::ImportSection {
public:
    void check(const sdk::ImportValue& value, const sdk::ImportParent&, sdk::ImportCheck& check) override {
        if (!check.isList(value, "users"))
            return;
        for (const auto* entry : check.mappings(value, "username and password")) {
            auto username = check.text(*entry, "username", true);
            auto password = check.text(*entry, "password", true);
            for (const auto* field : {"firstname", "lastname", "email"})
                check.text(*entry, field, false);
            if (username) {
                check.unique(*entry->find("username"), *username, usernames_);
                if (password)
                    secrets_.push_back({*username, *password});
            }
        }
    }

    void prepare(sdk::ImportContext& context) override {
        std::map<std::string, std::string> stored;
        context.read([&](sdk::Store& store) {
            for (const auto& row : store.query("SELECT username, password FROM \"user\"").rows)
                if (!row[0].isEmpty() && !row[1].isEmpty())
                    stored[row[0].convert<std::string>()] = row[1].convert<std::string>();
        });
        for (auto& s : secrets_)
            if (auto it = stored.find(s.username); it != stored.end())
                s.stored = it->second;
        context.verifyOrHash<Secret>(secrets_, [&](Secret& s) { s.hash = context.passwords().hash(s.clear); });
        for (auto& s : secrets_)
            byUsername_[s.username] = &s;
    }

    void apply(const sdk::ImportValue& value, const sdk::ImportParent& parent, sdk::Store& store,
               sdk::ImportContext& context) override {
        std::string domain;
        if (const auto* d = parent.entry->find("domain"))
            domain = d->text;
        auto root = rootRole(store);
        for (const auto& entry : value.items) {
            auto text = [&](const char* key) {
                const auto* v = entry.find(key);
                return v ? v->text : std::string();
            };
            auto username = text("username");
            auto email = text("email");
            if (email.empty())
                email = username.find('@') != std::string::npos
                            ? username
                            : username + "@" + (domain.empty() ? "example.org" : domain);
            sdk::Record wanted;
            wanted.set("username", username)
                .set("firstname", text("firstname"))
                .set("lastname", text("lastname"))
                .set("email", email)
                .set("organization_id", parent.id);
            auto& secret = *byUsername_.at(username);
            auto existing = findByUsername(store, username);
            sdk::Id id;
            if (!existing) {
                wanted.set("password", hashOf(secret, context));
                id = store.insert("user", wanted);
                context.count("users", sdk::ImportOutcome::Created);
            } else {
                id = existing->id;
                sdk::Record changes;
                for (const auto& [k, v] : wanted.values)
                    if (existing->get(k).toString() != v.toString())
                        changes.set(k, v);
                bool newPassword = !secret.same || existing->text("password") != secret.stored;
                if (!changes.values.empty())
                    store.update("user", id, changes);
                if (newPassword) // ends the account's sessions, as a new password through the API does
                    endSessions(store, id, hashOf(secret, context));
                context.count("users", changes.values.empty() && !newPassword ? sdk::ImportOutcome::Unchanged
                                                                              : sdk::ImportOutcome::Updated);
            }
            if (root) {
                auto roles = store.associated("user", id, "roles");
                if (std::find(roles.begin(), roles.end(), *root) == roles.end()) {
                    roles.push_back(*root);
                    store.setAssociated("user", id, "roles", roles);
                }
            }
            context.imported(entry, id);
        }
    }

private:
    struct Secret {
        std::string username, clear;
        std::string stored; ///< the hash stored before the import
        bool same = false;  ///< `stored` is the hash of `clear`
        std::string hash;   ///< a new hash of `clear` otherwise
    };

    /// The hash to store; hashed now only when the stored one changed since prepare() (another import).
    static std::string hashOf(Secret& secret, sdk::ImportContext& context) {
        if (secret.hash.empty())
            secret.hash = context.passwords().hash(secret.clear);
        return secret.hash;
    }

    std::vector<std::string> usernames_;
    std::vector<Secret> secrets_;
    std::map<std::string, Secret*> byUsername_;
};

} // namespace

void declareImportSection(sdk::Registry& registry) {
    registry.importSection({"users", "organizations", {"username", "firstname", "lastname", "password", "email"},
                            "users of the organization, by username (password stored hashed; each gets "
                            "the Root role, as in vantage6)",
                            [] { return std::make_shared<UsersSection>(); }});
}

} // namespace dq::plugins::users
