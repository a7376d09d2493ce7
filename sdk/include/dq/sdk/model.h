// Model declarations: the tables a plugin owns, their fields and relations. The kernel creates and
// migrates the schema from them, serializes records with them, and the shell and import read them.
#pragma once

#include <Poco/Dynamic/Var.h>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace dq::sdk {

class Record;

enum class FieldType {
    Integer,  ///< 64-bit integer
    Real,     ///< double
    Text,     ///< UTF-8 string
    Boolean,  ///< stored as 0/1, rendered as true/false
    DateTime, ///< naive UTC, stored as "YYYY-MM-DD HH:MM:SS.ffffff" (as vantage6), rendered with "+00:00"
};

/// How a relation appears in JSON: a HATEOAS link `{"id","link","methods"}` or the raw id.
enum class RelationStyle { Link, Id, Hidden };

/// What happens to rows that reference a deleted row.
enum class OnDelete { SetNull, Cascade, Restrict };

struct Field {
    std::string name;
    FieldType type = FieldType::Text;
    bool nullable = true;
    bool unique = false;
    /// Never rendered in a response or written to a log (password hashes, api-key hashes, secrets).
    bool secret = false;
    /// Value used on insert when the record does not set the field. Empty means NULL.
    Poco::Dynamic::Var defaultValue;
    std::string description;
    /// How a clear-text value given outside the plugin's own routes (batch import, admin shell) is
    /// stored: a password becomes its bcrypt hash, an api key its hash and lookup index. Runs after
    /// the plugin started. Empty: the value is stored as given.
    std::function<void(Record& record, const std::string& clearText)> writer;
    /// The longest Text value accepted, in characters (UTF-8 code points). The store refuses a longer
    /// value with a 400 naming the field, whoever writes it: a route, the batch import, the admin
    /// shell. 0: no limit of its own (a request is still bounded by max_body_size).
    std::size_t maxLength = 0;
};

/// The number of characters (UTF-8 code points) in `text`, as Field::maxLength counts them.
inline std::size_t characterCount(const std::string& text) {
    std::size_t n = 0;
    for (unsigned char c : text)
        n += (c & 0xC0) != 0x80;
    return n;
}

/// A to-one relation owned by this model: column `<name>_id` pointing at `target`.
/// `backref` names the to-many list that appears on the target (e.g. User.organization with
/// backref "users" puts `users` on Organization's JSON) when this plugin is loaded.
struct Reference {
    std::string name;
    std::string target;
    std::string backref;
    RelationStyle style = RelationStyle::Link;
    RelationStyle backrefStyle = RelationStyle::Link;
    OnDelete onDelete = OnDelete::SetNull;
    bool nullable = true;
    std::string column() const { return name + "_id"; }
};

/// A many-to-many relation through an association table `table(<model>_id, <target>_id)`.
struct Association {
    std::string name;    ///< list on this model, e.g. "roles" on user
    std::string target;  ///< the other model, e.g. "role"
    std::string table;   ///< association table, e.g. "permission"
    std::string backref; ///< list on the target, e.g. "users" on role; "" for none
    RelationStyle style = RelationStyle::Link;
    RelationStyle backrefStyle = RelationStyle::Link;
    /// Column names in the association table; default `<model>_id` / `<target>_id`.
    std::string ownColumn;
    std::string targetColumn;
};

/// One table. The name is also the table name and the key under which the shell shows the
/// model (`db.Organization` for "organization").
class ModelDecl {
public:
    explicit ModelDecl(std::string name) : name_(std::move(name)) {}

    /// The collection path of the resource, e.g. "/organization"; links are `<api_path><path>/<id>`.
    ModelDecl& resource(std::string path) {
        resourcePath_ = std::move(path);
        return *this;
    }
    ModelDecl& field(Field f) {
        fields_.push_back(std::move(f));
        return *this;
    }
    ModelDecl& reference(Reference r) {
        references_.push_back(std::move(r));
        return *this;
    }
    ModelDecl& association(Association a) {
        associations_.push_back(std::move(a));
        return *this;
    }
    /// A uniqueness constraint over several columns (e.g. node: organization_id + collaboration_id).
    ModelDecl& uniqueTogether(std::vector<std::string> columns) {
        uniques_.push_back(std::move(columns));
        return *this;
    }
    /// What the model is, for `db.X.help()` and the docs.
    ModelDecl& description(std::string text) {
        description_ = std::move(text);
        return *this;
    }

    const std::string& name() const { return name_; }
    const std::string& resourcePath() const { return resourcePath_; }
    const std::string& descriptionText() const { return description_; }
    const std::vector<Field>& fields() const { return fields_; }
    std::vector<Field>& fields() { return fields_; }
    const std::vector<Reference>& references() const { return references_; }
    const std::vector<Association>& associations() const { return associations_; }
    const std::vector<std::vector<std::string>>& uniques() const { return uniques_; }

    const Field* findField(const std::string& name) const {
        for (const auto& f : fields_)
            if (f.name == name)
                return &f;
        return nullptr;
    }
    const Reference* findReference(const std::string& name) const {
        for (const auto& r : references_)
            if (r.name == name || r.column() == name)
                return &r;
        return nullptr;
    }

private:
    std::string name_;
    std::string resourcePath_;
    std::string description_;
    std::vector<Field> fields_;
    std::vector<Reference> references_;
    std::vector<Association> associations_;
    std::vector<std::vector<std::string>> uniques_;
};

} // namespace dq::sdk
