// The database: a session pool, transactions around a Store, the schema from the declarations.
#include "kernel/db/database.h"

#include "kernel/db/schema.h"
#include "kernel/db/sql_store.h"

#include <Poco/Data/PostgreSQL/Connector.h>
#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/SessionPool.h>
#include <Poco/Exception.h>
#include <Poco/File.h>
#include <Poco/Path.h>
#include <chrono>
#include <mutex>
#include <optional>
#include <semaphore>
#include <stdexcept>

namespace dq::kernel {

namespace {

constexpr int kMaxSessions = 16;
constexpr auto kWaitForSession = std::chrono::seconds(30);

void registerConnectors() {
    static std::once_flag once;
    std::call_once(once, [] {
        Poco::Data::SQLite::Connector::registerConnector();
        Poco::Data::PostgreSQL::Connector::registerConnector();
    });
}

/// A running write transaction on this thread, to refuse nesting one in another (which would
/// wait forever for SQLite's write lock held by the outer one).
thread_local const void* writingOn = nullptr;

} // namespace

struct Database::Impl {
    DatabaseUri uri;
    const Catalog& catalog;
    sql::Dialect dialect;
    bool memory = false;
    std::unique_ptr<Poco::Data::SessionPool> pool;
    // Poco's pool throws when it is exhausted; this makes callers wait for a free session instead.
    std::counting_semaphore<kMaxSessions> slots;
    std::mutex writeLock;
    TransactionListener* listener = nullptr;

    Impl(const DatabaseUri& u, const Catalog& c)
        : uri(u), catalog(c),
          dialect(u.kind == DatabaseUri::Kind::Sqlite ? sql::Dialect::Sqlite : sql::Dialect::Postgresql),
          memory(u.kind == DatabaseUri::Kind::Sqlite && u.path == ":memory:"),
          slots(memory ? 1 : kMaxSessions) {}

    /// A session from the pool, returned (and its slot freed) when the lease ends.
    class Lease {
    public:
        explicit Lease(Impl& impl) : impl_(impl) {
            if (!impl.slots.try_acquire_for(kWaitForSession))
                throw DatabaseUnavailable(
                    "no free connection to the database " + impl.uri.display() +
                    " within 30 s; the database may be overloaded or a transaction is stuck");
            try {
                session_.emplace(impl.pool->get());
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
            session_.reset();
            impl_.slots.release();
        }
        Poco::Data::Session& session() { return *session_; }

    private:
        Impl& impl_;
        std::optional<Poco::Data::Session> session_;
    };

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

    void begin(Poco::Data::Session& session, Access access) {
        if (dialect == sql::Dialect::Sqlite) {
            sql::execute(session, dialect, "PRAGMA busy_timeout = 5000");
            // The kernel applies the declared delete rules itself.
            sql::execute(session, dialect, "PRAGMA foreign_keys = OFF");
            sql::execute(session, dialect,
                         access == Access::Write ? "PRAGMA query_only = 0" : "PRAGMA query_only = 1");
            // IMMEDIATE takes the write lock up front; a deferred upgrade could fail with SQLITE_BUSY
            // when another process writes.
            sql::execute(session, dialect, access == Access::Write ? "BEGIN IMMEDIATE" : "BEGIN");
        } else {
            session.begin();
            if (access == Access::Read)
                sql::execute(session, dialect, "SET TRANSACTION READ ONLY");
        }
    }

    /// COMMIT or ROLLBACK.
    void end(Poco::Data::Session& session, const std::string& how) {
        if (dialect == sql::Dialect::Sqlite)
            sql::execute(session, dialect, how);
        else if (how == "COMMIT")
            session.commit();
        else
            session.rollback();
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

    /// Runs `work` in one transaction on one pooled session.
    void run(Access access, const std::function<void(Poco::Data::Session&)>& work, const void* self) {
        // SQLite allows one writer: queue writers here instead of letting them fail with "database is
        // locked". An in-memory database has a single connection, so everything queues.
        bool serialize = dialect == sql::Dialect::Sqlite && (access == Access::Write || memory);
        if (serialize && writingOn == self)
            throw std::logic_error(
                "a write transaction was started inside another one on the same thread; do "
                "the work with the outer transaction's Store instead");
        std::unique_lock<std::mutex> lock(writeLock, std::defer_lock);
        if (serialize)
            lock.lock();
        struct Mark {
            bool on;
            const void* previous;
            Mark(bool set, const void* self) : on(set), previous(writingOn) {
                if (on)
                    writingOn = self;
            }
            ~Mark() {
                if (on)
                    writingOn = previous;
            }
        } mark(serialize, self);

        Lease lease(*this);
        auto& session = lease.session();
        try {
            begin(session, access);
        } catch (...) {
            // A pooled connection the database closed (a restart) fails here first.
            if (!connected(session))
                throwUnavailable();
            throw;
        }
        try {
            work(session);
            end(session, "COMMIT");
        } catch (...) {
            try {
                end(session, "ROLLBACK");
            } catch (...) {
                // The connection is gone or the failed commit already ended the transaction.
            }
            if (!connected(session))
                throwUnavailable();
            throw;
        }
    }
};

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
        // An in-memory SQLite database lives and dies with its one connection: keep exactly one.
        d.pool = std::make_unique<Poco::Data::SessionPool>(
            uri.connector(), uri.connectionString(), 1, d.memory ? 1 : kMaxSessions, d.memory ? 1000000 : 60);
        Impl::Lease lease(d);
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
        impl_->run(
            Access::Write,
            [this](Poco::Data::Session& session) {
                schema::migrate(session, impl_->dialect, impl_->catalog);
            },
            this);
    } catch (const Poco::Exception& e) {
        throw std::runtime_error("cannot migrate the schema of " + impl_->uri.display() + ": " +
                                 impl_->clean(e.displayText()));
    }
}

void Database::transaction(const std::function<void(sdk::Store&)>& work, Access access) {
    auto* listener = impl_->listener;
    if (listener)
        listener->begun(access == Access::Write);
    try {
        impl_->run(
            access,
            [&](Poco::Data::Session& session) {
                SqlStore store(session, impl_->dialect, impl_->catalog,
                               listener ? &listener->events() : nullptr);
                work(store);
                if (listener && access == Access::Write)
                    listener->committing(store);
            },
            this);
    } catch (...) {
        if (listener)
            listener->ended(false);
        throw;
    }
    if (listener)
        listener->ended(true);
}

void Database::listen(TransactionListener* listener) {
    impl_->listener = listener;
}

void Database::exclusive(const std::function<void()>& work) {
    if (impl_->dialect != sql::Dialect::Postgresql) {
        work();
        return;
    }
    // Any constant works as long as every process uses the same one: "dq" "st" (start-up).
    constexpr std::int64_t kStartupLock = 0x6471'7374;
    Impl::Lease lease(*impl_);
    auto& session = lease.session();
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

bool Database::healthy() {
    try {
        Impl::Lease lease(*impl_);
        return !sql::query(lease.session(), impl_->dialect, "SELECT 1").rows.empty();
    } catch (...) {
        return false;
    }
}

void Database::dropAll() {
    impl_->run(
        Access::Write,
        [this](Poco::Data::Session& session) { schema::dropAll(session, impl_->dialect, impl_->catalog); },
        this);
}

std::string Database::dialect() const {
    return sql::dialectName(impl_->dialect);
}

const DatabaseUri& Database::uri() const {
    return impl_->uri;
}

} // namespace dq::kernel
