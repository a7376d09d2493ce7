// The database: a pool of Poco::Data sessions (SQLite or PostgreSQL), the schema made from the
// model declarations, and transactions that hand out a Store.
#pragma once

#include "kernel/catalog/catalog.h"
#include "kernel/db/database_uri.h"

#include <dq/sdk/services.h>
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

/// Told about every transaction a Database runs, on the thread that runs it: the outbox
/// (kernel/events) keeps the events emitted during a transaction and writes them into it just before
/// it commits, so an event exists exactly when its change does.
class TransactionListener {
public:
    virtual ~TransactionListener() = default;
    /// A transaction starts on this thread (`write`: it may write).
    virtual void begun(bool write) = 0;
    /// A write transaction's work returned; the last statements before COMMIT.
    virtual void committing(sdk::Store& store) = 0;
    /// The transaction committed or rolled back.
    virtual void ended(bool committed) = 0;
    /// Handed to the models' insert hooks (sdk::Registry::afterInsert).
    virtual sdk::Events& events() = 0;
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

    /// Sets who is told about each transaction (nullptr: nobody). Set once, before concurrent use.
    void listen(TransactionListener* listener);

    /// Runs `work` while holding the database-wide lock that start-ups take, so that N processes
    /// starting at once create and seed the schema one after the other: on PostgreSQL
    /// pg_advisory_lock on a connection of its own (released with it, even when the process dies);
    /// SQLite has one process and needs none.
    void exclusive(const std::function<void()>& work);

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
