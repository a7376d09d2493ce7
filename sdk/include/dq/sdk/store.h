// Records, queries and the Store: the one way plugins read and write the database. A Store is
// always bound to a transaction that the kernel commits or rolls back as a whole.
#pragma once

#include <Poco/Dynamic/Var.h>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace dq::sdk {

using Value = Poco::Dynamic::Var;
using Id = std::int64_t;

/// A row of a declared model: the id plus columns by name (foreign keys as `<relation>_id`).
/// Values are normalized by the store: Integer → Int64, Boolean → bool, Real → double,
/// Text and DateTime → std::string; NULL is an empty Var.
class Record {
public:
    Id id = 0;
    std::map<std::string, Value> values;

    bool has(const std::string& column) const { return values.count(column) != 0; }
    bool isNull(const std::string& column) const;
    const Value& get(const std::string& column) const;
    std::string text(const std::string& column, const std::string& fallback = "") const;
    std::optional<Id> integer(const std::string& column) const;
    bool boolean(const std::string& column, bool fallback = false) const;
    Record& set(const std::string& column, Value value) {
        values[column] = std::move(value);
        return *this;
    }
};

/// One condition of a query's WHERE clause. Values are always bound, never spliced into SQL.
struct Condition {
    enum class Op { Equal, NotEqual, Like, GreaterOrEqual, LessOrEqual, IsNull, IsNotNull, In, Sql };
    Op op = Op::Equal;
    std::string column;
    Value value;
    std::vector<Value> values; ///< for In, and the parameters of Sql
    std::string sql;           ///< for Sql: a fragment with `?` placeholders, e.g. "id IN (SELECT ...)"

    static Condition equal(std::string column, Value v) {
        return {Op::Equal, std::move(column), std::move(v), {}, {}};
    }
    static Condition like(std::string column, Value v) {
        return {Op::Like, std::move(column), std::move(v), {}, {}};
    }
    static Condition isNull(std::string column) { return {Op::IsNull, std::move(column), {}, {}, {}}; }
    static Condition isNotNull(std::string column) { return {Op::IsNotNull, std::move(column), {}, {}, {}}; }
    static Condition in(std::string column, std::vector<Value> vs) {
        return {Op::In, std::move(column), {}, std::move(vs), {}};
    }
    static Condition raw(std::string fragment, std::vector<Value> params = {}) {
        return {Op::Sql, {}, {}, std::move(params), std::move(fragment)};
    }
};

struct Query {
    std::vector<Condition> where;
    /// Columns to order by; a leading '-' sorts descending. Default: id ascending.
    std::vector<std::string> orderBy;
    std::optional<std::int64_t> limit;
    std::int64_t offset = 0;

    Query& add(Condition c) {
        where.push_back(std::move(c));
        return *this;
    }
};

/// Rows of a raw query: column names and values as the driver returns them.
struct Rows {
    std::vector<std::string> columns;
    std::vector<std::vector<Value>> rows;
};

class Store {
public:
    virtual ~Store() = default;

    virtual std::optional<Record> find(const std::string& model, Id id) = 0;
    virtual std::vector<Record> select(const std::string& model, const Query& query = {}) = 0;
    virtual std::int64_t count(const std::string& model, const Query& query = {}) = 0;
    /// Inserts and returns the new id. Unset fields get their declared default.
    /// A violated uniqueness throws dq::sdk::Conflict naming the field.
    virtual Id insert(const std::string& model, const Record& record) = 0;
    /// Updates only the columns present in `changes`.
    virtual void update(const std::string& model, Id id, const Record& changes) = 0;
    /// Deletes the row, applying every declared relation's OnDelete rule (from all plugins) and
    /// removing its association rows.
    virtual void remove(const std::string& model, Id id) = 0;

    /// Ids on the other side of an association declared on `model` (by the association's name)
    /// or declared on another model with `name` as its backref.
    virtual std::vector<Id> associated(const std::string& model, Id id, const std::string& name) = 0;
    /// Replaces the set of associated ids.
    virtual void setAssociated(const std::string& model, Id id, const std::string& name,
                               const std::vector<Id>& ids) = 0;

    /// Parameterised SQL with `?` placeholders, for queries the generic API cannot express.
    virtual Rows query(const std::string& sql, const std::vector<Value>& params = {}) = 0;
    virtual void execute(const std::string& sql, const std::vector<Value>& params = {}) = 0;

    /// "sqlite" or "postgresql", for the rare query that must differ.
    virtual std::string dialect() const = 0;
};

} // namespace dq::sdk
