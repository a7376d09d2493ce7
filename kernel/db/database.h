// The database: a pool of Poco::Data sessions (SQLite or PostgreSQL), the schema made from the
// model declarations, and transactions that hand out a Store.
#pragma once

#include "kernel/catalog/catalog.h"
#include "kernel/db/database_uri.h"

#include <dq/sdk/store.h>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

namespace dq::kernel {

/// The database cannot be reached or the connection was lost mid-transaction (nothing was
/// committed). The HTTP server answers 503; the pool reconnects once the database is back.
class DatabaseUnavailable : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class Database {
public:
    enum class Access { Read, Write };

    /// Opens the pool; throws std::runtime_error naming the URI (password masked) when it cannot connect.
    Database(const DatabaseUri& uri, const Catalog& catalog);
    ~Database();
    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;

    /// Creates missing tables (and association tables), adds missing columns, records a schema
    /// version per plugin in `dq_schema`. Idempotent; safe on every start.
    void migrate();

    /// Runs `work` in one transaction: committed when it returns, rolled back when it throws (the
    /// exception propagates; DatabaseUnavailable when the connection is missing or was lost).
    /// SQLite writes are serialized in-process; reads run concurrently.
    void transaction(const std::function<void(sdk::Store&)>& work, Access access = Access::Write);

    /// `SELECT 1` succeeds.
    bool healthy();
    /// Drops every table of the declared models and the schema table (`--drop-all`).
    void dropAll();

    std::string dialect() const;
    const DatabaseUri& uri() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace dq::kernel
