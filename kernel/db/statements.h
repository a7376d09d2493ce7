// The statements of one database connection, prepared once and re-run with new bindings: a request
// runs the same few dozen statements (BEGIN, the auth lookups, the generic list/get queries) over
// and over, and parsing them again each time was a large share of the request path.
#pragma once

#include "kernel/db/sql.h"

#include <memory>

namespace dq::kernel::sql {

/// Owned by one pooled connection and used by one thread at a time (whoever leases it); destroyed
/// before its session. Same contract as sql::query / sql::execute, whose uncached path it falls back
/// to for a text it cannot keep (several statements in one text, a column type Poco cannot read).
/// SQLite: the connection's own sqlite3_stmt per text, typed columns read without Poco's RecordSet.
/// PostgreSQL: the uncached path. Poco 1.11 can re-execute a PostgreSQL statement (one
/// PQexecPrepared instead of prepare, execute and deallocate), but a re-executed statement that
/// fails keeps a freed result and frees it again when destroyed (a double free, seen with a
/// unique violation), so a kept statement could never be let go.
class Statements {
public:
    Statements(Poco::Data::Session& session, Dialect dialect);
    ~Statements();
    Statements(const Statements&) = delete;
    Statements& operator=(const Statements&) = delete;

    sdk::Rows query(const std::string& text, const std::vector<sdk::Value>& params = {});
    std::size_t execute(const std::string& text, const std::vector<sdk::Value>& params = {});

    /// How long SQLite waits for a lock before SQLITE_BUSY (the connection's busy timeout). No-op on
    /// PostgreSQL, whose waits are bounded per transaction (lock_timeout).
    void busyTimeout(std::int64_t milliseconds);

    /// How many texts are prepared (for tests and the benchmark's curiosity).
    std::size_t size() const;

    Poco::Data::Session& session();
    Dialect dialect() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace dq::kernel::sql
