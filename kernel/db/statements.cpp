// Prepared statements per connection, SQLite through its own API: Poco re-parses a statement on
// every execution.
#include "kernel/db/statements.h"

#include <Poco/Data/LOB.h>
#include <Poco/Data/SQLite/Utility.h>
#include <Poco/Data/Statement.h>
#include <Poco/Exception.h>
#include <algorithm>
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
        default:
            return Column::Text;
        }
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

} // namespace

struct Statements::Impl {
    Poco::Data::Session& session;
    Dialect dialect;
    std::unique_ptr<SqliteStatements> sqlite;
};

Statements::Statements(Poco::Data::Session& session, Dialect dialect)
    : impl_(std::make_unique<Impl>(Impl{session, dialect, nullptr})) {
    if (dialect == Dialect::Sqlite)
        impl_->sqlite = std::make_unique<SqliteStatements>(session);
}

Statements::~Statements() = default;

sdk::Rows Statements::query(const std::string& text, const std::vector<sdk::Value>& params) {
    checkPlaceholders(text, params);
    auto* s = impl_->sqlite ? impl_->sqlite->prepare(text) : nullptr;
    if (!s)
        return sql::query(impl_->session, impl_->dialect, text, params);
    sdk::Rows rows;
    impl_->sqlite->run(*s, params, &rows);
    return rows;
}

std::size_t Statements::execute(const std::string& text, const std::vector<sdk::Value>& params) {
    checkPlaceholders(text, params);
    auto* s = impl_->sqlite ? impl_->sqlite->prepare(text) : nullptr;
    if (!s)
        return sql::execute(impl_->session, impl_->dialect, text, params);
    return impl_->sqlite->run(*s, params, nullptr);
}

void Statements::busyTimeout(std::int64_t milliseconds) {
    if (impl_->sqlite)
        sqlite3_busy_timeout(impl_->sqlite->db(), static_cast<int>(std::min<std::int64_t>(milliseconds, 1 << 30)));
}

std::size_t Statements::size() const {
    return impl_->sqlite ? impl_->sqlite->size() : 0;
}

Poco::Data::Session& Statements::session() {
    return impl_->session;
}

Dialect Statements::dialect() const {
    return impl_->dialect;
}

} // namespace dq::kernel::sql
