// SQL text and values shared by the schema and the store: identifiers, placeholders, binding
// parameters and reading driver values through Poco::Data, for SQLite and PostgreSQL alike.
#pragma once

#include <Poco/Data/Session.h>
#include <dq/sdk/model.h>
#include <dq/sdk/store.h>
#include <string>
#include <vector>

namespace dq::kernel::sql {

enum class Dialect { Sqlite, Postgresql };

std::string dialectName(Dialect dialect);

/// Whether `name` is a declared-identifier we accept: [a-z_][a-z0-9_]*, at most 63 characters
/// (PostgreSQL's limit).
bool isIdentifier(const std::string& name);
/// `"name"`; throws std::invalid_argument when `name` is not an identifier we accept.
std::string quote(const std::string& name);

/// The number of `?` placeholders outside string literals, quoted identifiers and comments.
std::size_t countPlaceholders(const std::string& text);
/// The statement as the driver wants it: PostgreSQL's connector only understands `$1..$n`, so each
/// `?` outside literals becomes `$n` there; SQLite keeps `?`.
std::string placeholders(const std::string& text, Dialect dialect);

/// A driver value as the SDK shows it: integers Int64, bool stays bool, reals double, text (also
/// PostgreSQL's CLOB) std::string, NULL an empty Var.
sdk::Value fromDriver(const Poco::Dynamic::Var& value);
/// A value read from a declared column, normalized by the column's declared type.
sdk::Value normalize(const sdk::Value& value, sdk::FieldType type);
/// The same, moving a value that already has the declared type (the usual case) instead of
/// converting it through a copy.
sdk::Value normalize(sdk::Value&& value, sdk::FieldType type);

/// Throws std::invalid_argument unless `text` has as many `?` placeholders as `params` has values.
void checkPlaceholders(const std::string& text, const std::vector<sdk::Value>& params);
/// The rows of an executed statement, as query() returns them.
sdk::Rows rowsOf(Poco::Data::Statement& statement);

/// Runs a statement with `?` placeholders and bound parameters, returning its rows (empty when it
/// returns none). Parameter values: integers and bool bind as Int64, reals as double, strings as
/// text, empty as NULL.
sdk::Rows query(Poco::Data::Session& session, Dialect dialect, const std::string& text,
                const std::vector<sdk::Value>& params = {});
/// Like query() for statements without rows; returns the affected row count when the driver knows it.
std::size_t execute(Poco::Data::Session& session, Dialect dialect, const std::string& text,
                    const std::vector<sdk::Value>& params = {});

} // namespace dq::kernel::sql
