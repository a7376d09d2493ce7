// `vserver import FILE`: organizations with users, collaborations with their nodes and tasks, from
// YAML, in one transaction (short: secrets are hashed before it opens). The whole file is checked
// before anything is written; re-importing
// updates or skips what exists (by name / username / organization+collaboration).
#include "commands.h"
#include "kernel/app/kernel.h"

#include <Poco/File.h>
#include <Poco/Logger.h>
#include <Poco/Path.h>
#include <algorithm>
#include <iomanip>
#include <map>
#include <mutex>
#include <ostream>
#include <regex>
#include <set>
#include <thread>
#include <yaml-cpp/yaml.h>

namespace dq::cli {

namespace {

struct ImportUser {
    std::string username, firstname, lastname, password, email;
};
struct ImportOrganization {
    std::map<std::string, std::string> fields;
    std::vector<ImportUser> users;
};
struct ImportParticipant {
    std::string organization, apiKey;
};
struct ImportCollaboration {
    std::string name;
    bool encrypted = true;
    std::vector<ImportParticipant> participants;
    std::vector<std::string> images;
};
struct ImportFile {
    std::vector<ImportOrganization> organizations;
    std::vector<ImportCollaboration> collaborations;
};

const std::vector<std::string> kOrganizationFields{"name",    "domain",  "address1",  "address2",
                                                   "zipcode", "country", "public_key"};

/// Collects every problem of the file, each as `<file>: <path>: <what>`.
class FileCheck {
public:
    explicit FileCheck(std::string file) : file_(std::move(file)) {}

    std::string text(const YAML::Node& parent, const std::string& key, const std::string& path,
                     bool required) {
        auto node = parent[key];
        if (!node || node.IsNull()) {
            if (required)
                fail(path + "." + key, "required");
            return "";
        }
        if (!node.IsScalar()) {
            fail(path + "." + key, "expected text");
            return "";
        }
        return node.as<std::string>();
    }
    void unknownKeys(const YAML::Node& map, const std::vector<std::string>& known, const std::string& path) {
        for (const auto& entry : map) {
            auto key = entry.first.as<std::string>();
            if (std::find(known.begin(), known.end(), key) == known.end())
                fail(path + "." + key, "unknown key (expected one of: " + join(known) + ")");
        }
    }
    void fail(const std::string& path, const std::string& what) {
        problems_.push_back(file_ + ": " + path + ": " + what);
    }
    const std::vector<std::string>& problems() const { return problems_; }

private:
    static std::string join(const std::vector<std::string>& items) {
        std::string out;
        for (const auto& i : items)
            out += (out.empty() ? "" : ", ") + i;
        return out;
    }
    std::string file_;
    std::vector<std::string> problems_;
};

ImportFile readFile(const std::string& path) {
    std::string name = Poco::Path(path).getFileName();
    YAML::Node root;
    try {
        root = YAML::LoadFile(path);
    } catch (const YAML::BadFile&) {
        throw std::runtime_error(path + ": cannot read the file");
    } catch (const YAML::ParserException& e) {
        throw std::runtime_error(name + ":" + std::to_string(e.mark.line + 1) + ":" +
                                 std::to_string(e.mark.column + 1) + ": invalid YAML: " + e.msg);
    }
    if (!root.IsMap())
        throw std::runtime_error(name + ": expected a mapping with `organizations:` and `collaborations:`");
    FileCheck check(name);
    check.unknownKeys(root, {"organizations", "collaborations"}, "(top)");
    ImportFile file;
    std::set<std::string> organizationNames, usernames, collaborationNames;
    if (auto orgs = root["organizations"]; orgs && !orgs.IsSequence()) {
        check.fail("organizations", "expected a list");
    } else if (orgs) {
        for (std::size_t i = 0; i < orgs.size(); ++i) {
            std::string at = "organizations[" + std::to_string(i) + "]";
            const auto& o = orgs[i];
            if (!o.IsMap()) {
                check.fail(at, "expected a mapping");
                continue;
            }
            auto known = kOrganizationFields;
            known.push_back("users");
            check.unknownKeys(o, known, at);
            ImportOrganization org;
            for (const auto& field : kOrganizationFields)
                org.fields[field] = check.text(o, field, at, field == "name");
            if (!org.fields["name"].empty() && !organizationNames.insert(org.fields["name"]).second)
                check.fail(at + ".name", "'" + org.fields["name"] + "' appears twice in the file");
            if (auto users = o["users"]; users && !users.IsSequence()) {
                check.fail(at + ".users", "expected a list");
            } else if (users) {
                for (std::size_t j = 0; j < users.size(); ++j) {
                    std::string uat = at + ".users[" + std::to_string(j) + "]";
                    const auto& u = users[j];
                    if (!u.IsMap()) {
                        check.fail(uat, "expected a mapping");
                        continue;
                    }
                    check.unknownKeys(u, {"username", "firstname", "lastname", "password", "email"}, uat);
                    ImportUser user{check.text(u, "username", uat, true),
                                    check.text(u, "firstname", uat, false),
                                    check.text(u, "lastname", uat, false),
                                    check.text(u, "password", uat, true), check.text(u, "email", uat, false)};
                    if (!user.username.empty() && !usernames.insert(user.username).second)
                        check.fail(uat + ".username", "'" + user.username + "' appears twice in the file");
                    org.users.push_back(user);
                }
            }
            file.organizations.push_back(org);
        }
    }
    static const std::regex uuid(
        "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$");
    if (auto collabs = root["collaborations"]; collabs && !collabs.IsSequence()) {
        check.fail("collaborations", "expected a list");
    } else if (collabs) {
        for (std::size_t i = 0; i < collabs.size(); ++i) {
            std::string at = "collaborations[" + std::to_string(i) + "]";
            const auto& c = collabs[i];
            if (!c.IsMap()) {
                check.fail(at, "expected a mapping");
                continue;
            }
            check.unknownKeys(c, {"name", "encrypted", "participants", "tasks"}, at);
            ImportCollaboration collab;
            collab.name = check.text(c, "name", at, true);
            if (!collab.name.empty() && !collaborationNames.insert(collab.name).second)
                check.fail(at + ".name", "'" + collab.name + "' appears twice in the file");
            if (auto e = c["encrypted"]; e && !e.IsNull()) {
                try {
                    collab.encrypted = e.as<bool>();
                } catch (const YAML::Exception&) {
                    check.fail(at + ".encrypted",
                               "expected true or false, got \"" + e.as<std::string>() + "\"");
                }
            }
            if (auto ps = c["participants"]; ps && ps.IsSequence()) {
                for (std::size_t j = 0; j < ps.size(); ++j) {
                    std::string pat = at + ".participants[" + std::to_string(j) + "]";
                    if (!ps[j].IsMap()) {
                        check.fail(pat, "expected a mapping with name and api_key");
                        continue;
                    }
                    check.unknownKeys(ps[j], {"name", "api_key"}, pat);
                    ImportParticipant p{check.text(ps[j], "name", pat, true),
                                        check.text(ps[j], "api_key", pat, true)};
                    if (!p.apiKey.empty() && !std::regex_match(p.apiKey, uuid))
                        check.fail(pat + ".api_key",
                                   "expected a UUID such as 0d2b5f2e-1c1a-4c7e-9d1a-aa0000000001");
                    collab.participants.push_back(p);
                }
            } else if (c["participants"] && !c["participants"].IsNull()) {
                check.fail(at + ".participants", "expected a list");
            }
            if (auto ts = c["tasks"]; ts && ts.IsSequence()) {
                for (std::size_t j = 0; j < ts.size(); ++j) {
                    if (!ts[j].IsScalar())
                        check.fail(at + ".tasks[" + std::to_string(j) + "]", "expected an image name");
                    else
                        collab.images.push_back(ts[j].as<std::string>());
                }
            } else if (c["tasks"] && !c["tasks"].IsNull()) {
                check.fail(at + ".tasks", "expected a list of image names");
            }
            file.collaborations.push_back(collab);
        }
    }
    if (!check.problems().empty()) {
        std::string all;
        for (const auto& p : check.problems())
            all += (all.empty() ? "" : "\n") + p;
        throw std::runtime_error(all);
    }
    return file;
}

struct Counts {
    int created = 0, updated = 0, unchanged = 0;
};

/// The file's passwords and api keys, hashed before the write transaction opens: bcrypt takes a
/// quarter second per secret, and a write transaction held for minutes would lock the running
/// server out of the database. Also remembers which stored hashes already match the file.
class PreparedSecrets {
public:
    static std::string userKey(const std::string& username) { return "user:" + username; }
    static std::string nodeKey(const std::string& organization, const std::string& collaboration) {
        return "node:" + organization + "\n" + collaboration;
    }

    void prepare(kernel::Kernel& kernel, const ImportFile& file) {
        struct Item {
            std::string key, model, field, clear, stored;
        };
        std::vector<Item> items;
        for (const auto& org : file.organizations)
            for (const auto& user : org.users)
                items.push_back({userKey(user.username), "user", "password", user.password, ""});
        for (const auto& collab : file.collaborations)
            for (const auto& p : collab.participants)
                items.push_back({nodeKey(p.organization, collab.name), "node", "api_key", p.apiKey, ""});
        // What is stored now, in a short read transaction.
        std::map<std::string, std::string> stored;
        kernel.database().transaction(
            [&](sdk::Store& store) {
                for (const auto& row : store.query("SELECT username, password FROM \"user\"").rows)
                    if (!row[0].isEmpty() && !row[1].isEmpty())
                        stored[userKey(row[0].convert<std::string>())] = row[1].convert<std::string>();
                for (const auto& row :
                     store
                         .query("SELECT o.name, c.name, n.api_key FROM node n JOIN organization o ON "
                                "n.organization_id = o.id JOIN collaboration c ON n.collaboration_id = c.id")
                         .rows)
                    if (!row[0].isEmpty() && !row[1].isEmpty() && !row[2].isEmpty())
                        stored[nodeKey(row[0].convert<std::string>(), row[1].convert<std::string>())] =
                            row[2].convert<std::string>();
            },
            kernel::Database::Access::Read);
        for (auto& item : items)
            if (auto it = stored.find(item.key); it != stored.end())
                item.stored = it->second;
        // Hash (or check) on every hashing thread at once; no database session is held meanwhile.
        auto& passwords = kernel.servicesOf("kernel").passwords();
        std::mutex lock;
        std::size_t next = 0;
        std::exception_ptr failure;
        auto work = [&] {
            for (;;) {
                std::size_t i;
                {
                    std::lock_guard guard(lock);
                    if (next >= items.size() || failure)
                        return;
                    i = next++;
                }
                const auto& item = items[i];
                try {
                    bool same = !item.stored.empty() && passwords.verify(item.clear, item.stored);
                    sdk::Record columns;
                    if (!same)
                        writeSecret(kernel, item.model, item.field, columns, item.clear);
                    std::lock_guard guard(lock);
                    if (same)
                        matching_[item.key] = item.stored;
                    else
                        columns_[item.key] = std::move(columns);
                } catch (...) {
                    std::lock_guard guard(lock);
                    failure = std::current_exception();
                }
            }
        };
        std::vector<std::thread> workers;
        unsigned count = std::max(2u, std::thread::hardware_concurrency());
        for (unsigned i = 0; i < count; ++i)
            workers.emplace_back(work);
        for (auto& w : workers)
            w.join();
        if (failure)
            std::rethrow_exception(failure);
    }

    /// Whether `storedHash` is the hash that was found to match the file's secret for `key`.
    bool matches(const std::string& key, const std::string& storedHash) const {
        auto it = matching_.find(key);
        return it != matching_.end() && it->second == storedHash;
    }

    /// Sets the columns that store the file's secret for `key` (hashed in prepare(); hashed now only
    /// when the database changed since, e.g. by a concurrent import).
    void write(kernel::Kernel& kernel, const std::string& key, const std::string& model,
               const std::string& field, sdk::Record& record, const std::string& clear) const {
        auto it = columns_.find(key);
        if (it == columns_.end()) {
            writeSecret(kernel, model, field, record, clear);
            return;
        }
        for (const auto& [column, value] : it->second.values)
            record.set(column, value);
    }

private:
    /// Stores clear text through the field's writer (hashing), as the owning plugin does.
    static void writeSecret(kernel::Kernel& kernel, const std::string& model, const std::string& field,
                            sdk::Record& record, const std::string& clear) {
        const auto* decl = kernel.catalog().model(model);
        const auto* f = decl ? decl->findField(field) : nullptr;
        if (!f || !f->writer)
            throw std::runtime_error("the " + model + " model declares no writer for '" + field +
                                     "'; refusing to store it in clear text");
        f->writer(record, clear);
    }

    std::map<std::string, std::string> matching_;
    std::map<std::string, sdk::Record> columns_;
};

class Importer {
public:
    Importer(kernel::Kernel& kernel, sdk::Store& store, const PreparedSecrets& secrets)
        : kernel_(kernel), store_(store), secrets_(secrets) {}

    void run(const ImportFile& file) {
        for (const auto& org : file.organizations)
            importOrganization(org);
        for (const auto& collab : file.collaborations)
            importCollaboration(collab);
    }

    void report(std::ostream& out) const {
        for (const auto& [what, c] : counts_)
            out << "  " << std::left << std::setw(15) << what << c.created << " created, " << c.updated
                << " updated, " << c.unchanged << " unchanged\n";
    }

private:
    std::optional<sdk::Record> findBy(const std::string& model,
                                      const std::vector<sdk::Condition>& conditions) {
        sdk::Query q;
        q.where = conditions;
        auto rows = store_.select(model, q);
        if (rows.empty())
            return std::nullopt;
        return rows.front();
    }

    sdk::Id importOrganization(const ImportOrganization& org) {
        auto& counts = counts_["organizations"];
        auto existing = findBy("organization", {sdk::Condition::equal("name", org.fields.at("name"))});
        sdk::Record wanted;
        for (const auto& [k, v] : org.fields)
            wanted.set(k, v);
        sdk::Id id;
        if (!existing) {
            id = store_.insert("organization", wanted);
            ++counts.created;
        } else {
            id = existing->id;
            sdk::Record changes;
            for (const auto& [k, v] : org.fields)
                if (existing->text(k) != v)
                    changes.set(k, v);
            if (changes.values.empty()) {
                ++counts.unchanged;
            } else {
                store_.update("organization", id, changes);
                ++counts.updated;
            }
        }
        organizations_[org.fields.at("name")] = id;
        for (const auto& user : org.users)
            importUser(user, id, org.fields.at("domain"));
        return id;
    }

    void importUser(const ImportUser& user, sdk::Id organization, const std::string& domain) {
        auto& counts = counts_["users"];
        std::string email = user.email;
        if (email.empty())
            email = user.username.find('@') != std::string::npos
                        ? user.username
                        : user.username + "@" + (domain.empty() ? "example.org" : domain);
        auto existing = findBy("user", {sdk::Condition::equal("username", user.username)});
        sdk::Record wanted;
        wanted.set("username", user.username)
            .set("firstname", user.firstname)
            .set("lastname", user.lastname)
            .set("email", email)
            .set("organization_id", static_cast<Poco::Int64>(organization));
        sdk::Id id;
        const auto key = PreparedSecrets::userKey(user.username);
        if (!existing) {
            secrets_.write(kernel_, key, "user", "password", wanted, user.password);
            id = store_.insert("user", wanted);
            ++counts.created;
        } else {
            id = existing->id;
            sdk::Record changes;
            for (const auto& [k, v] : wanted.values)
                if (existing->get(k).toString() != v.toString())
                    changes.set(k, v);
            if (!secrets_.matches(key, existing->text("password"))) {
                secrets_.write(kernel_, key, "user", "password", changes, user.password);
                // A new password ends the account's sessions, as it does through the API.
                changes.set(
                    "credential_version",
                    static_cast<Poco::Int64>(existing->integer("credential_version").value_or(0) + 1));
            }
            if (changes.values.empty()) {
                ++counts.unchanged;
            } else {
                store_.update("user", id, changes);
                ++counts.updated;
            }
        }
        // As vantage6's import: imported users are administrators (the Root role).
        if (auto root = findBy("role", {sdk::Condition::equal("name", std::string("Root"))})) {
            auto roles = store_.associated("user", id, "roles");
            if (std::find(roles.begin(), roles.end(), root->id) == roles.end()) {
                roles.push_back(root->id);
                store_.setAssociated("user", id, "roles", roles);
            }
        }
    }

    void importCollaboration(const ImportCollaboration& collab) {
        auto& counts = counts_["collaborations"];
        auto existing = findBy("collaboration", {sdk::Condition::equal("name", collab.name)});
        std::vector<sdk::Id> members;
        for (const auto& p : collab.participants)
            members.push_back(organizationId(p.organization, collab.name));
        sdk::Id id;
        if (!existing) {
            sdk::Record r;
            r.set("name", collab.name).set("encrypted", collab.encrypted);
            id = store_.insert("collaboration", r);
            store_.setAssociated("collaboration", id, "organizations", members);
            ++counts.created;
        } else {
            id = existing->id;
            bool changed = false;
            if (existing->boolean("encrypted") != collab.encrypted) {
                sdk::Record r;
                r.set("encrypted", collab.encrypted);
                store_.update("collaboration", id, r);
                changed = true;
            }
            auto current = store_.associated("collaboration", id, "organizations");
            for (auto m : members)
                if (std::find(current.begin(), current.end(), m) == current.end()) {
                    current.push_back(m);
                    changed = true;
                }
            if (changed)
                store_.setAssociated("collaboration", id, "organizations", current);
            ++(changed ? counts.updated : counts.unchanged);
        }
        for (std::size_t i = 0; i < collab.participants.size(); ++i)
            importNode(collab.participants[i], members[i], id, collab.name);
        for (const auto& image : collab.images)
            importTask(image, id, members);
    }

    sdk::Id organizationId(const std::string& name, const std::string& collaboration) {
        auto it = organizations_.find(name);
        if (it != organizations_.end())
            return it->second;
        auto existing = findBy("organization", {sdk::Condition::equal("name", name)});
        if (!existing)
            throw std::runtime_error("collaboration '" + collaboration + "': participant '" + name +
                                     "' is no organization in the file or the database");
        return organizations_[name] = existing->id;
    }

    void importNode(const ImportParticipant& p, sdk::Id organization, sdk::Id collaboration,
                    const std::string& collaborationName) {
        auto& counts = counts_["nodes"];
        auto existing = findBy(
            "node", {sdk::Condition::equal("organization_id", static_cast<Poco::Int64>(organization)),
                     sdk::Condition::equal("collaboration_id", static_cast<Poco::Int64>(collaboration))});
        const auto key = PreparedSecrets::nodeKey(p.organization, collaborationName);
        if (!existing) {
            sdk::Record r;
            r.set("name", p.organization + " - " + collaborationName + " Node")
                .set("organization_id", static_cast<Poco::Int64>(organization))
                .set("collaboration_id", static_cast<Poco::Int64>(collaboration));
            secrets_.write(kernel_, key, "node", "api_key", r, p.apiKey);
            store_.insert("node", r);
            ++counts.created;
        } else if (!secrets_.matches(key, existing->text("api_key"))) {
            sdk::Record r;
            secrets_.write(kernel_, key, "node", "api_key", r, p.apiKey);
            store_.update("node", existing->id, r);
            ++counts.updated;
        } else {
            ++counts.unchanged;
        }
    }

    void importTask(const std::string& image, sdk::Id collaboration,
                    const std::vector<sdk::Id>& participants) {
        auto& counts = counts_["tasks"];
        if (findBy("task",
                   {sdk::Condition::equal("collaboration_id", static_cast<Poco::Int64>(collaboration)),
                    sdk::Condition::equal("image", image)})) {
            ++counts.unchanged;
            return;
        }
        auto rows = store_.query("SELECT MAX(run_id) FROM task");
        Poco::Int64 runId = 1;
        if (!rows.rows.empty() && !rows.rows[0][0].isEmpty())
            runId = rows.rows[0][0].convert<Poco::Int64>() + 1;
        sdk::Record task;
        task.set("name", std::string("Example task"))
            .set("description", std::string("Imported by vserver import"))
            .set("image", image)
            .set("collaboration_id", static_cast<Poco::Int64>(collaboration))
            .set("run_id", runId)
            .set("database", std::string("default"))
            .set("initiator_id", static_cast<Poco::Int64>(participants.empty() ? 0 : participants.front()))
            .set("created_at", sdk::nowUtc());
        auto taskId = store_.insert("task", task);
        for (auto org : participants) {
            sdk::Record result;
            result.set("task_id", static_cast<Poco::Int64>(taskId))
                .set("organization_id", static_cast<Poco::Int64>(org))
                .set("input", std::string(""))
                .set("status", std::string("pending"))
                .set("assigned_at", sdk::nowUtc());
            store_.insert("result", result);
        }
        ++counts.created;
    }

    kernel::Kernel& kernel_;
    sdk::Store& store_;
    const PreparedSecrets& secrets_;
    std::map<std::string, sdk::Id> organizations_;
    std::map<std::string, Counts> counts_;
};

} // namespace

int importCommand(const Arguments& args, std::ostream& out, std::ostream& err) {
    try {
        auto file = readFile(args.words[1]);
        auto instance = resolveInstance(args);
        auto config = loadConfig(instance, args);
        if (args.flag("drop-all") && !config.allowDropAll) {
            err << "vserver import: --drop-all refused: set allow_drop_all: true in " << instance.configFile
                << " to allow wiping the database\n";
            return 2;
        }
        Poco::Logger::root().setLevel("warning");
        Poco::File(instance.dataFolder).createDirectories();
        kernel::Kernel kernel(config, instance.dataFolder);
        kernel.load();
        for (const auto& model : {"organization", "user", "collaboration", "node", "task", "result"})
            if (!kernel.catalog().model(model))
                throw std::runtime_error(std::string("importing needs the model '") + model +
                                         "': enable the organizations, users, roles, collaborations, nodes "
                                         "and tasks plugins");
        if (args.flag("drop-all")) {
            kernel.database().dropAll();
            kernel.database().migrate();
        }
        kernel.start();
        PreparedSecrets secrets;
        secrets.prepare(kernel, file);
        std::unique_ptr<Importer> importer;
        kernel.database().transaction([&](sdk::Store& store) {
            importer = std::make_unique<Importer>(kernel, store, secrets);
            importer->run(file);
        });
        out << "imported " << args.words[1] << ":\n";
        importer->report(out);
        return 0;
    } catch (const std::exception& e) {
        err << "vserver import: nothing was imported:\n" << e.what() << "\n";
        return 1;
    }
}

} // namespace dq::cli
