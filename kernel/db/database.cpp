// The database: a session pool, transactions around a Store, the schema from the declarations.
#include "kernel/db/database.h"

#include "kernel/db/schema.h"
#include "kernel/db/sql_store.h"
#include "kernel/db/statements.h"

#include <Poco/Data/PostgreSQL/Connector.h>
#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/SQLite/SQLiteException.h>
#include <Poco/Exception.h>
#include <Poco/File.h>
#include <Poco/Path.h>
#include <sqlite3.h>
#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <semaphore>
#include <stdexcept>

namespace dq::kernel {

namespace {

constexpr int kMaxSessions = 16;
constexpr auto kPatientWait = std::chrono::seconds(30);
/// A request's whole budget for waiting (session, write lock, busy database): it must answer soon.
constexpr auto kBoundedWait = std::chrono::milliseconds(3000);

using Clock = std::chrono::steady_clock;

void registerConnectors() {
    static std::once_flag once;
    std::call_once(once, [] {
        // Before SQLite initializes: with memory statistics on, every SQLite allocation takes one
        // process-wide mutex, and the workers queue on it (a quarter of a list request's time under
        // load). The server never reads those statistics.
        sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
        Poco::Data::SQLite::Connector::registerConnector();
        Poco::Data::PostgreSQL::Connector::registerConnector();
    });
}

/// The session this thread holds, if any. One per thread: a thread that waits for a second pooled
/// session while holding one can wait forever (16 such threads hold all 16 sessions).
thread_local const void* sessionHeldBy = nullptr;

/// The deadline of the request this thread serves, if any (Database::Deadline).
thread_local std::optional<std::chrono::steady_clock::time_point> threadDeadline;

/// Whether the exception being handled says the database is busy (locked), not broken.
bool busy() {
    try {
        throw;
    } catch (const Poco::Data::SQLite::DBLockedException&) {
        return true;
    } catch (const Poco::Data::SQLite::TableLockedException&) {
        return true;
    } catch (const Poco::Exception& e) {
        // PostgreSQL: lock_timeout, deadlock, serialization failure.
        const auto text = e.displayText();
        for (const char* sign : {"lock timeout", "deadlock detected", "could not serialize access",
                                 "could not obtain lock", "database is locked"})
            if (text.find(sign) != std::string::npos)
                return true;
        return false;
    } catch (...) {
        return false;
    }
}

/// One pooled connection and the statements prepared on it, which live and die with it (declared
/// after the session, so they are finalized before it closes).
struct Connection {
    Connection(sql::Dialect dialect, const std::string& connector, const std::string& connection)
        : session(connector, connection), statements(session, dialect) {
        if (dialect != sql::Dialect::Sqlite)
            return;
        // Set once per connection, not in every transaction: these settings belong to the
        // connection and never change. The kernel applies the declared delete rules itself.
        statements.execute("PRAGMA foreign_keys = OFF");
        // With WAL, NORMAL syncs at checkpoints instead of every commit: a crashed or killed
        // process loses nothing, a power cut at most the last commits, and the database stays
        // whole either way. Writers (serialized) hold the lock for microseconds, not an fsync.
        statements.execute("PRAGMA synchronous = NORMAL");
        // 1 MB of page cache per pooled connection (of 16), not SQLite's 2 MB: the file is in
        // the operating system's cache anyway.
        statements.execute("PRAGMA cache_size = -1024");
    }
    Poco::Data::Session session;
    sql::Statements statements;
    std::chrono::steady_clock::time_point idleSince;
    /// SQLite's `PRAGMA data_version` as this connection last read it (it changes when another
    /// connection, of this process or another, commits).
    std::optional<std::int64_t> dataVersion;
    /// SQLite's `query_only` as last set on this connection. Setting it expires every statement
    /// prepared on the connection (SQLite recompiles them at their next step), so it is set only
    /// when a transaction needs the other value.
    std::optional<bool> queryOnly;
};

/// How long an idle connection beyond the first stays open.
constexpr auto kIdleTimeout = std::chrono::seconds(60);

} // namespace

struct Database::Impl {
    DatabaseUri uri;
    const Catalog& catalog;
    sql::Dialect dialect;
    bool memory = false;
    // The pool: idle connections, most recently used last. Its own rather than Poco's SessionPool,
    // so that each connection keeps its prepared statements.
    std::mutex idleLock;
    std::vector<std::unique_ptr<Connection>> idle;
    // At most kMaxSessions connections are leased at once; callers wait for a free one.
    std::counting_semaphore<kMaxSessions> slots;
    std::timed_mutex writeLock;
    /// How many leases ended that may have written (SQLite). A connection's data_version does not
    /// move for its own commits; this count does.
    std::atomic<std::uint64_t> writesEnded{0};
    TransactionListener* listener = nullptr;
    // Found by migrate(), before any concurrent use; read by every store.
    schema::Inheritance inheritance;
    WriteWatcher* watcher = nullptr;
    // The health check's own connection (not pooled), so that it never waits behind requests.
    std::timed_mutex healthLock;
    std::optional<Poco::Data::Session> healthSession;
    std::atomic<bool> lastHealthy{true};

    Impl(const DatabaseUri& u, const Catalog& c)
        : uri(u), catalog(c),
          dialect(u.kind == DatabaseUri::Kind::Sqlite ? sql::Dialect::Sqlite : sql::Dialect::Postgresql),
          memory(u.kind == DatabaseUri::Kind::Sqlite && u.path == ":memory:"),
          slots(memory ? 1 : kMaxSessions) {}

    /// A session from the pool, returned (and its slot freed) when the lease ends.
    class Lease {
    public:
        Lease(Impl& impl, Clock::time_point deadline) : impl_(impl) {
            if (!impl.slots.try_acquire_until(deadline))
                throw DatabaseBusy("no free connection to the database " + impl.uri.display() +
                                   " in time; the database may be overloaded or a transaction is stuck");
            try {
                connection_ = impl.take();
            } catch (const Poco::Exception& e) {
                impl.slots.release();
                throw DatabaseUnavailable("cannot connect to the database " + impl.uri.display() + ": " +
                                          impl.clean(e.displayText()));
            } catch (...) {
                impl.slots.release();
                throw;
            }
        }
        ~Lease() {
            // Before the connection is free again: whoever uses it next must see the count moved.
            if (mayHaveWritten)
                ++impl_.writesEnded;
            impl_.giveBack(std::move(connection_));
            impl_.slots.release();
        }
        Poco::Data::Session& session() { return connection_->session; }
        sql::Statements& statements() { return connection_->statements; }
        std::optional<bool>& queryOnly() { return connection_->queryOnly; }
        std::optional<std::int64_t>& dataVersion() { return connection_->dataVersion; }
        /// Cleared by a read-only transaction: nothing it ran could write.
        bool mayHaveWritten = true;

    private:
        Impl& impl_;
        std::unique_ptr<Connection> connection_;
    };

    /// An idle connection that still works, or a new one.
    std::unique_ptr<Connection> take() {
        std::vector<std::unique_ptr<Connection>> stale;
        std::unique_ptr<Connection> found;
        {
            std::lock_guard<std::mutex> lock(idleLock);
            if (!idle.empty()) {
                found = std::move(idle.back());
                idle.pop_back();
            }
            stale = expired();
        }
        if (found && !connected(found->session))
            found.reset();
        if (!found)
            found = std::make_unique<Connection>(dialect, uri.connector(), uri.connectionString());
        return found;
    }

    void giveBack(std::unique_ptr<Connection> connection) {
        if (!connection || !connected(connection->session))
            return;
        connection->idleSince = Clock::now();
        std::vector<std::unique_ptr<Connection>> stale;
        std::lock_guard<std::mutex> lock(idleLock);
        idle.push_back(std::move(connection));
        stale = expired();
    }

    /// Takes the connections idle for longer than kIdleTimeout out of the pool (keeping one), to be
    /// closed outside the lock. An in-memory database keeps its one connection.
    std::vector<std::unique_ptr<Connection>> expired() {
        std::vector<std::unique_ptr<Connection>> out;
        if (memory)
            return out;
        auto limit = Clock::now() - kIdleTimeout;
        // The oldest come first.
        std::size_t n = 0;
        while (n + 1 < idle.size() && idle[n]->idleSince < limit)
            ++n;
        for (std::size_t i = 0; i < n; ++i)
            out.push_back(std::move(idle[i]));
        idle.erase(idle.begin(), idle.begin() + static_cast<std::ptrdiff_t>(n));
        return out;
    }

    std::string connectHint() const {
        return dialect == sql::Dialect::Sqlite
                   ? ". Check that the folder exists and is writable, or fix the uri in the config."
                   : ". Check that the server runs and accepts this user and password, or fix the uri in "
                     "the config.";
    }

    /// The driver's message without the password, which libpq may echo back.
    std::string clean(std::string message) const {
        if (!uri.password.empty())
            for (auto at = message.find(uri.password); at != std::string::npos;
                 at = message.find(uri.password, at))
                message.replace(at, uri.password.size(), "***");
        return message;
    }

    void begin(Lease& lease, Access access, std::optional<Clock::time_point> deadline) {
        auto waitMs = [&] {
            if (!deadline)
                return std::int64_t(5000);
            auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - Clock::now()).count();
            return std::max<std::int64_t>(left, 1);
        };
        auto& statements = lease.statements();
        if (dialect == sql::Dialect::Sqlite) {
            statements.busyTimeout(waitMs());
            const bool queryOnly = access == Access::Read;
            if (lease.queryOnly() != queryOnly) {
                statements.execute(queryOnly ? "PRAGMA query_only = 1" : "PRAGMA query_only = 0");
                lease.queryOnly() = queryOnly;
            }
            // IMMEDIATE takes the write lock up front; a deferred upgrade could fail with SQLITE_BUSY
            // when another process writes.
            statements.execute(access == Access::Write ? "BEGIN IMMEDIATE" : "BEGIN");
        } else {
            // One round trip for the transaction, its access mode and its lock wait. Not through
            // Poco's session.begin(): the kernel ends its transactions itself too (end()), so Poco
            // never believes a transaction open, and its uncached statements deallocate themselves
            // at once instead of at a commit it would never see.
            std::string text = access == Access::Read ? "BEGIN READ ONLY" : "BEGIN";
            if (deadline)
                text += "; SET LOCAL lock_timeout = " + std::to_string(waitMs());
            try {
                statements.batch(text);
            } catch (...) {
                // A transaction begun but not set up must not go back to the pool open.
                try {
                    statements.batch("ROLLBACK");
                } catch (...) {
                }
                throw;
            }
        }
    }

    /// Transaction::dataVersion on `lease`, inside a read transaction or alone (autocommit).
    std::optional<std::string> dataVersion(Lease& lease) {
        auto& statements = lease.statements();
        if (dialect != sql::Dialect::Sqlite) {
            // The transactions committed so far, as this snapshot sees them (xmin:xmax:in-progress):
            // any commit since moves xmax or leaves the in-progress list. READ COMMITTED reads later
            // statements from newer snapshots; then the token is older than the data, never newer.
            auto rows = statements.query("SELECT txid_current_snapshot()::text", {});
            if (rows.rows.empty())
                return std::nullopt;
            return "pg " + rows.rows[0][0].convert<std::string>();
        }
        // Read before the snapshot exists (the first read below makes it): a write committed after
        // this load is either seen below, or moves the count.
        const auto before = writesEnded.load();
        auto rows = statements.query("PRAGMA data_version", {});
        if (rows.rows.empty())
            return std::nullopt;
        const auto version = rows.rows[0][0].convert<Poco::Int64>();
        auto& seen = lease.dataVersion();
        if (seen != version) {
            // Another connection committed since this one last looked: moving the count tells
            // every connection, including those that saw the commit already.
            seen = version;
            ++writesEnded;
            return std::nullopt;
        }
        if (writesEnded.load() != before)
            return std::nullopt;
        return "sqlite " + std::to_string(before);
    }

    /// COMMIT or ROLLBACK.
    void end(Lease& lease, const std::string& how) {
        if (dialect == sql::Dialect::Sqlite)
            lease.statements().execute(how);
        else
            lease.statements().batch(how);
    }

    static bool connected(Poco::Data::Session& session) {
        try {
            return session.isConnected();
        } catch (...) {
            return false;
        }
    }

    /// Rethrows the exception being handled as DatabaseUnavailable, keeping its message.
    [[noreturn]] void throwUnavailable() const {
        std::string what = "unknown error";
        try {
            throw;
        } catch (const Poco::Exception& e) {
            what = e.displayText();
        } catch (const std::exception& e) {
            what = e.what();
        } catch (...) {
        }
        throw DatabaseUnavailable("lost the connection to the database " + uri.display() + ": " +
                                  clean(what));
    }

    /// Rethrows the exception being handled as DatabaseBusy when it says the database is busy.
    void rethrowIfBusy() const {
        if (busy())
            throw DatabaseBusy("the database " + uri.display() + " is busy (locked by another transaction)");
    }
};

struct Database::Transaction::State {
    Impl& impl;
    std::unique_lock<std::timed_mutex> lock;
    std::optional<Impl::Lease> lease;
    std::optional<SqlStore> store;
    bool open = false;
    bool write = false;
    // The listener was told this transaction began and awaits its end.
    bool announced = false;

    explicit State(Impl& i) : impl(i) {}
    ~State() {
        if (lease)
            sessionHeldBy = nullptr;
    }
};

Database::Transaction::Transaction(Database& database, Access access, Wait wait)
    : state_(std::make_unique<State>(*database.impl_)) {
    auto& d = *database.impl_;
    if (sessionHeldBy)
        throw std::logic_error(
            "a second database session was requested on a thread that already holds one; do the work "
            "with the open transaction's Store, or end that transaction first (RequestContext::commit)");
    std::optional<Clock::time_point> deadline;
    if (wait == Wait::Bounded) {
        deadline = Clock::now() + kBoundedWait;
        if (threadDeadline && *threadDeadline < *deadline)
            deadline = threadDeadline;
        if (*deadline <= Clock::now())
            throw DatabaseBusy("no time left to wait for the database " + d.uri.display() +
                               ": the request already waited its share");
    }
    // SQLite allows one writer: queue writers here instead of letting them fail with "database is
    // locked". An in-memory database has a single connection, so everything queues.
    bool serialize = d.dialect == sql::Dialect::Sqlite && (access == Access::Write || d.memory);
    if (serialize) {
        state_->lock = std::unique_lock<std::timed_mutex>(d.writeLock, std::defer_lock);
        if (!state_->lock.try_lock_until(deadline.value_or(Clock::now() + std::chrono::hours(24 * 365))))
            throw DatabaseBusy("the database " + d.uri.display() +
                               " is busy: another request holds the write lock");
    }
    state_->lease.emplace(d, deadline.value_or(Clock::now() + kPatientWait));
    sessionHeldBy = &d;
    auto& session = state_->lease->session();
    try {
        d.begin(*state_->lease, access, deadline);
    } catch (...) {
        // A pooled connection the database closed (a restart) fails here first.
        if (!Impl::connected(session))
            d.throwUnavailable();
        d.rethrowIfBusy();
        throw;
    }
    state_->open = true;
    state_->write = access == Access::Write;
    state_->lease->mayHaveWritten = state_->write;
    if (d.listener) {
        d.listener->begun(state_->write);
        state_->announced = true;
    }
    state_->store.emplace(session, d.dialect, d.catalog, d.listener ? &d.listener->events() : nullptr,
                          &d.inheritance, &state_->lease->statements());
}

void Database::Transaction::release(bool committed) {
    auto& d = state_->impl;
    bool announced = state_->announced;
    // The session goes back to the pool before the listener hears the end: what it does then (write
    // the events of a read-only transaction) runs in a transaction of its own.
    state_ = std::make_unique<State>(d);
    if (announced && d.listener)
        d.listener->ended(committed);
}

Database::Transaction::~Transaction() {
    if (state_ && state_->open) {
        try {
            state_->impl.end(*state_->lease, "ROLLBACK");
        } catch (...) {
        }
    }
    if (state_ && state_->announced) {
        try {
            release(false);
        } catch (...) {
        }
    }
}

sdk::Store& Database::Transaction::store() {
    if (!state_->open)
        throw std::logic_error("the transaction has ended; its Store is no longer usable");
    return *state_->store;
}

void Database::Transaction::commit() {
    if (!state_->open)
        throw std::logic_error("the transaction has already ended");
    auto* watcher = state_->impl.watcher;
    std::set<std::string> written;
    try {
        if (watcher && !state_->store->written().empty()) {
            written = state_->store->written();
            watcher->committing(written);
        }
        if (state_->write && state_->impl.listener)
            state_->impl.listener->committing(*state_->store);
        state_->impl.end(*state_->lease, "COMMIT");
    } catch (...) {
        fail();
        throw;
    }
    state_->open = false;
    release(true);
    if (!written.empty())
        watcher->committed(written);
}

void Database::Transaction::fail() {
    auto& d = state_->impl;
    if (state_->open) {
        state_->open = false;
        auto& session = state_->lease->session();
        try {
            d.end(*state_->lease, "ROLLBACK");
        } catch (...) {
            // The connection is gone or the failed commit already ended the transaction.
        }
        bool lost = !Impl::connected(session);
        release(false);
        if (lost)
            d.throwUnavailable();
    } else {
        release(false);
    }
    d.rethrowIfBusy();
}

std::optional<std::string> Database::Transaction::dataVersion() {
    if (!state_->open || state_->write)
        return std::nullopt;
    return state_->impl.dataVersion(*state_->lease);
}

std::optional<std::string> Database::dataVersion() {
    auto& d = *impl_;
    if (sessionHeldBy)
        throw std::logic_error("Database::dataVersion() on a thread that holds a session: use the transaction's");
    std::optional<Clock::time_point> deadline = threadDeadline;
    if (!deadline || *deadline > Clock::now() + kBoundedWait)
        deadline = Clock::now() + kBoundedWait;
    Impl::Lease lease(d, *deadline);
    lease.mayHaveWritten = false;
    try {
        return d.dataVersion(lease);
    } catch (const Poco::Exception&) {
        if (!Impl::connected(lease.session()))
            d.throwUnavailable();
        d.rethrowIfBusy();
        throw;
    }
}

bool Database::sessionHeldOnThisThread() {
    return sessionHeldBy != nullptr;
}

Database::Deadline::Deadline(std::chrono::steady_clock::time_point deadline) : previous_(threadDeadline) {
    threadDeadline = deadline;
}

Database::Deadline::~Deadline() {
    threadDeadline = previous_;
}

std::optional<std::chrono::steady_clock::time_point> Database::Deadline::current() {
    return threadDeadline;
}

Database::Database(const DatabaseUri& uri, const Catalog& catalog)
    : impl_(std::make_unique<Impl>(uri, catalog)) {
    registerConnectors();
    auto& d = *impl_;
    if (d.dialect == sql::Dialect::Sqlite && !d.memory) {
        // Poco's SQLite connector retries a failing open for a minute; say what is wrong at once.
        Poco::File folder(Poco::Path(uri.path).parent());
        if (!folder.exists() || !folder.isDirectory())
            throw std::runtime_error("cannot open the database " + uri.display() + ": the folder " +
                                     folder.path() +
                                     " does not exist. Create it, or fix the uri in the config.");
    }
    try {
        // An in-memory SQLite database lives and dies with its one connection: slots is 1 and
        // expired() keeps it.
        Impl::Lease lease(d, Clock::now() + kPatientWait);
        if (d.dialect == sql::Dialect::Sqlite && !d.memory)
            // WAL lets readers run while one writer writes; the mode is stored in the file.
            sql::query(lease.session(), d.dialect, "PRAGMA journal_mode=WAL");
        sql::query(lease.session(), d.dialect, "SELECT 1");
    } catch (const Poco::Exception& e) {
        throw std::runtime_error("cannot connect to the database " + uri.display() + ": " +
                                 d.clean(e.displayText()) + d.connectHint());
    } catch (const DatabaseUnavailable& e) {
        throw std::runtime_error(e.what() + d.connectHint());
    }
}

Database::~Database() = default;

void Database::migrate() {
    try {
        transaction([this](sdk::Store& store) {
            auto& session = static_cast<SqlStore&>(store).session();
            schema::migrate(session, impl_->dialect, impl_->catalog);
            impl_->inheritance = schema::inheritanceOf(session, impl_->dialect, impl_->catalog);
        });
    } catch (const Poco::Exception& e) {
        throw std::runtime_error("cannot migrate the schema of " + impl_->uri.display() + ": " +
                                 impl_->clean(e.displayText()));
    }
}

void Database::transaction(const std::function<void(sdk::Store&)>& work, Access access, Wait wait) {
    Transaction tx(*this, access, wait);
    try {
        work(tx.store());
        tx.commit();
    } catch (...) {
        tx.fail();
        throw;
    }
}

void Database::listen(TransactionListener* listener) {
    impl_->listener = listener;
}

void Database::watchWrites(WriteWatcher* watcher) {
    impl_->watcher = watcher;
}

void Database::exclusive(const std::function<void()>& work) {
    if (impl_->dialect != sql::Dialect::Postgresql) {
        work();
        return;
    }
    // Any constant works as long as every process uses the same one: "dq" "st" (start-up).
    constexpr std::int64_t kStartupLock = 0x6471'7374;
    // A connection of its own, outside the pool: the work under the lock runs transactions that
    // lease pooled sessions, and a thread never waits for a pooled session while holding one.
    std::optional<Poco::Data::Session> own;
    try {
        own.emplace(impl_->uri.connector(), impl_->uri.connectionString());
    } catch (const Poco::Exception& e) {
        throw DatabaseUnavailable("cannot connect to " + impl_->uri.display() + " for the start-up lock: " +
                                  impl_->clean(e.displayText()));
    }
    auto& session = *own;
    try {
        sql::query(session, impl_->dialect, "SELECT 1 FROM pg_advisory_lock(?)", {kStartupLock});
    } catch (const Poco::Exception& e) {
        throw DatabaseUnavailable("cannot take the start-up lock on " + impl_->uri.display() + ": " +
                                  impl_->clean(e.displayText()));
    }
    struct Unlock {
        Impl& impl;
        Poco::Data::Session& session;
        ~Unlock() {
            try {
                sql::query(session, impl.dialect, "SELECT 1 FROM pg_advisory_unlock_all()");
            } catch (...) {
                // The connection is gone, and the lock with it.
            }
        }
    } unlock{*impl_, session};
    work();
}


void Database::closeIdleConnections() {
    auto& d = *impl_;
    if (d.memory)
        return;
    std::vector<std::unique_ptr<Connection>> closing;
    {
        std::lock_guard<std::mutex> lock(d.idleLock);
        closing.swap(d.idle);
    }
    closing.clear(); // closed outside the pool's lock
    std::unique_lock<std::timed_mutex> health(d.healthLock, std::defer_lock);
    if (health.try_lock())
        d.healthSession.reset();
}

bool Database::healthy() {
    auto& d = *impl_;
    std::unique_lock<std::timed_mutex> lock(d.healthLock, std::defer_lock);
    if (!lock.try_lock_for(std::chrono::milliseconds(200)))
        return d.lastHealthy;
    bool ok = false;
    try {
        if (d.memory) {
            // The one connection of an in-memory database belongs to the pool.
            if (!d.slots.try_acquire_for(std::chrono::milliseconds(200)))
                return d.lastHealthy;
            d.slots.release();
            ok = true;
        } else {
            if (!d.healthSession || !Impl::connected(*d.healthSession))
                d.healthSession.emplace(d.uri.connector(), d.uri.connectionString());
            ok = !sql::query(*d.healthSession, d.dialect, "SELECT 1").rows.empty();
        }
    } catch (...) {
        d.healthSession.reset();
        ok = false;
    }
    d.lastHealthy = ok;
    return ok;
}

void Database::dropAll() {
    transaction([this](sdk::Store& store) {
        schema::dropAll(static_cast<SqlStore&>(store).session(), impl_->dialect, impl_->catalog);
    });
}

std::string Database::dialect() const {
    return sql::dialectName(impl_->dialect);
}

const DatabaseUri& Database::uri() const {
    return impl_->uri;
}

} // namespace dq::kernel
