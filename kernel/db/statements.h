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
/// PostgreSQL: a statement prepared on the server per text (PQprepare), run with PQexecPrepared in
/// one round trip, its result read and freed here. Not through Poco: Poco 1.11 can re-execute a
/// PostgreSQL statement, but a re-executed statement that fails keeps a freed result and frees it
/// again when destroyed (a double free, seen with a unique violation). Errors are thrown as Poco's
/// driver words them (StatementException with the SQLSTATE, detail and constraint;
/// NotConnectedException), so that the callers' classification (unique violation, lock timeout,
/// lost connection) holds for both paths. Columns that Poco reads as dates, times or LOBs (bytea,
/// uuid) keep the uncached path, so that their values look the same either way. At most 256 texts
/// per connection, then it starts over (on PostgreSQL, one round trip deallocates them all), so that
/// texts differing only in the length of an IN (...) list do not pile up.
class Statements {
public:
    Statements(Poco::Data::Session& session, Dialect dialect);
    ~Statements();
    Statements(const Statements&) = delete;
    Statements& operator=(const Statements&) = delete;

    sdk::Rows query(const std::string& text, const std::vector<sdk::Value>& params = {});
    std::size_t execute(const std::string& text, const std::vector<sdk::Value>& params = {});
    /// Runs one or more `;`-separated commands without parameters or rows, nothing prepared: on
    /// PostgreSQL in one round trip (BEGIN READ ONLY; SET LOCAL lock_timeout = ...).
    void batch(const std::string& text);

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
