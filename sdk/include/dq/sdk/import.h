// Import sections (since ABI 2.1): the parts of a `vserver import` file that a plugin reads and
// writes. `vserver import` reads the YAML, hands each plugin the values of the keys it declared,
// and runs every section's writes in one transaction; it knows no model of its own.
#pragma once

#include "dq/sdk/services.h"
#include "dq/sdk/store.h"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace dq::sdk {

/// A value of the import file: null (also: a key that is absent), a scalar (as its text), a list
/// or a mapping, with where it is in the file.
struct ImportValue {
    enum class Kind { Null, Scalar, List, Map };
    Kind kind = Kind::Null;
    std::string text;                                         ///< Scalar
    std::vector<ImportValue> items;                           ///< List
    std::vector<std::pair<std::string, ImportValue>> entries; ///< Map, in the file's order
    /// Where problems say it is: "organizations[0].users[1].password".
    std::string path;
    /// 1-based line in the file; for an absent key, the line of the mapping that lacks it.
    int line = 0;

    bool isNull() const { return kind == Kind::Null; }
    bool isScalar() const { return kind == Kind::Scalar; }
    bool isList() const { return kind == Kind::List; }
    bool isMap() const { return kind == Kind::Map; }
    /// The value of a mapping's `key`; nullptr when absent (or this is no mapping).
    const ImportValue* find(const std::string& key) const;
    /// A scalar read as YAML 1.1 reads booleans (true, yes, on, ...; false, no, off, ...), as
    /// vantage6's loader does; nullopt for anything else.
    std::optional<bool> boolean() const;
};

/// The problems of a file, all reported together before anything is written. Each reads
/// `<file>: <path>: <what> (line <n>)`.
class ImportCheck {
public:
    virtual ~ImportCheck() = default;
    virtual void problem(const std::string& path, int line, const std::string& what) = 0;

    void problem(const ImportValue& where, const std::string& what) { problem(where.path, where.line, what); }
    /// The scalar at `entry[key]`: nullopt when absent or null (a problem when `required`) or when
    /// it is a list or mapping (a problem).
    std::optional<std::string> text(const ImportValue& entry, const std::string& key, bool required);
    /// Whether a section's value is a list; a null value (the key absent or empty) is no problem,
    /// anything else is ("expected a list of <items>").
    bool isList(const ImportValue& value, const std::string& items);
    /// `entry[key]` as true/false (YAML's spellings); nullopt when absent, null or not a boolean (a problem).
    std::optional<bool> boolean(const ImportValue& entry, const std::string& key);
    /// The list at `entry[key]`: nullptr when absent or null, or not a list (a problem saying
    /// "expected a list of <items>").
    const ImportValue* list(const ImportValue& entry, const std::string& key, const std::string& items);
    /// The mappings of a list; every other item is a problem ("expected a mapping with <keys>").
    std::vector<const ImportValue*> mappings(const ImportValue& list, const std::string& keys);
    /// A value seen twice in the file where it must be unique (a name, a username): a problem at
    /// the second one. `seen` is the section's own set of values.
    void unique(const ImportValue& where, const std::string& value, std::vector<std::string>& seen);
};

/// What becomes of an entry of the file; `vserver import` sums them per section.
enum class ImportOutcome { Created, Updated, Unchanged };

/// The run of one import, as a section sees it.
class ImportContext {
public:
    virtual ~ImportContext() = default;
    /// Before the write transaction (prepare): `work` in a short read-only transaction.
    virtual void read(const std::function<void(Store&)>& work) = 0;
    /// Runs `work(i)` for every i < count on all cores, outside any transaction: for hashing, which
    /// must not hold the write transaction open (a bcrypt hash takes a quarter second). The first
    /// exception thrown stops the rest and is rethrown.
    virtual void parallel(std::size_t count, const std::function<void(std::size_t)>& work) = 0;
    virtual Passwords& passwords() = 0;
    /// In prepare, on all cores: for each secret of the file (a struct with `clear`, the file's text,
    /// `stored`, the hash stored now or "", and `bool same`), sets `same` when `stored` is the hash
    /// of `clear`, and calls `hash(secret)` otherwise to make what will be stored.
    template <typename Secret>
    void verifyOrHash(std::vector<Secret>& secrets, const std::function<void(Secret&)>& hash) {
        parallel(secrets.size(), [&](std::size_t i) {
            auto& s = secrets[i];
            s.same = !s.stored.empty() && passwords().verify(s.clear, s.stored);
            if (!s.same)
                hash(s);
        });
    }
    /// In apply: the row that `entry` (one mapping of the section's list) is stored as, for the
    /// sections nested in it (their ImportParent::id).
    virtual void imported(const ImportValue& entry, Id id) = 0;
    /// The row an entry was stored as by an earlier section (imported()), or nullopt.
    virtual std::optional<Id> idOf(const ImportValue& entry) const = 0;
    /// Counts one entry of the file under `what` ("organizations") in the summary.
    virtual void count(const std::string& what, ImportOutcome outcome) = 0;
};

/// The enclosing entry of a nested section's value: the mapping that holds the section's key, and
/// (in apply) the row that mapping was stored as. Empty for a top-level section.
struct ImportParent {
    const ImportValue* entry = nullptr;
    Id id = 0;
};

/// One import's work for one declared section. A fresh object per import: it may keep what check()
/// found for prepare() and apply().
class ImportSection {
public:
    virtual ~ImportSection() = default;
    /// For every occurrence of the section's key, before anything is written: report every problem
    /// to `check`. A nested section is called once per entry of the enclosing section, with a null
    /// `value` when that entry lacks the key.
    virtual void check(const ImportValue& value, const ImportParent& parent, ImportCheck& check) = 0;
    /// Once, when the whole file checked fine, before the write transaction opens: slow work such as
    /// hashing the file's secrets (ImportContext::parallel), and reads it needs (ImportContext::read).
    virtual void prepare(ImportContext& context) { (void)context; }
    /// For every occurrence again, in the import's one write transaction: sections in dependency
    /// order (the order of the plugins), a nested section after the entry that encloses it. Must be
    /// idempotent: importing the same file twice changes nothing the second time. Throw
    /// (BadRequest, Conflict, std::runtime_error) to roll the whole import back with that message.
    virtual void apply(const ImportValue& value, const ImportParent& parent, Store& store,
                       ImportContext& context) = 0;
};

struct ImportSectionDecl {
    /// The YAML key: "organizations" at the top of the file, or "users" in each entry of `within`.
    std::string key;
    /// "" for a top-level key; else where the enclosing section sits, whose entries (mappings) hold
    /// this key: its key ("organizations"), or for a deeper one the keys joined by dots.
    std::string within;
    /// The keys the section reads in each entry of its list; `vserver import` refuses other keys
    /// unless a section nested in this one reads them.
    std::vector<std::string> keys;
    /// For `vserver import --help`.
    std::string summary;
    /// A new ImportSection for each import.
    std::function<std::shared_ptr<ImportSection>()> create;
};

} // namespace dq::sdk
