// The Store: declaration-checked SQL for records, queries, relations and delete rules.
#include "kernel/db/sql_store.h"

#include "kernel/db/schema.h"

#include <Poco/Exception.h>
#include <Poco/String.h>
#include <algorithm>
#include <dq/sdk/http.h>
#include <sstream>
#include <stdexcept>

namespace dq::kernel {

namespace {

std::string joined(const std::vector<std::string>& items, const std::string& separator) {
    std::string out;
    for (const auto& item : items)
        out += (out.empty() ? "" : separator) + item;
    return out;
}

/// Text longer than its field's declared maxLength: a 400 naming each such field.
void refuseTooLong(const sdk::ModelDecl& m, const std::map<std::string, sdk::Value>& values,
                   const std::string& action) {
    std::map<std::string, std::string> errors;
    std::string summary;
    for (const auto& f : m.fields()) {
        auto it = values.find(f.name);
        if (f.maxLength == 0 || it == values.end() || !it->second.isString())
            continue;
        auto length = sdk::characterCount(it->second.extract<std::string>());
        if (length <= f.maxLength)
            continue;
        errors[f.name] = "at most " + std::to_string(f.maxLength) + " characters";
        summary += (summary.empty() ? "" : "; ") + f.name + " has " + std::to_string(length) +
                   " characters, at most " + std::to_string(f.maxLength) + " are allowed";
    }
    if (!errors.empty())
        throw sdk::BadRequest("Cannot " + action + " " + m.name() + ": " + summary, errors);
}

std::string article(const std::string& noun) {
    return !noun.empty() && std::string("aeiou").find(noun[0]) != std::string::npos ? "An" : "A";
}

std::string describe(const sdk::Value& value) {
    if (value.isEmpty())
        return "null";
    try {
        return "'" + value.convert<std::string>() + "'";
    } catch (const Poco::Exception&) {
        return "a value of another type";
    }
}

std::string typeWord(sdk::FieldType type) {
    switch (type) {
    case sdk::FieldType::Integer:
        return "an integer";
    case sdk::FieldType::Real:
        return "a number";
    case sdk::FieldType::Boolean:
        return "a boolean";
    case sdk::FieldType::DateTime:
        return "a date-time";
    case sdk::FieldType::Text:
        return "a text";
    }
    return "a value";
}

/// The column names inside "Key (a, b)=(...)" of a PostgreSQL unique violation.
std::vector<std::string> postgresKeyColumns(const std::string& message) {
    std::vector<std::string> out;
    auto start = message.find("Key (");
    if (start == std::string::npos)
        return out;
    start += 5;
    auto end = message.find(")=", start);
    if (end == std::string::npos)
        return out;
    std::string list = message.substr(start, end - start);
    std::size_t begin = 0;
    while (begin <= list.size()) {
        auto comma = list.find(',', begin);
        if (comma == std::string::npos)
            comma = list.size();
        std::string name = list.substr(begin, comma - begin);
        name.erase(0, name.find_first_not_of(" \""));
        name.erase(name.find_last_not_of(" \"") + 1);
        if (!name.empty())
            out.push_back(name);
        begin = comma + 1;
    }
    return out;
}

/// The columns after "UNIQUE constraint failed: " (SQLite), "table.a, table.b" → {a, b}.
std::vector<std::string> sqliteColumns(const std::string& message, const std::string& marker) {
    std::vector<std::string> out;
    auto start = message.find(marker);
    if (start == std::string::npos)
        return out;
    start += marker.size();
    auto end = message.find_first_of("\n(", start);
    std::string list = message.substr(start, end == std::string::npos ? std::string::npos : end - start);
    std::size_t begin = 0;
    while (begin < list.size()) {
        auto comma = list.find(',', begin);
        if (comma == std::string::npos)
            comma = list.size();
        std::string item = list.substr(begin, comma - begin);
        item.erase(0, item.find_first_not_of(' '));
        item.erase(item.find_last_not_of(' ') + 1);
        if (auto dot = item.rfind('.'); dot != std::string::npos)
            item = item.substr(dot + 1);
        if (!item.empty())
            out.push_back(item);
        begin = comma + 1;
    }
    return out;
}

} // namespace

SqlStore::SqlStore(Poco::Data::Session& session, sql::Dialect dialect, const Catalog& catalog,
                   sdk::Events* events, const schema::Inheritance* inheritance, sql::Statements* statements)
    : session_(session), dialect_(dialect), catalog_(catalog), events_(events), inheritance_(inheritance),
      statements_(statements) {}

std::optional<std::string> SqlStore::parentOf(const sdk::ModelDecl& m) const {
    if (!inheritance_)
        return std::nullopt;
    auto it = inheritance_->find(m.name());
    if (it == inheritance_->end())
        return std::nullopt;
    return it->second;
}

sdk::Rows SqlStore::run(const std::string& text, const std::vector<sdk::Value>& params) {
    return statements_ ? statements_->query(text, params) : sql::query(session_, dialect_, text, params);
}

void SqlStore::exec(const std::string& text, const std::vector<sdk::Value>& params) {
    if (statements_)
        statements_->execute(text, params);
    else
        sql::execute(session_, dialect_, text, params);
}

const sdk::ModelDecl& SqlStore::model(const std::string& name) const {
    if (const auto* m = catalog_.model(name))
        return *m;
    std::vector<std::string> names;
    for (const auto& m : catalog_.models())
        names.push_back(m.decl.name());
    throw std::invalid_argument("unknown model '" + name + "'; the loaded plugins declare: " +
                                (names.empty() ? "none" : joined(names, ", ")));
}

std::string SqlStore::column(const sdk::ModelDecl& m, const std::string& name) const {
    if (schema::columnType(m, name))
        return sql::quote(name);
    std::vector<std::string> names;
    for (const auto& c : schema::columnsOf(m))
        names.push_back(c.name);
    throw std::invalid_argument("model '" + m.name() + "' has no column '" + name + "'; its columns are " +
                                joined(names, ", "));
}

sdk::Value SqlStore::bindable(const sdk::ModelDecl& m, const std::string& name,
                              const sdk::Value& value) const {
    auto type = schema::columnType(m, name);
    if (!type)
        column(m, name); // throws, naming the columns
    if (value.isEmpty())
        return value;
    try {
        if (*type == sdk::FieldType::Boolean && value.isString()) {
            const auto& s = value.extract<std::string>();
            if (s == "true" || s == "1")
                return Poco::Int64(1);
            if (s == "false" || s == "0")
                return Poco::Int64(0);
            throw Poco::SyntaxException(s);
        }
        if (*type == sdk::FieldType::Boolean)
            return Poco::Int64(value.type() == typeid(bool) ? value.extract<bool>()
                                                            : value.convert<Poco::Int64>() != 0);
        return sql::normalize(value, *type);
    } catch (const Poco::Exception&) {
        throw sdk::BadRequest(describe(value) + " is not " + typeWord(*type) + " (" + m.name() + "." + name +
                                  ")",
                              {{name, "must be " + typeWord(*type)}});
    }
}

void SqlStore::atomically(const std::function<void()>& work) {
    const std::string name = "dq_sp" + std::to_string(++savepoints_);
    try {
        exec("SAVEPOINT " + name);
        work();
        exec("RELEASE SAVEPOINT " + name);
    } catch (...) {
        try {
            exec("ROLLBACK TO SAVEPOINT " + name);
            exec("RELEASE SAVEPOINT " + name);
        } catch (...) {
            // The transaction is beyond repair; the caller's rollback ends it.
        }
        --savepoints_;
        throw;
    }
    --savepoints_;
}

void SqlStore::rethrowConstraint(const sdk::ModelDecl& m, const std::string& message) const {
    std::vector<std::string> columns;
    bool unique = false;
    if (message.find("UNIQUE constraint failed") != std::string::npos) {
        unique = true;
        columns = sqliteColumns(message, "UNIQUE constraint failed: ");
    } else if (message.find("23505") != std::string::npos ||
               message.find("duplicate key value") != std::string::npos) {
        unique = true;
        columns = postgresKeyColumns(message);
        if (columns.empty())
            for (const auto& u : schema::uniquesOf(m))
                if (message.find("\"" + u.index + "\"") != std::string::npos)
                    columns = u.columns;
    }
    if (unique) {
        std::string list = columns.empty() ? "these values" : joined(columns, " and ");
        std::map<std::string, std::string> errors;
        for (const auto& c : columns)
            errors[c] = "must be unique";
        throw sdk::Conflict(article(m.name()) + " " + m.name() + " with this " + list + " already exists (" +
                                list +
                                (columns.size() > 1 ? " must be unique together)" : " must be unique)"),
                            errors);
    }
    std::string field;
    if (message.find("NOT NULL constraint failed") != std::string::npos) {
        auto c = sqliteColumns(message, "NOT NULL constraint failed: ");
        field = c.empty() ? "" : c.front();
    } else if (message.find("23502") != std::string::npos ||
               message.find("violates not-null") != std::string::npos) {
        auto start = message.find("null value in column \"");
        if (start != std::string::npos) {
            start += 22;
            field = message.substr(start, message.find('"', start) - start);
        }
    } else {
        throw;
    }
    throw sdk::BadRequest("The field '" + field + "' of " + m.name() + " is required and may not be null",
                          {{field, "required"}});
}

void SqlStore::requireValues(const sdk::ModelDecl& m, const std::map<std::string, sdk::Value>& values,
                             bool allColumns, const std::string& action) const {
    refuseTooLong(m, values, action);
    std::map<std::string, std::string> missing;
    for (const auto& c : schema::columnsOf(m)) {
        if (c.nullable || c.name == "id")
            continue;
        auto it = values.find(c.name);
        bool absent = it == values.end();
        if ((absent && allColumns) || (!absent && it->second.isEmpty()))
            missing[c.name] = "required";
    }
    if (missing.empty())
        return;
    std::vector<std::string> names;
    for (const auto& [name, reason] : missing)
        names.push_back(name);
    throw sdk::BadRequest("Cannot " + action + " " + m.name() + ": " + joined(names, ", ") +
                              (names.size() > 1 ? " are" : " is") + " required and may not be null",
                          missing);
}

std::string SqlStore::where(const sdk::ModelDecl& m, const sdk::Query& query,
                            std::vector<sdk::Value>& params) const {
    std::vector<std::string> parts;
    using Op = sdk::Condition::Op;
    for (const auto& c : query.where) {
        if (c.op == Op::Sql) {
            auto expected = sql::countPlaceholders(c.sql);
            if (expected != c.values.size())
                throw std::invalid_argument("the SQL condition '" + c.sql + "' on " + m.name() + " has " +
                                            std::to_string(expected) + " '?' placeholder(s) but " +
                                            std::to_string(c.values.size()) + " parameter(s)");
            parts.push_back("(" + c.sql + ")");
            params.insert(params.end(), c.values.begin(), c.values.end());
            continue;
        }
        const std::string col = column(m, c.column);
        switch (c.op) {
        case Op::Equal:
        case Op::NotEqual:
            if (c.value.isEmpty()) {
                parts.push_back(col + (c.op == Op::Equal ? " IS NULL" : " IS NOT NULL"));
            } else {
                parts.push_back(col + (c.op == Op::Equal ? " = ?" : " <> ?"));
                params.push_back(bindable(m, c.column, c.value));
            }
            break;
        case Op::Like: {
            auto type = *schema::columnType(m, c.column);
            bool text = type == sdk::FieldType::Text || type == sdk::FieldType::DateTime;
            // PostgreSQL has no LIKE for numbers; compare their text form as SQLite does.
            parts.push_back((text || dialect_ == sql::Dialect::Sqlite ? col : "CAST(" + col + " AS TEXT)") +
                            " LIKE ?");
            params.push_back(c.value.isEmpty() ? sdk::Value() : sdk::Value(c.value.convert<std::string>()));
            break;
        }
        case Op::GreaterOrEqual:
        case Op::LessOrEqual:
            parts.push_back(col + (c.op == Op::GreaterOrEqual ? " >= ?" : " <= ?"));
            params.push_back(bindable(m, c.column, c.value));
            break;
        case Op::IsNull:
            parts.push_back(col + " IS NULL");
            break;
        case Op::IsNotNull:
            parts.push_back(col + " IS NOT NULL");
            break;
        case Op::In: {
            if (c.values.empty()) {
                parts.push_back("1 = 0");
                break;
            }
            std::string list;
            for (const auto& v : c.values) {
                list += list.empty() ? "?" : ", ?";
                params.push_back(bindable(m, c.column, v));
            }
            parts.push_back(col + " IN (" + list + ")");
            break;
        }
        case Op::Sql:
            break;
        }
    }
    return parts.empty() ? "" : " WHERE " + joined(parts, " AND ");
}

std::vector<sdk::Record> SqlStore::records(const sdk::ModelDecl& m, const std::string& tail,
                                           const std::vector<sdk::Value>& params) {
    auto columns = schema::columnsOf(m);
    std::string list;
    for (const auto& c : columns) {
        list += list.empty() ? "" : ", ";
        // As text whatever the column's type: drivers turn a DATETIME or TIMESTAMP column (vantage6's
        // schema) into a date-time without its microseconds.
        list += c.type == sdk::FieldType::DateTime
                    ? "CAST(" + sql::quote(c.name) + " AS TEXT) AS " + sql::quote(c.name)
                    : sql::quote(c.name);
    }
    auto rows =
        run("SELECT " + list + " FROM " + sql::quote(m.name()) + tail, params);
    std::vector<sdk::Record> out;
    out.reserve(rows.rows.size());
    for (auto& row : rows.rows) {
        sdk::Record record;
        for (std::size_t i = 0; i < columns.size(); ++i)
            record.values.emplace_hint(record.values.end(), columns[i].name,
                                       sql::normalize(std::move(row[i]), columns[i].type));
        record.id = record.values["id"].convert<sdk::Id>();
        out.push_back(std::move(record));
    }
    return out;
}

std::optional<sdk::Record> SqlStore::find(const std::string& name, sdk::Id id) {
    auto found = records(model(name), " WHERE \"id\" = ?", {Poco::Int64(id)});
    if (found.empty())
        return std::nullopt;
    return std::move(found.front());
}

std::vector<sdk::Record> SqlStore::select(const std::string& name, const sdk::Query& query) {
    const auto& m = model(name);
    std::vector<sdk::Value> params;
    std::string tail = where(m, query, params);
    std::vector<std::string> order;
    bool byId = false;
    for (const auto& key : query.orderBy) {
        bool descending = !key.empty() && key[0] == '-';
        std::string name = descending ? key.substr(1) : key;
        order.push_back(column(m, name) + (descending ? " DESC" : " ASC"));
        byId = byId || name == "id";
    }
    // id last, so pages are stable when the sort key has duplicates; not after id itself, which
    // would keep SQLite from walking the primary key (a sort of the whole table for `-id`).
    if (!byId)
        order.push_back("\"id\" ASC");
    tail += " ORDER BY " + joined(order, ", ");
    if (query.limit && *query.limit < 0)
        throw std::invalid_argument("a query on " + name + " has a negative limit");
    if (query.offset < 0)
        throw std::invalid_argument("a query on " + name + " has a negative offset");
    if (query.limit) {
        tail += " LIMIT ?";
        params.push_back(Poco::Int64(*query.limit));
    } else if (query.offset > 0 && dialect_ == sql::Dialect::Sqlite) {
        tail += " LIMIT -1"; // SQLite has no OFFSET without LIMIT
    }
    if (query.offset > 0) {
        tail += " OFFSET ?";
        params.push_back(Poco::Int64(query.offset));
    }
    return records(m, tail, params);
}

std::int64_t SqlStore::count(const std::string& name, const sdk::Query& query) {
    const auto& m = model(name);
    std::vector<sdk::Value> params;
    std::string text = "SELECT COUNT(*) FROM " + sql::quote(m.name()) + where(m, query, params);
    return run(text, params).rows.at(0).at(0).convert<std::int64_t>();
}

sdk::Id SqlStore::insert(const std::string& name, const sdk::Record& record) {
    const auto& m = model(name);
    std::map<std::string, sdk::Value> values;
    for (const auto& [key, value] : record.values)
        values[key] = bindable(m, key, value);
    for (const auto& f : m.fields())
        if (!values.count(f.name) && !f.defaultValue.isEmpty())
            values[f.name] = bindable(m, f.name, f.defaultValue);
    bool explicitId = record.id > 0 || (values.count("id") && !values["id"].isEmpty());
    if (record.id > 0)
        values["id"] = Poco::Int64(record.id);
    else if (!explicitId)
        values.erase("id");
    requireValues(m, values, true, "create");

    // Joined-table inheritance (vantage6's authenticatable): the parent row comes first and gives
    // the id, so that users and nodes keep sharing one id sequence.
    const auto parent = parentOf(m);
    if (parent && !explicitId)
        values["id"] = Poco::Int64(0); // a place in the column list; the parent's id replaces it

    std::string columns, marks;
    std::vector<sdk::Value> params;
    std::size_t idParam = 0;
    for (const auto& [key, value] : values) {
        if (key == "id")
            idParam = params.size();
        columns += (columns.empty() ? "" : ", ") + sql::quote(key);
        marks += marks.empty() ? "?" : ", ?";
        params.push_back(value);
    }
    std::string text = "INSERT INTO " + sql::quote(m.name()) +
                       (columns.empty() ? " DEFAULT VALUES" : " (" + columns + ") VALUES (" + marks + ")") +
                       " RETURNING \"id\"";
    sdk::Id id = 0;
    atomically([&] {
        try {
            if (parent && explicitId)
                exec("INSERT INTO " + sql::quote(*parent) + " (\"id\", \"type\") VALUES (?, ?)",
                     {params[idParam], m.name()});
            else if (parent)
                params[idParam] = run("INSERT INTO " + sql::quote(*parent) + " (\"type\") VALUES (?) RETURNING \"id\"",
                                      {m.name()})
                                      .rows.at(0)
                                      .at(0)
                                      .convert<Poco::Int64>();
            id = run(text, params).rows.at(0).at(0).convert<sdk::Id>();
        } catch (const Poco::Exception& e) {
            rethrowConstraint(m, e.displayText());
        }
        written_.insert(m.name());
        if (explicitId && dialect_ == sql::Dialect::Postgresql) {
            // The sequence (the parent's, when the id comes from there) does not see ids given
            // explicitly; move it past them.
            const std::string owner = sql::quote(parent ? *parent : m.name());
            run("SELECT setval(pg_get_serial_sequence(?, 'id'), (SELECT MAX(\"id\") FROM " + owner + "))", {owner});
        }
    });
    if (events_) {
        auto hooks = catalog_.insertHooksOf(m.name());
        if (!hooks.empty()) {
            auto row = *find(m.name(), id);
            for (const auto& hook : hooks)
                hook(*this, *events_, row);
        }
    }
    return id;
}

void SqlStore::update(const std::string& name, sdk::Id id, const sdk::Record& changes) {
    const auto& m = model(name);
    std::map<std::string, sdk::Value> values;
    for (const auto& [key, value] : changes.values) {
        if (key == "id") {
            if (!value.isEmpty() && value.convert<sdk::Id>() != id)
                throw std::invalid_argument("cannot change the id of " + name + " " + std::to_string(id));
            continue;
        }
        values[key] = bindable(m, key, value);
    }
    if (values.empty())
        return;
    requireValues(m, values, false, "update");
    std::string assignments;
    std::vector<sdk::Value> params;
    for (const auto& [key, value] : values) {
        assignments += (assignments.empty() ? "" : ", ") + sql::quote(key) + " = ?";
        params.push_back(value);
    }
    params.push_back(Poco::Int64(id));
    atomically([&] {
        try {
            exec(
                         "UPDATE " + sql::quote(m.name()) + " SET " + assignments + " WHERE \"id\" = ?",
                         params);
        } catch (const Poco::Exception& e) {
            rethrowConstraint(m, e.displayText());
        }
    });
    for (const auto& [key, value] : values)
        written_.insert(m.name() + "." + key);
}

void SqlStore::remove(const std::string& name, sdk::Id id) {
    const auto& m = model(name);
    atomically([&] { removeRow(m, id); });
}

void SqlStore::removeRow(const sdk::ModelDecl& m, sdk::Id id) {
    // A row already being removed further up (a cycle of cascades) is not visited twice.
    auto key = std::make_pair(m.name(), id);
    if (!removing_.insert(key).second)
        return;
    struct Forget {
        std::set<std::pair<std::string, sdk::Id>>& set;
        std::pair<std::string, sdk::Id> key;
        ~Forget() { set.erase(key); }
    } forget{removing_, key};
    written_.insert(m.name());

    const sdk::Value target = Poco::Int64(id);
    struct Child {
        const std::string* plugin;
        const sdk::ModelDecl* model;
        const sdk::Reference* reference;
    };
    std::vector<Child> children;
    for (const auto& [plugin, other] : catalog_.models())
        for (const auto& ref : other.references())
            if (ref.target == m.name())
                children.push_back({&plugin, &other, &ref});

    auto referring = [&](const Child& c) {
        std::string text = "SELECT \"id\" FROM " + sql::quote(c.model->name()) + " WHERE " +
                           sql::quote(c.reference->column()) + " = ?";
        std::vector<sdk::Id> ids;
        for (const auto& row : run(text, {target}).rows) {
            auto childId = row.at(0).convert<sdk::Id>();
            if (!(c.model->name() == m.name() && childId == id))
                ids.push_back(childId);
        }
        return ids;
    };
    auto refuse = [&](const Child& c, std::size_t n, const std::string& why) {
        throw sdk::Conflict("Cannot delete " + m.name() + " " + std::to_string(id) + ": " +
                            std::to_string(n) + " " + c.model->name() +
                            (n == 1 ? " still refers" : "s still refer") + " to it through '" +
                            c.reference->name + "' (" + why + ", declared by plugin '" + *c.plugin +
                            "'). Delete or reassign them first.");
    };

    // Restrict first, so nothing is touched when the row may not go.
    for (const auto& c : children)
        if (c.reference->onDelete == sdk::OnDelete::Restrict)
            if (auto ids = referring(c); !ids.empty())
                refuse(c, ids.size(), "delete rule: restrict");
    for (const auto& c : children)
        if (c.reference->onDelete == sdk::OnDelete::Cascade)
            for (auto childId : referring(c))
                removeRow(*c.model, childId);
    for (const auto& c : children) {
        if (c.reference->onDelete != sdk::OnDelete::SetNull)
            continue;
        if (!c.reference->nullable) {
            if (auto ids = referring(c); !ids.empty())
                refuse(c, ids.size(), "the reference is required, so it cannot be emptied");
            continue;
        }
        written_.insert(c.model->name() + "." + c.reference->column());
        exec(
                     "UPDATE " + sql::quote(c.model->name()) + " SET " + sql::quote(c.reference->column()) +
                         " = NULL WHERE " + sql::quote(c.reference->column()) + " = ?",
                     {target});
    }
    for (const auto& other : catalog_.models())
        for (const auto& a : schema::associationsOf(other.decl)) {
            if (a.model == m.name())
                exec(
                             "DELETE FROM " + sql::quote(a.table) + " WHERE " + sql::quote(a.ownColumn) +
                                 " = ?",
                             {target});
            if (a.target == m.name())
                exec(
                             "DELETE FROM " + sql::quote(a.table) + " WHERE " + sql::quote(a.targetColumn) +
                                 " = ?",
                             {target});
        }
    exec("DELETE FROM " + sql::quote(m.name()) + " WHERE \"id\" = ?", {target});
    if (auto parent = parentOf(m))
        exec("DELETE FROM " + sql::quote(*parent) + " WHERE \"id\" = ?", {target});
}

namespace {

const RelationView& manyToMany(const Catalog& catalog, const std::string& model, const std::string& name,
                               std::vector<RelationView>& relations) {
    relations = catalog.relationsOf(model);
    std::vector<std::string> names;
    for (const auto& r : relations) {
        if (r.kind != RelationView::Kind::ManyToMany)
            continue;
        if (r.name == name)
            return r;
        names.push_back(r.name);
    }
    throw std::invalid_argument("model '" + model + "' has no many-to-many relation '" + name + "'; it has " +
                                (names.empty() ? "none" : joined(names, ", ")));
}

} // namespace

std::vector<sdk::Id> SqlStore::associated(const std::string& name, sdk::Id id, const std::string& relation) {
    model(name);
    std::vector<RelationView> relations;
    const auto& r = manyToMany(catalog_, name, relation, relations);
    auto rows =
        run(
                   "SELECT " + sql::quote(r.otherColumn) + " FROM " + sql::quote(r.table) + " WHERE " +
                       sql::quote(r.ownColumn) + " = ? ORDER BY " + sql::quote(r.otherColumn),
                   {Poco::Int64(id)});
    std::vector<sdk::Id> ids;
    for (const auto& row : rows.rows)
        ids.push_back(row.at(0).convert<sdk::Id>());
    return ids;
}

void SqlStore::setAssociated(const std::string& name, sdk::Id id, const std::string& relation,
                             const std::vector<sdk::Id>& ids) {
    model(name);
    std::vector<RelationView> relations;
    const auto& r = manyToMany(catalog_, name, relation, relations);
    std::vector<sdk::Id> unique(ids);
    std::sort(unique.begin(), unique.end());
    unique.erase(std::unique(unique.begin(), unique.end()), unique.end());
    atomically([&] {
        exec(
                     "DELETE FROM " + sql::quote(r.table) + " WHERE " + sql::quote(r.ownColumn) + " = ?",
                     {Poco::Int64(id)});
        const std::string text = "INSERT INTO " + sql::quote(r.table) + " (" + sql::quote(r.ownColumn) +
                                 ", " + sql::quote(r.otherColumn) + ") VALUES (?, ?)";
        for (auto other : unique)
            exec(text, {Poco::Int64(id), Poco::Int64(other)});
    });
    written_.insert(name);
}

sdk::Rows SqlStore::query(const std::string& text, const std::vector<sdk::Value>& params) {
    return run(text, params);
}

void SqlStore::execute(const std::string& text, const std::vector<sdk::Value>& params) {
    exec(text, params);
    noteRawWrite(text);
}

void SqlStore::noteRawWrite(const std::string& text) {
    // Enough SQL to name the table of a plain write; anything else (DDL, CTEs) is not a row change
    // the kernel's caches follow.
    std::istringstream in(text);
    std::string word, table;
    in >> word;
    word = Poco::toUpper(word);
    if (word == "UPDATE")
        in >> table;
    else if (word == "INSERT" || word == "DELETE")
        in >> word >> table;
    else
        return;
    if (Poco::toUpper(table) == "ONLY")
        in >> table;
    table = table.substr(0, table.find_first_of("( "));
    table.erase(std::remove(table.begin(), table.end(), '"'), table.end());
    if (!table.empty())
        written_.insert(table);
}

std::string SqlStore::dialect() const {
    return sql::dialectName(dialect_);
}

} // namespace dq::kernel
