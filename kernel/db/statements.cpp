// Prepared statements per connection, through each database's own API: SQLite's and libpq's. Poco
// re-parses a SQLite statement on every execution and cannot safely re-run a PostgreSQL one.
#include "kernel/db/statements.h"

#include <Poco/Data/DataException.h>
#include <Poco/Data/LOB.h>
#include <Poco/Data/PostgreSQL/PostgreSQLException.h>
#include <Poco/Data/PostgreSQL/PostgreSQLTypes.h>
#include <Poco/Data/PostgreSQL/SessionImpl.h>
#include <Poco/Data/SQLite/Utility.h>
#include <Poco/Data/Statement.h>
#include <Poco/Exception.h>
#include <algorithm>
#include <atomic>
#include <charconv>
#include <cmath>
#include <cstring>
#include <libpq-fe.h>
#include <optional>
#include <sqlite3.h>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

namespace dq::kernel::sql {

namespace {

/// Beyond this many texts a connection starts over: texts that differ only in the length of an
/// IN (...) list or a savepoint's number must not pile up.
constexpr std::size_t kMaxStatements = 256;

/// How a column is read: as Poco would type it from the declared type, so that rows look the same
/// whether they come from here or from sql::query.
enum class Column { Integer, Boolean, Real, Text };

/// How a column Poco types as `type` is read; nothing for the types Poco reads into its own date,
/// time and LOB classes.
std::optional<Column> readAs(Poco::Data::MetaColumn::ColumnDataType type) {
    using T = Poco::Data::MetaColumn::ColumnDataType;
    switch (type) {
    case T::FDT_BOOL:
        return Column::Boolean;
    case T::FDT_INT8:
    case T::FDT_UINT8:
    case T::FDT_INT16:
    case T::FDT_UINT16:
    case T::FDT_INT32:
    case T::FDT_UINT32:
    case T::FDT_INT64:
    case T::FDT_UINT64:
        return Column::Integer;
    case T::FDT_FLOAT:
    case T::FDT_DOUBLE:
        return Column::Real;
    case T::FDT_STRING:
    case T::FDT_WSTRING:
    case T::FDT_CLOB:
        return Column::Text;
    default:
        return std::nullopt;
    }
}

/// A parameter's kind, as sql::query binds it: bool and integers as Int64, reals as double, the rest
/// as text, empty as NULL.
enum class Param { Null, Integer, Real, Text };

Param kindOf(const sdk::Value& value) {
    if (value.isEmpty())
        return Param::Null;
    if (value.type() == typeid(bool) || value.isInteger())
        return Param::Integer;
    if (value.isNumeric())
        return Param::Real;
    return Param::Text;
}

Poco::Int64 integerOf(const sdk::Value& value) {
    if (value.type() == typeid(bool))
        return value.extract<bool>() ? 1 : 0;
    return value.convert<Poco::Int64>();
}

std::string textOf(const sdk::Value& value) {
    if (value.type() == typeid(std::string))
        return value.extract<std::string>();
    if (value.type() == typeid(Poco::Data::CLOB))
        return fromDriver(value).extract<std::string>();
    return value.convert<std::string>();
}

bool blank(const char* tail) {
    for (; tail && *tail; ++tail)
        if (!(*tail == ' ' || *tail == '\n' || *tail == '\t' || *tail == '\r' || *tail == ';'))
            return false;
    return true;
}

// ---- SQLite ----

struct SqliteStatement {
    sqlite3_stmt* stmt = nullptr;
    std::vector<std::string> names;
    std::vector<Column> columns;
};

class SqliteStatements {
public:
    explicit SqliteStatements(Poco::Data::Session& session)
        : db_(Poco::Data::SQLite::Utility::dbHandle(session)) {}
    ~SqliteStatements() { clear(); }

    void clear() {
        for (auto& [text, s] : cache_)
            sqlite3_finalize(s.stmt);
        cache_.clear();
    }

    std::size_t size() const { return cache_.size(); }

    /// nullptr when the text cannot be kept (the caller runs it through Poco).
    SqliteStatement* prepare(const std::string& text) {
        if (auto it = cache_.find(text); it != cache_.end())
            return &it->second;
        if (uncacheable_.count(text))
            return nullptr;
        sqlite3_stmt* stmt = nullptr;
        const char* tail = nullptr;
        int rc = sqlite3_prepare_v3(db_, text.c_str(), static_cast<int>(text.size() + 1),
                                    SQLITE_PREPARE_PERSISTENT, &stmt, &tail);
        if (rc != SQLITE_OK)
            Poco::Data::SQLite::Utility::throwException(db_, rc & 0xff, text);
        SqliteStatement s{stmt, {}, {}};
        bool keep = stmt && blank(tail);
        try {
            const int n = keep ? sqlite3_column_count(stmt) : 0;
            for (int c = 0; c < n; ++c) {
                s.names.emplace_back(sqlite3_column_name(stmt, c));
                s.columns.push_back(columnOf(Poco::Data::SQLite::Utility::getColumnType(stmt, c)));
            }
        } catch (const Poco::Exception&) {
            keep = false; // a declared type Poco does not know: Poco's own path says so
        }
        if (!keep) {
            sqlite3_finalize(stmt);
            if (uncacheable_.size() < kMaxStatements)
                uncacheable_.insert(text);
            return nullptr;
        }
        if (cache_.size() >= kMaxStatements)
            clear();
        return &cache_.emplace(text, std::move(s)).first->second;
    }

    /// Binds, steps to the end, resets. `rows` may be null for statements whose rows nobody reads.
    std::size_t run(SqliteStatement& s, const std::vector<sdk::Value>& params, sdk::Rows* rows) {
        struct Reset {
            sqlite3_stmt* stmt;
            ~Reset() {
                sqlite3_reset(stmt);
                sqlite3_clear_bindings(stmt);
            }
        } reset{s.stmt};
        for (std::size_t i = 0; i < params.size(); ++i)
            bind(s.stmt, static_cast<int>(i + 1), params[i]);
        if (rows)
            rows->columns = s.names;
        const std::size_t n = s.columns.size();
        for (;;) {
            int rc = sqlite3_step(s.stmt);
            if (rc == SQLITE_DONE)
                break;
            if (rc != SQLITE_ROW)
                Poco::Data::SQLite::Utility::throwException(db_, rc & 0xff);
            if (!rows)
                continue;
            std::vector<sdk::Value> row;
            row.reserve(n);
            for (std::size_t c = 0; c < n; ++c)
                row.push_back(read(s.stmt, static_cast<int>(c), s.columns[c]));
            rows->rows.push_back(std::move(row));
        }
        return n == 0 ? static_cast<std::size_t>(sqlite3_changes(db_)) : rows ? rows->rows.size() : 0;
    }

    sqlite3* db() const { return db_; }

private:
    static Column columnOf(Poco::Data::MetaColumn::ColumnDataType type) {
        // SQLite stores dates, times and LOBs as text or blobs whatever the declared type.
        return readAs(type).value_or(Column::Text);
    }

    static void bind(sqlite3_stmt* stmt, int i, const sdk::Value& value) {
        switch (kindOf(value)) {
        case Param::Null:
            sqlite3_bind_null(stmt, i);
            break;
        case Param::Integer:
            sqlite3_bind_int64(stmt, i, integerOf(value));
            break;
        case Param::Real:
            sqlite3_bind_double(stmt, i, value.convert<double>());
            break;
        case Param::Text:
            if (value.type() == typeid(std::string)) {
                const auto& s = value.extract<std::string>();
                // The parameters outlive the statement's run: no copy.
                sqlite3_bind_text(stmt, i, s.data(), static_cast<int>(s.size()), SQLITE_STATIC);
            } else {
                auto s = textOf(value);
                sqlite3_bind_text(stmt, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
            }
            break;
        }
    }

    static sdk::Value read(sqlite3_stmt* stmt, int c, Column column) {
        if (sqlite3_column_type(stmt, c) == SQLITE_NULL)
            return {};
        switch (column) {
        case Column::Integer:
            return static_cast<Poco::Int64>(sqlite3_column_int64(stmt, c));
        case Column::Boolean:
            return sqlite3_column_int64(stmt, c) != 0;
        case Column::Real:
            return sqlite3_column_double(stmt, c);
        case Column::Text:
            break;
        }
        const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, c));
        return std::string(text ? text : "", static_cast<std::size_t>(sqlite3_column_bytes(stmt, c)));
    }

    sqlite3* db_;
    std::unordered_map<std::string, SqliteStatement> cache_;
    std::unordered_set<std::string> uncacheable_;
};

// ---- PostgreSQL ----

struct PgStatement {
    /// The server's name for it: unique in the process, so that two Statements on one connection
    /// (as tests make) never collide.
    std::string name;
    int params = 0;
    std::vector<std::string> names;
    std::vector<Column> columns;
};

std::atomic<std::uint64_t> pgStatementNames{0};

struct PgResultClear {
    void operator()(PGresult* result) const { PQclear(result); }
};
using PgResult = std::unique_ptr<PGresult, PgResultClear>;

/// A result that is neither rows nor a completed command, as Poco words it: the kernel reads the
/// SQLSTATE, the key columns and "lock timeout" out of this text.
[[noreturn]] void throwExecuteError(PGconn* connection, const PGresult* result) {
    auto field = [&](int code) {
        const char* value = result ? PQresultErrorField(result, code) : nullptr;
        return std::string(value ? value : "N/A");
    };
    throw Poco::Data::PostgreSQL::StatementException(
        std::string("postgresql_stmt_execute error: ") +
        (result ? PQresultErrorMessage(result) : PQerrorMessage(connection)) +
        " Severity: " + field(PG_DIAG_SEVERITY) + " State: " + field(PG_DIAG_SQLSTATE) +
        " Detail: " + field(PG_DIAG_MESSAGE_DETAIL) + " Hint: " + field(PG_DIAG_MESSAGE_HINT) +
        " Constraint: " + field(PG_DIAG_CONSTRAINT_NAME));
}

bool succeeded(const PgResult& result) {
    if (!result)
        return false;
    auto status = PQresultStatus(result.get());
    return status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
}

/// The statements of one PostgreSQL connection, prepared once with PQprepare and run with
/// PQexecPrepared: one round trip per execution instead of Poco's prepare, describe, execute and
/// deallocate. The results are read here, so a failed execution leaves nothing behind to free.
class PgStatements {
public:
    explicit PgStatements(Poco::Data::Session& session) : handle_(handleOf(session)) {}
    ~PgStatements() {
        try {
            clear();
        } catch (...) {
            // The connection is gone or its transaction failed: the statements die with it.
        }
    }

    /// Deallocates every kept statement in one round trip and forgets them. Throws (keeping them)
    /// when the server refuses, as it does inside a failed transaction.
    void clear() {
        if (cache_.empty())
            return;
        PGconn* c = *handle_;
        if (c && PQstatus(c) == CONNECTION_OK) {
            std::string text;
            for (const auto& [sql, s] : cache_)
                text += "DEALLOCATE " + s.name + ";";
            PgResult result(PQexec(c, text.c_str()));
            if (!succeeded(result) && PQstatus(c) == CONNECTION_OK)
                throwExecuteError(c, result.get());
        }
        cache_.clear();
    }

    std::size_t size() const { return cache_.size(); }

    /// nullptr when the text cannot be kept: a column Poco reads as a date, time or LOB (the
    /// caller runs it through Poco, so that such values look the same either way).
    PgStatement* prepare(const std::string& text, std::size_t params) {
        if (auto it = cache_.find(text); it != cache_.end())
            return &it->second;
        if (uncacheable_.count(text))
            return nullptr;
        PGconn* c = connection();
        if (cache_.size() >= kMaxStatements) {
            // Inside a failed transaction nothing can be deallocated, but ROLLBACK must still run.
            if (PQtransactionStatus(c) == PQTRANS_INERROR)
                return nullptr;
            clear();
        }
        PgStatement s;
        s.name = "dq_" + std::to_string(++pgStatementNames);
        s.params = static_cast<int>(params);
        const std::string translated = placeholders(text, Dialect::Postgresql);
        PgResult prepared(PQprepare(c, s.name.c_str(), translated.c_str(), s.params, nullptr));
        if (!prepared || PQresultStatus(prepared.get()) != PGRES_COMMAND_OK)
            throw Poco::Data::PostgreSQL::StatementException(
                std::string("postgresql_stmt_prepare error: ") +
                (prepared ? PQresultErrorMessage(prepared.get()) : PQerrorMessage(c)) + " " + translated);
        bool keep = true;
        try {
            PgResult described(PQdescribePrepared(c, s.name.c_str()));
            if (!described || PQresultStatus(described.get()) != PGRES_COMMAND_OK)
                throw Poco::Data::PostgreSQL::StatementException(
                    std::string("postgresql_stmt_describe error: ") +
                    (described ? PQresultErrorMessage(described.get()) : PQerrorMessage(c)) + " " +
                    translated);
            const int n = PQnfields(described.get());
            for (int i = 0; i < n && keep; ++i) {
                auto column = columnOf(PQftype(described.get(), i));
                keep = column.has_value();
                s.names.emplace_back(PQfname(described.get(), i));
                s.columns.push_back(column.value_or(Column::Text));
            }
        } catch (...) {
            deallocate(s.name);
            throw;
        }
        if (!keep) {
            deallocate(s.name);
            if (uncacheable_.size() < kMaxStatements)
                uncacheable_.insert(text);
            return nullptr;
        }
        return &cache_.emplace(text, std::move(s)).first->second;
    }

    /// Binds (as text, typed by the server from the statement, as Poco binds), executes, reads the
    /// rows into `rows` when given. Returns the rows returned or affected.
    std::size_t run(const PgStatement& s, const std::vector<sdk::Value>& params, sdk::Rows* rows) {
        PGconn* c = connection();
        std::vector<std::string> texts(params.size());
        std::vector<const char*> values(params.size(), nullptr);
        for (std::size_t i = 0; i < params.size(); ++i) {
            const auto& value = params[i];
            switch (kindOf(value)) {
            case Param::Null:
                continue;
            case Param::Integer:
                texts[i] = std::to_string(integerOf(value));
                break;
            case Param::Real: {
                // The shortest text that reads back as the same double.
                char buffer[32];
                auto end = std::to_chars(buffer, buffer + sizeof buffer, value.convert<double>()).ptr;
                texts[i].assign(buffer, end);
                break;
            }
            case Param::Text:
                if (value.type() == typeid(std::string)) {
                    values[i] = value.extract<std::string>().c_str(); // outlives the call: no copy
                    continue;
                }
                texts[i] = textOf(value);
                break;
            }
            values[i] = texts[i].c_str();
        }
        PgResult result(PQexecPrepared(c, s.name.c_str(), s.params, values.empty() ? nullptr : values.data(),
                                       nullptr, nullptr, 0));
        if (!succeeded(result))
            throwExecuteError(c, result.get());
        PGresult* r = result.get();
        if (PQresultStatus(r) == PGRES_COMMAND_OK) {
            std::size_t affected = 0;
            const char* tuples = PQcmdTuples(r);
            std::from_chars(tuples, tuples + std::strlen(tuples), affected);
            return affected;
        }
        const int count = PQntuples(r);
        const int n = static_cast<int>(s.columns.size());
        if (!rows)
            return static_cast<std::size_t>(count);
        if (PQnfields(r) != n)
            throw Poco::Data::PostgreSQL::StatementException(
                "postgresql_stmt_execute error: the statement " + s.name + " returned " +
                std::to_string(PQnfields(r)) + " columns where it was prepared with " + std::to_string(n));
        rows->columns = s.names;
        rows->rows.reserve(static_cast<std::size_t>(count));
        for (int row = 0; row < count; ++row) {
            std::vector<sdk::Value> values;
            values.reserve(static_cast<std::size_t>(n));
            for (int col = 0; col < n; ++col)
                values.push_back(PQgetisnull(r, row, col)
                                     ? sdk::Value()
                                     : read(PQgetvalue(r, row, col),
                                            static_cast<std::size_t>(PQgetlength(r, row, col)),
                                            s.columns[static_cast<std::size_t>(col)]));
            rows->rows.push_back(std::move(values));
        }
        return static_cast<std::size_t>(count);
    }

    /// Runs commands without parameters or rows, several in one text if need be, in one round trip
    /// (the simple query protocol: nothing is prepared).
    void batch(const std::string& text) {
        PGconn* c = connection();
        PgResult result(PQexec(c, text.c_str()));
        if (!succeeded(result))
            throwExecuteError(c, result.get());
    }

private:
    static Poco::Data::PostgreSQL::SessionHandle* handleOf(Poco::Data::Session& session) {
        auto* impl = dynamic_cast<Poco::Data::PostgreSQL::SessionImpl*>(session.impl());
        if (!impl)
            throw std::logic_error("sql::Statements: the session is not a PostgreSQL session");
        return &impl->handle();
    }

    /// The connection, as Poco checks it before each statement.
    PGconn* connection() const {
        PGconn* c = *handle_;
        if (!c || PQstatus(c) != CONNECTION_OK)
            throw Poco::Data::NotConnectedException();
        return c;
    }

    void deallocate(const std::string& name) {
        PgResult ignored(PQexec(*handle_, ("DEALLOCATE " + name).c_str()));
    }

    /// As Poco types a result column (oidToColumnDataType); nothing for the types whose values Poco
    /// turns into its own date, time and LOB classes.
    static std::optional<Column> columnOf(Oid type) {
        return readAs(Poco::Data::PostgreSQL::oidToColumnDataType(type));
    }

    static sdk::Value read(const char* text, std::size_t size, Column column) {
        switch (column) {
        case Column::Integer: {
            Poco::Int64 value = 0;
            std::from_chars(text, text + size, value);
            return value;
        }
        case Column::Boolean:
            return size > 0 && text[0] == 't';
        case Column::Real: {
            // Poco reads NaN and Infinity (which its parser does not know) as 0; so do we.
            double value = 0;
            auto [end, error] = std::from_chars(text, text + size, value);
            if (error != std::errc() || !std::isfinite(value))
                value = 0;
            return value;
        }
        case Column::Text:
            break;
        }
        return std::string(text, size);
    }

    Poco::Data::PostgreSQL::SessionHandle* handle_;
    std::unordered_map<std::string, PgStatement> cache_;
    std::unordered_set<std::string> uncacheable_;
};

} // namespace

struct Statements::Impl {
    Poco::Data::Session& session;
    Dialect dialect;
    std::unique_ptr<SqliteStatements> sqlite;
    std::unique_ptr<PgStatements> pg;
};

Statements::Statements(Poco::Data::Session& session, Dialect dialect)
    : impl_(std::make_unique<Impl>(Impl{session, dialect, nullptr, nullptr})) {
    if (dialect == Dialect::Sqlite)
        impl_->sqlite = std::make_unique<SqliteStatements>(session);
    else
        impl_->pg = std::make_unique<PgStatements>(session);
}

Statements::~Statements() = default;

sdk::Rows Statements::query(const std::string& text, const std::vector<sdk::Value>& params) {
    checkPlaceholders(text, params);
    sdk::Rows rows;
    if (impl_->pg) {
        if (auto* s = impl_->pg->prepare(text, params.size())) {
            impl_->pg->run(*s, params, &rows);
            return rows;
        }
    } else if (auto* s = impl_->sqlite->prepare(text)) {
        impl_->sqlite->run(*s, params, &rows);
        return rows;
    }
    return sql::query(impl_->session, impl_->dialect, text, params);
}

std::size_t Statements::execute(const std::string& text, const std::vector<sdk::Value>& params) {
    checkPlaceholders(text, params);
    if (impl_->pg) {
        if (auto* s = impl_->pg->prepare(text, params.size()))
            return impl_->pg->run(*s, params, nullptr);
    } else if (auto* s = impl_->sqlite->prepare(text)) {
        return impl_->sqlite->run(*s, params, nullptr);
    }
    return sql::execute(impl_->session, impl_->dialect, text, params);
}

void Statements::batch(const std::string& text) {
    if (impl_->pg) {
        impl_->pg->batch(text);
        return;
    }
    sqlite3* db = impl_->sqlite->db();
    if (int rc = sqlite3_exec(db, text.c_str(), nullptr, nullptr, nullptr); rc != SQLITE_OK)
        Poco::Data::SQLite::Utility::throwException(db, rc & 0xff, text);
}

void Statements::busyTimeout(std::int64_t milliseconds) {
    if (impl_->sqlite)
        sqlite3_busy_timeout(impl_->sqlite->db(),
                             static_cast<int>(std::min<std::int64_t>(milliseconds, 1 << 30)));
}

std::size_t Statements::size() const {
    return impl_->sqlite ? impl_->sqlite->size() : impl_->pg->size();
}

Poco::Data::Session& Statements::session() {
    return impl_->session;
}

Dialect Statements::dialect() const {
    return impl_->dialect;
}

} // namespace dq::kernel::sql
