// The tables made from the model declarations: columns and their SQL types per dialect, uniqueness
// indexes, association tables, the migration run on every start and each plugin's schema fingerprint.
#pragma once

#include "kernel/catalog/catalog.h"
#include "kernel/db/sql.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace dq::kernel::schema {

struct Column {
    std::string name;
    sdk::FieldType type = sdk::FieldType::Text;
    bool nullable = true;
};

/// The columns of a model's table: `id` first, then the fields, then one `<reference>_id` per reference.
std::vector<Column> columnsOf(const sdk::ModelDecl& model);
/// The declared type of `column` ("id", a field, or a reference's `<name>_id`); nullopt when unknown.
std::optional<sdk::FieldType> columnType(const sdk::ModelDecl& model, const std::string& column);

/// A uniqueness rule (a unique field or a uniqueTogether group) and the name of its index.
struct Unique {
    std::string index;
    std::vector<std::string> columns;
};
std::vector<Unique> uniquesOf(const sdk::ModelDecl& model);

/// An association table declared by `model`, with the default column names filled in.
struct AssociationTable {
    std::string name; ///< the association's name on the declaring model
    std::string table;
    std::string model;
    std::string target;
    std::string ownColumn;
    std::string targetColumn;
};
std::vector<AssociationTable> associationsOf(const sdk::ModelDecl& model);

/// Joined-table inheritance in the live database, as vantage6 (SQLAlchemy) makes it: a model table
/// whose `id` is a foreign key to another table's `id` (vantage6's `user` and `node` are each also a
/// row of `authenticatable`, one id sequence for both). Model table -> parent table; our own schema
/// has none. The store gives each new row its parent row first (with `type` = the model's name, the
/// discriminator SQLAlchemy reads) and removes it with the row.
using Inheritance = std::map<std::string, std::string>;
Inheritance inheritanceOf(Poco::Data::Session& session, sql::Dialect dialect, const Catalog& catalog);

/// Declarations that cannot become tables (bad or clashing names), each naming plugin and model.
std::vector<std::string> check(const Catalog& catalog);

/// A digest of what in `plugin`'s model declarations shapes the schema.
std::string fingerprint(const Catalog& catalog, const std::string& plugin);

/// Creates missing tables and indexes, adds missing columns, records fingerprints in `dq_schema`.
/// Runs inside the caller's transaction. Throws std::runtime_error listing every problem.
void migrate(Poco::Data::Session& session, sql::Dialect dialect, const Catalog& catalog);
/// The kernel's tables: `dq_outbox` (events as rows), `dq_outbox_reader` (each process's position),
/// `dq_presence` (node connections per process, with an expiry). Part of migrate().
void createKernelTables(Poco::Data::Session& session, sql::Dialect dialect);
/// Drops the tables of every declared model, their association tables, the kernel's tables and
/// `dq_schema`.
void dropAll(Poco::Data::Session& session, sql::Dialect dialect, const Catalog& catalog);

} // namespace dq::kernel::schema
