// Transactions: all or nothing, concurrent writers, read-only reads, connection errors.
#include "db_fixture.h"

#include <atomic>
#include <chrono>
#include <dq/sdk/plugin.h>
#include <filesystem>
#include <future>
#include <thread>

namespace dq::kernel::test {
namespace {

using namespace dq::sdk;

class TransactionTest : public DatabaseTest {};

TEST_P(TransactionTest, CommitsWhenWorkReturns) {
    db_->transaction([](Store& store) { store.insert("organization", Record().set("name", "kept")); });
    db_->transaction([](Store& store) { EXPECT_EQ(store.count("organization"), 1); }, Database::Access::Read);
}

TEST_P(TransactionTest, RollsBackEverythingWhenWorkThrows) {
    EXPECT_THROW(db_->transaction([](Store& store) {
        store.insert("organization", Record().set("name", "one"));
        store.insert("organization", Record().set("name", "two"));
        throw std::runtime_error("handler failed");
    }),
                 std::runtime_error);
    db_->transaction([](Store& store) { EXPECT_EQ(store.count("organization"), 0); }, Database::Access::Read);
}

TEST_P(TransactionTest, SqliteConnectionsAreSetUpWhenOpened) {
    if (GetParam() != Backend::Sqlite)
        GTEST_SKIP() << "SQLite connection settings";
    // Several threads at once, so that the pool opens more than one connection.
    std::vector<std::thread> threads;
    std::atomic<int> wrong{0};
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] {
            db_->transaction(
                [&](Store& store) {
                    auto value = [&](const char* pragma) {
                        return store.query(std::string("PRAGMA ") + pragma).rows.at(0).at(0).convert<int>();
                    };
                    // synchronous NORMAL is 1; foreign keys stay off: the kernel applies delete rules.
                    if (value("synchronous") != 1 || value("foreign_keys") != 0 || value("cache_size") != -1024)
                        ++wrong;
                    std::this_thread::sleep_for(std::chrono::milliseconds(50));
                },
                Database::Access::Read);
        });
    for (auto& t : threads)
        t.join();
    EXPECT_EQ(wrong, 0);
}

/// The connections this process has open to the test's database: SQLite files open on it, or
/// PostgreSQL sessions on it other than the one asking.
int openConnections(Database& db, Backend backend, const DatabaseUri& uri) {
    if (backend == Backend::Sqlite) {
        int open = 0;
        for (const auto& fd : std::filesystem::directory_iterator("/proc/self/fd")) {
            std::error_code error;
            auto target = std::filesystem::read_symlink(fd.path(), error);
            open += !error && target == std::filesystem::path(uri.path);
        }
        return open;
    }
    int open = 0;
    db.transaction(
        [&](Store& store) {
            open = store
                       .query("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                              "AND pid <> pg_backend_pid()")
                       .rows.at(0)
                       .at(0)
                       .convert<int>();
        },
        Database::Access::Read);
    return open;
}

TEST_P(TransactionTest, IdleConnectionsCloseWhenAskedAndTheNextTransactionOpensOne) {
    // Four transactions at once: the pool opens four connections and keeps them.
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] {
            db_->transaction(
                [](Store& store) {
                    store.count("organization");
                    std::this_thread::sleep_for(std::chrono::milliseconds(100));
                },
                Database::Access::Read);
        });
    for (auto& t : threads)
        t.join();
    db_->healthy(); // and the health check's own
    const auto before = openConnections(*db_, GetParam(), uri_);
    ASSERT_GE(before, 3) << "the pool should have kept its connections";
    db_->closeIdleConnections();
    // PostgreSQL ends a session's process a moment after its client hung up.
    int after = before;
    for (int wait = 0; wait < 50 && after > 0; ++wait) {
        after = openConnections(*db_, GetParam(), uri_);
        if (after > 0) {
            db_->closeIdleConnections();
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
    }
    // SQLite: none; PostgreSQL: none besides the one that counted (closed again in between).
    EXPECT_EQ(after, 0);
    db_->transaction([](Store& store) { store.insert("organization", Record().set("name", "after")); });
    db_->transaction([](Store& store) { EXPECT_EQ(store.count("organization"), 1); }, Database::Access::Read);
    EXPECT_TRUE(db_->healthy());
}

TEST_P(TransactionTest, ReadTransactionRefusesWrites) {
    EXPECT_ANY_THROW(
        db_->transaction([](Store& store) { store.insert("organization", Record().set("name", "x")); },
                         Database::Access::Read));
    db_->transaction([](Store& store) { EXPECT_EQ(store.count("organization"), 0); });
}

TEST_P(TransactionTest, ConcurrentWritersDoNotFailWithLockedDatabase) {
    constexpr int kThreads = 4, kRows = 25;
    std::atomic<int> failures{0};
    std::string firstError;
    std::mutex errorLock;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
        threads.emplace_back([&, t] {
            for (int i = 0; i < kRows; ++i) {
                try {
                    db_->transaction([&](Store& store) {
                        Id id =
                            store.insert("organization", Record().set("name", "t" + std::to_string(t) + "-" +
                                                                                  std::to_string(i)));
                        store.update("organization", id, Record().set("country", "nl"));
                    });
                    db_->transaction([](Store& store) { store.count("organization"); },
                                     Database::Access::Read);
                } catch (const std::exception& e) {
                    std::lock_guard<std::mutex> lock(errorLock);
                    if (failures++ == 0)
                        firstError = e.what();
                }
            }
        });
    for (auto& t : threads)
        t.join();
    EXPECT_EQ(failures.load(), 0) << firstError;
    db_->transaction([](Store& store) { EXPECT_EQ(store.count("organization"), kThreads * kRows); });
}

TEST_P(TransactionTest, WritersThroughTwoPoolsWaitForEachOther) {
    // Two Database objects on one file stand for two processes: only the database's own locking
    // (busy timeout, BEGIN IMMEDIATE on SQLite) keeps them apart.
    auto second = open(catalog_);
    std::atomic<int> failures{0};
    std::string firstError;
    std::mutex errorLock;
    auto writer = [&](Database& db, const std::string& prefix) {
        for (int i = 0; i < 30; ++i) {
            try {
                db.transaction([&](Store& store) {
                    store.insert("organization", Record().set("name", prefix + std::to_string(i)));
                    store.count("organization");
                });
            } catch (const std::exception& e) {
                std::lock_guard<std::mutex> lock(errorLock);
                if (failures++ == 0)
                    firstError = e.what();
            }
        }
    };
    std::thread a(writer, std::ref(*db_), "a"), b(writer, std::ref(*second), "b");
    a.join();
    b.join();
    EXPECT_EQ(failures.load(), 0) << firstError;
    db_->transaction([](Store& store) { EXPECT_EQ(store.count("organization"), 60); });
}

TEST_P(TransactionTest, TwoDatabaseObjectsOnOneFileShareData) {
    // Like `vserver import` running next to the server: two pools, one database.
    auto second = open(catalog_);
    second->transaction(
        [](Store& store) { store.insert("organization", Record().set("name", "from-second")); });
    db_->transaction([](Store& store) { EXPECT_EQ(store.count("organization"), 1); });
}

TEST_P(TransactionTest, SecondSessionOnAThreadThatHoldsOneIsRefused) {
    // A read inside a read would wait for a second pooled session while holding one: with every
    // session held that way, nobody gets one. The store API refuses the nesting itself.
    EXPECT_THROW(db_->transaction([&](Store&) { db_->transaction([](Store&) {}, Database::Access::Read); },
                                  Database::Access::Read),
                 std::logic_error);
    auto second = open(catalog_);
    EXPECT_THROW(db_->transaction([&](Store&) { second->transaction([](Store&) {}, Database::Access::Read); },
                                  Database::Access::Read),
                 std::logic_error);
    // Sessions held by other threads do not count, and the refusal left nothing held.
    std::thread other([&] {
        db_->transaction([](Store& store) { store.insert("organization", Record().set("name", "other")); });
    });
    other.join();
    EXPECT_FALSE(Database::sessionHeldOnThisThread());
    db_->transaction([](Store& store) { EXPECT_EQ(store.count("organization"), 1); });
}

TEST_P(TransactionTest, TransactionObjectCommitsAndReleasesItsSession) {
    {
        Database::Transaction tx(*db_, Database::Access::Write);
        EXPECT_TRUE(Database::sessionHeldOnThisThread());
        tx.store().insert("organization", Record().set("name", "kept"));
        tx.commit();
        EXPECT_FALSE(Database::sessionHeldOnThisThread());
        EXPECT_THROW(tx.store(), std::logic_error);
    }
    {
        Database::Transaction tx(*db_, Database::Access::Write);
        tx.store().insert("organization", Record().set("name", "dropped"));
    }
    EXPECT_FALSE(Database::sessionHeldOnThisThread());
    db_->transaction([](Store& store) { EXPECT_EQ(store.count("organization"), 1); }, Database::Access::Read);
}

TEST_P(TransactionTest, WriterBlockedByAnotherProcessGetsDatabaseBusyInBoundedTime) {
    // Another "process" (a second pool, as `vserver import` is) holds the write lock / a table lock.
    auto other = open(catalog_);
    std::promise<void> locked, release;
    std::thread holder([&] {
        other->transaction([&](Store& store) {
            if (store.dialect() == "postgresql")
                store.execute("LOCK TABLE organization IN ACCESS EXCLUSIVE MODE");
            else
                store.insert("organization", Record().set("name", "holder"));
            locked.set_value();
            release.get_future().wait();
        });
    });
    locked.get_future().wait();
    auto started = std::chrono::steady_clock::now();
    EXPECT_THROW(
        db_->transaction([](Store& store) { store.insert("organization", Record().set("name", "x")); },
                         Database::Access::Write, Database::Wait::Bounded),
        DatabaseBusy);
    auto waited = std::chrono::steady_clock::now() - started;
    release.set_value();
    holder.join();
    EXPECT_LT(waited, std::chrono::seconds(10));
    EXPECT_FALSE(Database::sessionHeldOnThisThread());
    // Patient writers still wait their turn.
    db_->transaction([](Store& store) { store.insert("organization", Record().set("name", "later")); });
}

INSTANTIATE_TEST_SUITE_P(Backends, TransactionTest, ::testing::Values(Backend::Sqlite, Backend::Postgresql),
                         backendName);

TEST(SqliteTransaction, NestedWriteTransactionOnOneThreadIsRefused) {
    Catalog catalog;
    declareTestModels(catalog);
    Database db(DatabaseUri::parse("sqlite://"), catalog);
    db.migrate();
    EXPECT_THROW(db.transaction([&](Store&) { db.transaction([](Store&) {}); }), std::logic_error);
}

TEST(SqliteTransaction, InMemoryDatabaseKeepsDataAcrossTransactions) {
    Catalog catalog;
    declareTestModels(catalog);
    Database db(DatabaseUri::parse("sqlite:///:memory:"), catalog);
    db.migrate();
    db.transaction([](Store& store) { store.insert("organization", Record().set("name", "m")); });
    db.transaction([](Store& store) { EXPECT_EQ(store.count("organization"), 1); }, Database::Access::Read);
    EXPECT_EQ(db.dialect(), "sqlite");
}

TEST(DatabaseConnect, MissingSqliteFolderIsRuntimeErrorNamingThePath) {
    Catalog catalog;
    try {
        Database db(DatabaseUri::parse("sqlite:////nonexistent-dq-folder/sub/x.sqlite"), catalog);
        FAIL() << "opened a database in a missing folder";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("/nonexistent-dq-folder/sub/x.sqlite"), std::string::npos)
            << e.what();
    }
}

TEST(DatabaseConnect, UnreachablePostgresIsRuntimeErrorWithoutPassword) {
    Catalog catalog;
    try {
        Database db(DatabaseUri::parse("postgresql://dq:hunter2secret@127.0.0.1:1/nothing"), catalog);
        FAIL() << "connected to a closed port";
    } catch (const std::runtime_error& e) {
        std::string message = e.what();
        EXPECT_EQ(message.find("hunter2secret"), std::string::npos) << message;
        EXPECT_NE(message.find("postgresql://dq:***@127.0.0.1:1/nothing"), std::string::npos) << message;
    }
}

} // namespace
} // namespace dq::kernel::test
