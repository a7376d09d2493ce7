// The outbox on a real SQLite file and a real PostgreSQL database: an event exists exactly when its
// transaction commits; every process delivers every row once, in order; a restarted process resumes
// where it stopped; old rows are pruned.
#include "kernel/events/outbox.h"
#include "tests/kernel/db/db_fixture.h"

#include <atomic>
#include <gtest/gtest.h>
#include <mutex>
#include <thread>

namespace dq::kernel::test {
namespace {

using namespace std::chrono_literals;

/// What one process's subscribers heard, as "room:event:payload".
struct Heard {
    std::mutex mutex;
    std::vector<std::string> events;

    explicit Heard(EventBus& bus) {
        bus.subscribe([this](const std::string& room, const std::string& event, const Poco::Dynamic::Var& p) {
            std::lock_guard lock(mutex);
            events.push_back(room + ":" + event + ":" + (p.isEmpty() ? "null" : p.convert<std::string>()));
        });
    }
    std::vector<std::string> all() {
        std::lock_guard lock(mutex);
        return events;
    }
};

/// One server process: its own database pool, bus and outbox on the shared database.
struct Process {
    std::unique_ptr<Database> db;
    EventBus bus;
    Heard heard{bus};
    std::unique_ptr<Outbox> outbox;

    Process(const DatabaseUri& uri, const Catalog& catalog, const std::string& reader,
            std::chrono::milliseconds poll = OutboxSettings().poll) {
        db = std::make_unique<Database>(uri, catalog);
        OutboxSettings settings;
        settings.reader = reader;
        settings.poll = poll;
        if (db->dialect() == "postgresql")
            settings.listenConnection = uri.connectionString();
        outbox = std::make_unique<Outbox>(*db, bus, settings);
    }
    ~Process() { outbox.reset(); }

    std::int64_t rows() {
        std::int64_t n = 0;
        db->transaction(
            [&](sdk::Store& s) {
                n = s.query("SELECT COUNT(*) FROM dq_outbox").rows[0][0].convert<std::int64_t>();
            },
            Database::Access::Read);
        return n;
    }
};

class OutboxTest : public DatabaseTest {
protected:
    std::unique_ptr<Process> process(const std::string& reader,
                                     std::chrono::milliseconds poll = OutboxSettings().poll) {
        return std::make_unique<Process>(uri_, catalog_, reader, poll);
    }
};

TEST_P(OutboxTest, AnEventIsARowOfTheTransactionThatCommitted) {
    auto p = process("a");
    p->outbox->startDelivery();
    ASSERT_TRUE(p->outbox->settle(10s));
    EXPECT_THROW(p->db->transaction([&](sdk::Store& store) {
        store.insert("organization", sdk::Record().set("name", std::string("gone")));
        p->bus.emit("collaboration_1", "new_task", 1);
        throw std::runtime_error("handler failed");
    }),
                 std::runtime_error);
    EXPECT_EQ(p->rows(), 0);
    p->db->transaction([&](sdk::Store& store) {
        store.insert("organization", sdk::Record().set("name", std::string("kept")));
        p->bus.emit("collaboration_1", "new_task", 2);
        // Nothing is heard before the commit.
        EXPECT_TRUE(p->heard.all().empty());
    });
    EXPECT_EQ(p->rows(), 1);
    ASSERT_TRUE(p->outbox->settle(10s));
    EXPECT_EQ(p->heard.all(), (std::vector<std::string>{"collaboration_1:new_task:2"}));
}

TEST_P(OutboxTest, AReadOnlyTransactionsEventsAreWrittenWhenItSucceeds) {
    auto p = process("a");
    p->outbox->startDelivery();
    ASSERT_TRUE(p->outbox->settle(10s));
    EXPECT_THROW(p->db->transaction(
                     [&](sdk::Store&) {
                         p->bus.emit("all_nodes", "failed", 1);
                         throw std::runtime_error("no");
                     },
                     Database::Access::Read),
                 std::runtime_error);
    p->db->transaction([&](sdk::Store&) { p->bus.emit("all_nodes", "login", 2); }, Database::Access::Read);
    // Outside any transaction: a transaction of its own.
    p->bus.emit("all_nodes", "alone", 3);
    ASSERT_TRUE(p->outbox->settle(10s));
    EXPECT_EQ(p->heard.all(), (std::vector<std::string>{"all_nodes:login:2", "all_nodes:alone:3"}));
}

TEST_P(OutboxTest, TheSameEventTwiceInOneTransactionIsOneRow) {
    auto p = process("a");
    p->db->transaction([&](sdk::Store&) {
        p->bus.emit("collaboration_1", "new_task", 7);
        p->bus.emit("collaboration_1", "new_task", 7);
        p->bus.emit("collaboration_1", "new_task", 8);
    });
    EXPECT_EQ(p->rows(), 2);
}

TEST_P(OutboxTest, EveryProcessDeliversEveryRowOnceInCommitOrder) {
    auto a = process("a");
    auto b = process("b");
    a->outbox->startDelivery();
    b->outbox->startDelivery();
    ASSERT_TRUE(a->outbox->settle(10s));
    ASSERT_TRUE(b->outbox->settle(10s));
    // Writers in both processes at once; each writer's events must arrive in its own order.
    std::vector<std::thread> writers;
    for (int w = 0; w < 4; ++w)
        writers.emplace_back([&, w] {
            auto& p = w % 2 ? *a : *b;
            for (int i = 0; i < 25; ++i)
                p.db->transaction([&](sdk::Store&) { p.bus.emit("w" + std::to_string(w), "e", i); });
        });
    for (auto& t : writers)
        t.join();
    ASSERT_TRUE(a->outbox->settle(10s));
    ASSERT_TRUE(b->outbox->settle(10s));
    for (auto* p : {a.get(), b.get()}) {
        auto heard = p->heard.all();
        ASSERT_EQ(heard.size(), 100u);
        for (int w = 0; w < 4; ++w) {
            std::vector<std::string> mine;
            for (const auto& h : heard)
                if (h.rfind("w" + std::to_string(w) + ":", 0) == 0)
                    mine.push_back(h);
            ASSERT_EQ(mine.size(), 25u);
            for (int i = 0; i < 25; ++i)
                EXPECT_EQ(mine[i], "w" + std::to_string(w) + ":e:" + std::to_string(i));
        }
    }
    // Both saw the same order: the commit order.
    EXPECT_EQ(a->heard.all(), b->heard.all());
}

TEST_P(OutboxTest, ACommitInThisProcessMovesItsPositionAndIsHandedOverWithoutPolling) {
    // The reader would not look at the table for an hour by itself: what it hears, it was handed.
    auto p = process("a", std::chrono::hours(1));
    p->outbox->startDelivery();
    ASSERT_TRUE(p->outbox->settle(10s));
    // settle() made the reader look at the table; a commit while it still looks leaves its rows to it.
    std::this_thread::sleep_for(200ms);
    int movedAtCommit = 0;
    for (int i = 1; i <= 10; ++i) {
        p->db->transaction([&](sdk::Store&) { p->bus.emit("r", "e", i); });
        std::int64_t newest = 0, stored = 0;
        p->db->transaction(
            [&](sdk::Store& s) {
                newest = s.query("SELECT MAX(id) FROM dq_outbox").rows[0][0].convert<std::int64_t>();
                stored = s.query("SELECT last_id FROM dq_outbox_reader WHERE reader = 'a'")
                             .rows[0][0]
                             .convert<std::int64_t>();
            },
            Database::Access::Read);
        // Stored by the writing transaction itself, so a crash right after the commit neither loses
        // nor replays the row.
        movedAtCommit += stored == newest;
        for (int waited = 0; waited < 500 && p->heard.all().size() < static_cast<std::size_t>(i); ++waited)
            std::this_thread::sleep_for(10ms);
        ASSERT_EQ(p->heard.all().size(), static_cast<std::size_t>(i));
        EXPECT_EQ(p->heard.all().back(), "r:e:" + std::to_string(i));
        EXPECT_EQ(p->outbox->position(), newest);
    }
    if (GetParam() == Backend::Sqlite)
        EXPECT_EQ(movedAtCommit, 10);
    else
        // The reader also wakes for its own NOTIFY and looks; a commit during that look leaves its rows
        // to the look.
        EXPECT_GE(movedAtCommit, 1);
    // A rolled-back transaction moves nothing.
    EXPECT_THROW(p->db->transaction([&](sdk::Store&) {
        p->bus.emit("r", "gone", 0);
        throw std::runtime_error("no");
    }),
                 std::runtime_error);
    p->bus.emit("r", "e", 11);
    ASSERT_TRUE(p->outbox->settle(10s));
    EXPECT_EQ(p->heard.all().size(), 11u);
    EXPECT_EQ(p->heard.all().back(), "r:e:11");
}

TEST_P(OutboxTest, ARestartedProcessNeitherReplaysNorLoses) {
    auto writer = process("shell"); // never delivers, like `vserver shell`
    {
        auto server = process("server-1");
        server->outbox->startDelivery();
        ASSERT_TRUE(server->outbox->settle(10s));
        writer->bus.emit("r", "before", 1);
        ASSERT_TRUE(server->outbox->settle(10s));
        EXPECT_EQ(server->heard.all(), (std::vector<std::string>{"r:before:1"}));
    }
    // Written while server-1 is down.
    writer->bus.emit("r", "while-down", 2);
    writer->bus.emit("r", "while-down", 3);
    auto again = process("server-1");
    again->outbox->startDelivery();
    writer->bus.emit("r", "after", 4);
    ASSERT_TRUE(again->outbox->settle(10s));
    EXPECT_EQ(again->heard.all(),
              (std::vector<std::string>{"r:while-down:2", "r:while-down:3", "r:after:4"}));
    // A process new to the database starts after the newest row instead of replaying history.
    auto fresh = process("server-2");
    fresh->outbox->startDelivery();
    ASSERT_TRUE(fresh->outbox->settle(10s));
    writer->bus.emit("r", "new", 5);
    ASSERT_TRUE(fresh->outbox->settle(10s));
    EXPECT_EQ(fresh->heard.all(), (std::vector<std::string>{"r:new:5"}));
}

TEST_P(OutboxTest, RowsOlderThanTheRetentionWindowArePruned) {
    auto p = process("a");
    p->bus.emit("r", "recent", 1);
    p->db->transaction([](sdk::Store& store) {
        store.execute("INSERT INTO dq_outbox (room, event, payload, created_at) VALUES (?, ?, ?, ?)",
                      {std::string("r"), std::string("old"), std::string("1"),
                       std::string("2020-01-01T00:00:00.000000")});
        store.execute("INSERT INTO dq_outbox_reader (reader, last_id, updated_at) VALUES (?, ?, ?)",
                      {std::string("long-gone"), Poco::Int64(1), std::string("2020-01-01T00:00:00.000000")});
    });
    EXPECT_EQ(p->rows(), 2);
    EXPECT_EQ(p->outbox->prune(), 1);
    EXPECT_EQ(p->rows(), 1);
    std::int64_t readers = 0;
    p->db->transaction([&](sdk::Store& s) {
        readers = s.query("SELECT COUNT(*) FROM dq_outbox_reader WHERE reader = 'long-gone'")
                      .rows[0][0]
                      .convert<std::int64_t>();
    });
    EXPECT_EQ(readers, 0);
    // Ids keep growing after pruning, so positions stay meaningful.
    p->db->transaction([&](sdk::Store& s) { s.execute("DELETE FROM dq_outbox"); });
    std::int64_t before = 0, after = 0;
    p->bus.emit("r", "x", 1);
    p->db->transaction([&](sdk::Store& s) {
        before = s.query("SELECT MAX(id) FROM dq_outbox").rows[0][0].convert<std::int64_t>();
    });
    EXPECT_GE(before, 3);
    p->db->transaction([&](sdk::Store& s) { s.execute("DELETE FROM dq_outbox"); });
    p->bus.emit("r", "y", 1);
    p->db->transaction([&](sdk::Store& s) {
        after = s.query("SELECT MAX(id) FROM dq_outbox").rows[0][0].convert<std::int64_t>();
    });
    EXPECT_GT(after, before);
}

TEST_P(OutboxTest, MigrationsOfSeveralProcessesAtOnceMakeOneSchema) {
    // Fresh, empty database objects racing to migrate the same (already migrated) schema and a new
    // model; the lock makes them take turns instead of colliding in the catalog.
    Catalog more;
    declareTestModels(more);
    more.registryFor("other", nullptr)->model(sdk::ModelDecl("extra").field(field("name")));
    std::vector<std::thread> starters;
    std::atomic<int> failures{0};
    for (int i = 0; i < 4; ++i)
        starters.emplace_back([&] {
            try {
                Database db(uri_, more);
                db.exclusive([&] { db.migrate(); });
            } catch (const std::exception& e) {
                ADD_FAILURE() << e.what();
                ++failures;
            }
        });
    for (auto& t : starters)
        t.join();
    EXPECT_EQ(failures, 0);
    std::int64_t rows = 0;
    db_->transaction([&](sdk::Store& s) {
        rows = s.query("SELECT COUNT(*) FROM dq_schema WHERE plugin = 'other'")
                   .rows[0][0]
                   .convert<std::int64_t>();
    });
    EXPECT_EQ(rows, 1);
}

INSTANTIATE_TEST_SUITE_P(Backends, OutboxTest, ::testing::Values(Backend::Sqlite, Backend::Postgresql),
                         backendName);

} // namespace
} // namespace dq::kernel::test
