// The database: a pool of Poco::Data sessions (SQLite or PostgreSQL), the schema made from the
// model declarations, and transactions that hand out a Store.
#pragma once

#include "kernel/catalog/catalog.h"
#include "kernel/db/database_uri.h"

#include <dq/sdk/services.h>

#include <chrono>
#include <dq/sdk/store.h>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>

namespace dq::kernel {

/// The database cannot be reached or the connection was lost mid-transaction (nothing was
/// committed). The HTTP server answers 503; the pool reconnects once the database is back.
class DatabaseUnavailable : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// The database is there but busy: SQLite's write lock or PostgreSQL's row locks were not granted
/// in time, or no pooled session became free. Nothing was committed; the HTTP server answers 503
/// with Retry-After.
class DatabaseBusy : public DatabaseUnavailable {
public:
    using DatabaseUnavailable::DatabaseUnavailable;
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

/// Told what each committing transaction wrote (SqlStore::written(): "table" or "table.column"),
/// on the thread that runs it: kernel caches of rows follow the changes through it.
class WriteWatcher {
public:
    virtual ~WriteWatcher() = default;
    /// Still inside the transaction, before the listener's last statements: events emitted now go
    /// with it.
    virtual void committing(const std::set<std::string>& written) = 0;
    /// The transaction has committed; before the caller goes on.
    virtual void committed(const std::set<std::string>& written) = 0;
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

    /// How long a transaction may wait for a session, SQLite's write lock or PostgreSQL's locks.
    /// Patient: as long as it takes (commands, import, start-up). Bounded: a few seconds, then
    /// DatabaseBusy (requests, which must answer quickly).
    enum class Wait { Patient, Bounded };

    /// One transaction on one pooled session, held from construction until commit() or destruction
    /// (rolled back unless committed). A thread holds at most one session of a database at a time:
    /// opening a second transaction on a thread that holds one throws std::logic_error, because
    /// waiting for a second session while holding one deadlocks once every session is held that way.
    class Transaction {
    public:
        Transaction(Database& database, Access access, Wait wait = Wait::Patient);
        ~Transaction();
        Transaction(const Transaction&) = delete;
        Transaction& operator=(const Transaction&) = delete;

        /// Valid until commit() or destruction.
        sdk::Store& store();
        /// Commits and releases the session. DatabaseUnavailable when the connection was lost.
        void commit();
        /// Rolls back and releases the session; call from a catch block before rethrowing. Throws
        /// DatabaseUnavailable when the connection was lost, DatabaseBusy when the database was busy.
        void fail();
        /// A token for the data this read transaction sees, taken before anything else is read in
        /// it: two transactions with the same token see the same data, because no write committed
        /// (in any process) between them. nullopt when that cannot be told this time. Changes with
        /// every write, whatever it touched: it says "unchanged", never "changed".
        std::optional<std::string> dataVersion();

    private:
        struct State;
        /// Returns the session to the pool, then tells the listener how the transaction ended.
        void release(bool committed);
        std::unique_ptr<State> state_;
    };

    /// Runs `work` in one transaction: committed when it returns, rolled back when it throws (the
    /// exception propagates; DatabaseUnavailable when the connection is missing or was lost,
    /// DatabaseBusy when it was busy). SQLite writes are serialized in-process; reads run concurrently.
    void transaction(const std::function<void(sdk::Store&)>& work, Access access = Access::Write,
                     Wait wait = Wait::Patient);

    /// The data version (Transaction::dataVersion) as of now, read without a transaction: one
    /// statement. To look up what was computed at a version; what is computed must be tagged with
    /// the version of the transaction it was computed in.
    std::optional<std::string> dataVersion();

    /// Whether the calling thread holds a session of any Database (a transaction is open on it).
    static bool sessionHeldOnThisThread();

    /// While it lives, bounded transactions on this thread wait no later than `deadline` (a
    /// request's whole budget: its waits add up, and it must answer within a few seconds).
    class Deadline {
    public:
        explicit Deadline(std::chrono::steady_clock::time_point deadline);
        ~Deadline();
        /// The calling thread's deadline, if one is set.
        static std::optional<std::chrono::steady_clock::time_point> current();

    private:
        std::optional<std::chrono::steady_clock::time_point> previous_;
    };

    /// Sets who is told about each transaction (nullptr: nobody). Set once, before concurrent use.
    void listen(TransactionListener* listener);
    /// Sets who is told what each transaction wrote (nullptr: nobody). Set once, before concurrent use.
    void watchWrites(WriteWatcher* watcher);

    /// Runs `work` while holding the database-wide lock that start-ups take, so that N processes
    /// starting at once create and seed the schema one after the other: on PostgreSQL
    /// pg_advisory_lock on a connection of its own (released with it, even when the process dies);
    /// SQLite has one process and needs none.
    void exclusive(const std::function<void()>& work);

    /// `SELECT 1` succeeds, on a connection of its own so that it never waits for the pool; when
    /// another check is running, the result of the last one (health checks never queue).
    bool healthy();
    /// Closes the pooled connections that are not in use, and the health check's: the server is
    /// idle, and their page caches, parsed schemas and prepared statements, made wherever the heap
    /// had room during the last burst, would keep that memory from going back to the system. The
    /// next request opens a connection again. An in-memory database keeps its one connection.
    void closeIdleConnections();
    /// Drops every table of the declared models and the schema table (`--drop-all`).
    void dropAll();

    std::string dialect() const;
    const DatabaseUri& uri() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace dq::kernel
