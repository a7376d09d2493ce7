// Schema creation and migration from the model declarations.
#include "kernel/db/schema.h"

#include <Poco/DigestEngine.h>
#include <Poco/Exception.h>
#include <Poco/Logger.h>
#include <Poco/SHA1Engine.h>
#include <dq/sdk/http.h>
#include <map>
#include <set>
#include <stdexcept>

namespace dq::kernel::schema {

namespace {

const char* const kSchemaTable = "dq_schema";
/// The kernel's own tables besides dq_schema: the event outbox, its readers' positions, and which
/// process holds a connection of which node until when.
const char* const kKernelTables[] = {"dq_outbox", "dq_outbox_reader", "dq_presence"};
/// pg_advisory_xact_lock key of migrations ("dq" "mg").
constexpr std::int64_t kMigrationLock = 0x6471'6d67;

std::string typeName(sdk::FieldType type) {
    switch (type) {
    case sdk::FieldType::Integer:
        return "integer";
    case sdk::FieldType::Real:
        return "real";
    case sdk::FieldType::Text:
        return "text";
    case sdk::FieldType::Boolean:
        return "boolean";
    case sdk::FieldType::DateTime:
        return "datetime";
    }
    return "?";
}

std::string sqlType(sdk::FieldType type, sql::Dialect dialect) {
    bool pg = dialect == sql::Dialect::Postgresql;
    switch (type) {
    case sdk::FieldType::Integer:
        return "BIGINT";
    case sdk::FieldType::Real:
        return pg ? "DOUBLE PRECISION" : "REAL";
    case sdk::FieldType::Boolean:
        // SMALLINT rather than BOOLEAN on PostgreSQL, so raw SQL such as `active = 1` works on both.
        return pg ? "SMALLINT" : "INTEGER";
    case sdk::FieldType::Text:
    case sdk::FieldType::DateTime:
        return "TEXT";
    }
    return "TEXT";
}

std::string shortHash(const std::string& text) {
    Poco::SHA1Engine engine;
    engine.update(text);
    return Poco::DigestEngine::digestToHex(engine.digest()).substr(0, 8);
}

/// An index name: readable when it fits PostgreSQL's 63 characters, else shortened with a hash.
std::string indexName(const std::string& table, const std::vector<std::string>& columns,
                      const std::string& suffix) {
    std::string name = table;
    for (const auto& c : columns)
        name += "_" + c;
    if (name.size() + suffix.size() + 1 <= 63)
        return name + "_" + suffix;
    return name.substr(0, 63 - suffix.size() - 10) + "_" + shortHash(name) + "_" + suffix;
}

std::string join(const std::vector<std::string>& items, const std::string& separator,
                 std::string (*wrap)(const std::string&) = nullptr) {
    std::string out;
    for (const auto& item : items)
        out += (out.empty() ? "" : separator) + (wrap ? wrap(item) : item);
    return out;
}

std::set<std::string> liveColumns(Poco::Data::Session& session, sql::Dialect dialect,
                                  const std::string& table) {
    std::set<std::string> out;
    sdk::Rows rows = dialect == sql::Dialect::Sqlite
                         ? sql::query(session, dialect, "SELECT name FROM pragma_table_info(?)", {table})
                         : sql::query(session, dialect,
                                      "SELECT column_name FROM information_schema.columns "
                                      "WHERE table_schema = current_schema() AND table_name = ?",
                                      {table});
    for (const auto& row : rows.rows)
        out.insert(row.at(0).convert<std::string>());
    return out;
}

void run(Poco::Data::Session& session, sql::Dialect dialect, const std::string& text,
         const std::vector<sdk::Value>& params = {}) {
    sql::execute(session, dialect, text, params);
}

bool tableExists(Poco::Data::Session& session, sql::Dialect dialect, const std::string& table) {
    return !(dialect == sql::Dialect::Sqlite
                 ? sql::query(session, dialect, "SELECT 1 FROM sqlite_master WHERE name = ?", {table})
                 : sql::query(session, dialect,
                              "SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() "
                              "AND table_name = ?",
                              {table}))
                .rows.empty();
}

bool isView(Poco::Data::Session& session, sql::Dialect dialect, const std::string& name) {
    return dialect == sql::Dialect::Postgresql &&
           !sql::query(session, dialect,
                       "SELECT 1 FROM information_schema.views WHERE table_schema = current_schema() AND "
                       "table_name = ?",
                       {name})
                .rows.empty();
}

/// On PostgreSQL, vantage6 (SQLAlchemy) names its association tables with capitals ("Member",
/// "Permission", "UserPermission"), which SQLite matches case-insensitively and PostgreSQL does not.
/// Where such a table exists and ours does not, a view under our name reads and writes it (a simple
/// view is updatable), so both servers share the rows. True when `table` is such a view.
bool shareCapitalizedTable(Poco::Data::Session& session, sql::Dialect dialect, const std::string& table,
                           Poco::Logger& log) {
    if (dialect != sql::Dialect::Postgresql)
        return false;
    if (isView(session, dialect, table))
        return true;
    if (tableExists(session, dialect, table))
        return false;
    auto found = sql::query(session, dialect,
                            "SELECT table_name FROM information_schema.tables WHERE table_schema = "
                            "current_schema() AND table_type = 'BASE TABLE' AND lower(table_name) = ?",
                            {table});
    if (found.rows.size() != 1)
        return false;
    std::string actual = found.rows.front().front().convert<std::string>();
    // `actual` equals the identifier `table` but for case, so it is one too: quoting it is safe.
    run(session, dialect, "CREATE VIEW " + sql::quote(table) + " AS SELECT * FROM \"" + actual + "\"");
    log.information("db: association table %s is vantage6's \"%s\" (a view over it)", table, actual);
    return true;
}

std::string createModelTable(const sdk::ModelDecl& model, sql::Dialect dialect) {
    std::string ddl =
        "CREATE TABLE IF NOT EXISTS " + sql::quote(model.name()) + " (" + sql::quote("id") + " " +
        (dialect == sql::Dialect::Sqlite ? "INTEGER PRIMARY KEY AUTOINCREMENT" : "BIGSERIAL PRIMARY KEY");
    for (const auto& column : columnsOf(model)) {
        if (column.name == "id")
            continue;
        ddl += ", " + sql::quote(column.name) + " " + sqlType(column.type, dialect) +
               (column.nullable ? "" : " NOT NULL");
    }
    return ddl + ")";
}

} // namespace

std::vector<Column> columnsOf(const sdk::ModelDecl& model) {
    std::vector<Column> out{{"id", sdk::FieldType::Integer, false}};
    for (const auto& f : model.fields())
        out.push_back({f.name, f.type, f.nullable});
    for (const auto& r : model.references())
        out.push_back({r.column(), sdk::FieldType::Integer, r.nullable});
    return out;
}

std::optional<sdk::FieldType> columnType(const sdk::ModelDecl& model, const std::string& column) {
    if (column == "id")
        return sdk::FieldType::Integer;
    if (const auto* f = model.findField(column))
        return f->type;
    for (const auto& r : model.references())
        if (r.column() == column)
            return sdk::FieldType::Integer;
    return std::nullopt;
}

std::vector<Unique> uniquesOf(const sdk::ModelDecl& model) {
    std::vector<Unique> out;
    for (const auto& f : model.fields())
        if (f.unique)
            out.push_back({indexName(model.name(), {f.name}, "key"), {f.name}});
    for (const auto& group : model.uniques())
        out.push_back({indexName(model.name(), group, "key"), group});
    return out;
}

std::vector<AssociationTable> associationsOf(const sdk::ModelDecl& model) {
    std::vector<AssociationTable> out;
    for (const auto& a : model.associations())
        out.push_back({a.name, a.table, model.name(), a.target,
                       a.ownColumn.empty() ? model.name() + "_id" : a.ownColumn,
                       a.targetColumn.empty() ? a.target + "_id" : a.targetColumn});
    return out;
}

Inheritance inheritanceOf(Poco::Data::Session& session, sql::Dialect dialect, const Catalog& catalog) {
    Inheritance out;
    if (dialect == sql::Dialect::Sqlite) {
        for (const auto& m : catalog.models())
            for (const auto& row : sql::query(session, dialect,
                                              "SELECT \"table\" FROM pragma_foreign_key_list(?) WHERE "
                                              "\"from\" = 'id' AND \"to\" = 'id'",
                                              {m.decl.name()})
                                       .rows)
                out[m.decl.name()] = row.at(0).convert<std::string>();
    } else {
        auto rows = sql::query(
            session, dialect,
            "SELECT child.relname, parent.relname FROM pg_constraint c "
            "JOIN pg_class child ON child.oid = c.conrelid JOIN pg_class parent ON parent.oid = c.confrelid "
            "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] "
            "JOIN pg_attribute b ON b.attrelid = c.confrelid AND b.attnum = c.confkey[1] "
            "WHERE c.contype = 'f' AND array_length(c.conkey, 1) = 1 AND a.attname = 'id' AND b.attname = 'id' "
            "AND child.relnamespace = current_schema()::text::regnamespace");
        for (const auto& row : rows.rows) {
            auto child = row.at(0).convert<std::string>();
            if (catalog.model(child))
                out[child] = row.at(1).convert<std::string>();
        }
    }
    // Only a parent we can write to as SQLAlchemy does: it has an `id` and a `type` discriminator.
    for (auto it = out.begin(); it != out.end();) {
        if (!sql::isIdentifier(it->second) || !liveColumns(session, dialect, it->second).count("type"))
            it = out.erase(it);
        else
            ++it;
    }
    return out;
}

std::vector<std::string> check(const Catalog& catalog) {
    std::vector<std::string> problems;
    std::set<std::string> tables;
    for (const auto& m : catalog.models())
        tables.insert(m.decl.name());
    auto badName = [](const std::string& name) {
        return "'" + name +
               "' is not a valid name (lower-case letters, digits and '_', starting with a letter or '_', "
               "at most 63 characters)";
    };
    for (const auto& [plugin, model] : catalog.models()) {
        std::string where = "plugin '" + plugin + "', model '" + model.name() + "': ";
        if (!sql::isIdentifier(model.name()))
            problems.push_back(where + "table " + badName(model.name()));
        if (model.name() == kSchemaTable)
            problems.push_back(where + "the table name '" + model.name() + "' is reserved for the kernel");
        std::set<std::string> columns{"id"};
        auto all = columnsOf(model);
        for (auto column = all.begin() + 1; column != all.end(); ++column) {
            if (!sql::isIdentifier(column->name))
                problems.push_back(where + "column " + badName(column->name));
            else if (!columns.insert(column->name).second)
                problems.push_back(where + "column '" + column->name +
                                   "' is declared twice ('id' is always present)");
        }
        for (const auto& group : model.uniques())
            for (const auto& c : group)
                if (!columnType(model, c))
                    problems.push_back(where + "uniqueTogether names '" + c +
                                       "', which is not a column of the model");
        for (const auto& a : associationsOf(model)) {
            for (const auto& name : {a.table, a.ownColumn, a.targetColumn})
                if (!sql::isIdentifier(name))
                    problems.push_back(where + "association '" + a.name + "': " + badName(name));
            if (a.ownColumn == a.targetColumn)
                problems.push_back(where + "association '" + a.name + "' uses the column '" + a.ownColumn +
                                   "' for both sides; set ownColumn and targetColumn");
            if (tables.count(a.table))
                problems.push_back(where + "association table '" + a.table +
                                   "' has the name of a model's table");
        }
    }
    return problems;
}

std::string fingerprint(const Catalog& catalog, const std::string& plugin) {
    std::string text;
    for (const auto& [owner, model] : catalog.models()) {
        if (owner != plugin)
            continue;
        text += "model " + model.name() + "\n";
        for (const auto& f : model.fields())
            text += " field " + f.name + " " + typeName(f.type) + (f.nullable ? " null" : " notnull") +
                    (f.unique ? " unique" : "") +
                    (f.defaultValue.isEmpty() ? "" : " default=" + f.defaultValue.convert<std::string>()) +
                    "\n";
        for (const auto& r : model.references())
            text += " reference " + r.column() + " " + r.target + (r.nullable ? " null" : " notnull") + "\n";
        for (const auto& a : associationsOf(model))
            text +=
                " association " + a.table + "(" + a.ownColumn + "," + a.targetColumn + ") " + a.target + "\n";
        for (const auto& u : model.uniques())
            text += " unique " + join(u, ",") + "\n";
    }
    Poco::SHA1Engine engine;
    engine.update(text);
    return Poco::DigestEngine::digestToHex(engine.digest());
}

void createKernelTables(Poco::Data::Session& session, sql::Dialect dialect) {
    const bool pg = dialect == sql::Dialect::Postgresql;
    // Ids only grow, also after every row was pruned (AUTOINCREMENT; a sequence on PostgreSQL):
    // readers keep their position as the last id they delivered.
    run(session, dialect,
        std::string("CREATE TABLE IF NOT EXISTS \"dq_outbox\" (\"id\" ") +
            (pg ? "BIGSERIAL PRIMARY KEY" : "INTEGER PRIMARY KEY AUTOINCREMENT") +
            ", \"room\" TEXT NOT NULL, \"event\" TEXT NOT NULL, \"payload\" TEXT NOT NULL, "
            "\"created_at\" TEXT NOT NULL)");
    run(session, dialect,
        "CREATE INDEX IF NOT EXISTS \"ix_dq_outbox_created_at\" ON \"dq_outbox\" (\"created_at\")");
    run(session, dialect,
        "CREATE TABLE IF NOT EXISTS \"dq_outbox_reader\" (\"reader\" TEXT PRIMARY KEY, \"last_id\" BIGINT "
        "NOT NULL, \"updated_at\" TEXT NOT NULL)");
    run(session, dialect,
        "CREATE TABLE IF NOT EXISTS \"dq_presence\" (\"node_id\" BIGINT NOT NULL, \"process\" TEXT NOT "
        "NULL, \"expires_at\" TEXT NOT NULL, PRIMARY KEY (\"node_id\", \"process\"))");
}

void migrate(Poco::Data::Session& session, sql::Dialect dialect, const Catalog& catalog) {
    auto problems = check(catalog);
    if (!problems.empty()) {
        std::string message = "the model declarations cannot be turned into tables:";
        for (const auto& p : problems)
            message += "\n  - " + p;
        throw std::runtime_error(message + "\nFix the declarations in the named plugins (or disable them).");
    }
    auto& log = Poco::Logger::get("db");
    if (dialect == sql::Dialect::Postgresql) {
        // N servers may start at once on an empty database: concurrent CREATE TABLE IF NOT EXISTS
        // collide in PostgreSQL's catalog, so migrations take turns (released at COMMIT). The
        // kernel also holds Database::exclusive() around the whole start-up; this covers any caller.
        sql::query(session, dialect, "SELECT 1 FROM pg_advisory_xact_lock(?)", {kMigrationLock});
        // Each idempotent CREATE ... IF NOT EXISTS would otherwise print a notice on stderr.
        run(session, dialect, "SET LOCAL client_min_messages TO warning");
    }
    createKernelTables(session, dialect);

    run(session, dialect,
        "CREATE TABLE IF NOT EXISTS " + sql::quote(kSchemaTable) +
            " (\"plugin\" TEXT PRIMARY KEY, \"fingerprint\" TEXT, \"updated_at\" TEXT)");

    const auto parents = inheritanceOf(session, dialect, catalog);
    for (const auto& [plugin, model] : catalog.models()) {
        const std::string table = sql::quote(model.name());
        run(session, dialect, createModelTable(model, dialect));
        auto live = liveColumns(session, dialect, model.name());
        const auto parent = parents.find(model.name());
        const auto parentColumns = parent == parents.end() ? std::set<std::string>()
                                                           : liveColumns(session, dialect, parent->second);
        for (const auto& column : columnsOf(model)) {
            if (live.count(column.name))
                continue;
            // Added columns stay nullable in the database (existing rows have no value); the store
            // enforces the declared NOT NULL on every write.
            run(session, dialect,
                "ALTER TABLE " + table + " ADD COLUMN " + sql::quote(column.name) + " " +
                    sqlType(column.type, dialect));
            if (parentColumns.count(column.name))
                // vantage6 keeps ip, last_seen and status of users and nodes in `authenticatable`;
                // taken over once, when our column is added. Text, as our date-times are.
                run(session, dialect,
                    "UPDATE " + table + " SET " + sql::quote(column.name) + " = (SELECT CAST(p." +
                        sql::quote(column.name) + " AS TEXT) FROM " + sql::quote(parent->second) +
                        " p WHERE p.\"id\" = " + table + ".\"id\")");
            const auto* field = model.findField(column.name);
            if (field && !field->defaultValue.isEmpty())
                run(session, dialect,
                    "UPDATE " + table + " SET " + sql::quote(column.name) + " = ? WHERE " +
                        sql::quote(column.name) + " IS NULL",
                    {sql::normalize(field->defaultValue, field->type)});
            log.information("db: added column %s.%s (declared by plugin '%s')", model.name(), column.name,
                            plugin);
        }
        for (const auto& unique : uniquesOf(model)) {
            std::vector<std::string> quoted;
            for (const auto& c : unique.columns)
                quoted.push_back(sql::quote(c));
            try {
                run(session, dialect,
                    "CREATE UNIQUE INDEX IF NOT EXISTS " + sql::quote(unique.index) + " ON " + table + " (" +
                        join(quoted, ", ") + ")");
            } catch (const Poco::Exception& e) {
                throw std::runtime_error("cannot make " + model.name() + "(" + join(unique.columns, ", ") +
                                         ") unique as plugin '" + plugin + "' declares: " + e.displayText() +
                                         ". Remove the duplicate rows and start again.");
            }
        }
        for (const auto& r : model.references())
            run(session, dialect,
                "CREATE INDEX IF NOT EXISTS " + sql::quote(indexName(model.name(), {r.column()}, "idx")) +
                    " ON " + table + " (" + sql::quote(r.column()) + ")");
        for (const auto& a : associationsOf(model)) {
            if (shareCapitalizedTable(session, dialect, a.table, log))
                continue;
            run(session, dialect,
                "CREATE TABLE IF NOT EXISTS " + sql::quote(a.table) + " (" + sql::quote(a.ownColumn) +
                    " BIGINT NOT NULL, " + sql::quote(a.targetColumn) + " BIGINT NOT NULL, PRIMARY KEY (" +
                    sql::quote(a.ownColumn) + ", " + sql::quote(a.targetColumn) + "))");
            run(session, dialect,
                "CREATE INDEX IF NOT EXISTS " + sql::quote(indexName(a.table, {a.targetColumn}, "idx")) +
                    " ON " + sql::quote(a.table) + " (" + sql::quote(a.targetColumn) + ")");
        }
    }

    std::map<std::string, std::string> recorded;
    for (const auto& row : sql::query(session, dialect, "SELECT plugin, fingerprint FROM dq_schema").rows)
        recorded[row.at(0).convert<std::string>()] =
            row.at(1).isEmpty() ? "" : row.at(1).convert<std::string>();
    std::set<std::string> plugins;
    for (const auto& m : catalog.models())
        plugins.insert(m.plugin);
    for (const auto& plugin : plugins) {
        auto print = fingerprint(catalog, plugin);
        auto it = recorded.find(plugin);
        if (it == recorded.end()) {
            run(session, dialect, "INSERT INTO dq_schema (plugin, fingerprint, updated_at) VALUES (?, ?, ?)",
                {plugin, print, sdk::nowUtc()});
        } else if (it->second != print) {
            run(session, dialect, "UPDATE dq_schema SET fingerprint = ?, updated_at = ? WHERE plugin = ?",
                {print, sdk::nowUtc(), plugin});
            log.information("db: the model declarations of plugin '%s' changed (schema fingerprint %s)",
                            plugin, print);
        }
    }
}

void dropAll(Poco::Data::Session& session, sql::Dialect dialect, const Catalog& catalog) {
    if (dialect == sql::Dialect::Postgresql)
        run(session, dialect, "SET LOCAL client_min_messages TO warning");
    for (const auto& m : catalog.models())
        for (const auto& a : associationsOf(m.decl))
            run(session, dialect,
                (isView(session, dialect, a.table) ? "DROP VIEW IF EXISTS " : "DROP TABLE IF EXISTS ") +
                    sql::quote(a.table));
    for (const auto& m : catalog.models())
        run(session, dialect, "DROP TABLE IF EXISTS " + sql::quote(m.decl.name()));
    for (const auto* table : kKernelTables)
        run(session, dialect, "DROP TABLE IF EXISTS " + sql::quote(table));
    run(session, dialect, "DROP TABLE IF EXISTS " + sql::quote(kSchemaTable));
}

} // namespace dq::kernel::schema
