// Prepared statements per connection: re-run with new bindings, the same rows and errors as the
// uncached path, usable again after a failure.
#include "db_fixture.h"
#include "kernel/db/sql_store.h"
#include "kernel/db/statements.h"

#include <Poco/Data/DataException.h>
#include <Poco/Data/PostgreSQL/PostgreSQLException.h>
#include <Poco/Data/Session.h>
#include <Poco/Exception.h>
#include <dq/sdk/plugin.h>

namespace dq::kernel::test {
namespace {

using namespace dq::sdk;

/// Rows `a` and `b` have the same columns, NULLs, value types and values.
void expectSameRows(const Rows& a, const Rows& b, const std::string& text) {
    ASSERT_EQ(a.columns, b.columns) << text;
    ASSERT_EQ(a.rows.size(), b.rows.size()) << text;
    for (std::size_t r = 0; r < a.rows.size(); ++r)
        for (std::size_t c = 0; c < a.columns.size(); ++c) {
            const auto& x = a.rows[r][c];
            const auto& y = b.rows[r][c];
            EXPECT_EQ(x.isEmpty(), y.isEmpty()) << text << " row " << r << " " << a.columns[c];
            if (x.isEmpty() || y.isEmpty())
                continue;
            EXPECT_EQ(std::string(x.type().name()), std::string(y.type().name()))
                << text << " row " << r << " " << a.columns[c];
            EXPECT_EQ(x.convert<std::string>(), y.convert<std::string>())
                << text << " row " << r << " " << a.columns[c];
        }
}

class StatementsTest : public DatabaseTest {
protected:
    sql::Dialect dialect() const {
        return GetParam() == Backend::Sqlite ? sql::Dialect::Sqlite : sql::Dialect::Postgresql;
    }
    /// Runs `work` with the statements of a connection of its own inside a write transaction.
    void withStatements(const std::function<void(sql::Statements&, Store&)>& work) {
        db_->transaction([&](Store& store) {
            sql::Statements statements(static_cast<SqlStore&>(store).session(), dialect());
            work(statements, store);
        });
    }
};

TEST_P(StatementsTest, RunsAPreparedStatementAgainWithNewBindings) {
    withStatements([](sql::Statements& statements, Store& store) {
        store.insert("organization", Record().set("name", "alpha").set("score", 1.5));
        store.insert("organization", Record().set("name", "beta").set("score", 2.5));
        const std::string text = "SELECT name, score FROM organization WHERE name = ?";
        auto alpha = statements.query(text, {std::string("alpha")});
        auto beta = statements.query(text, {std::string("beta")});
        auto none = statements.query(text, {std::string("gamma")});
        ASSERT_EQ(alpha.rows.size(), 1u);
        ASSERT_EQ(beta.rows.size(), 1u);
        EXPECT_TRUE(none.rows.empty());
        EXPECT_EQ(alpha.rows[0][0].convert<std::string>(), "alpha");
        EXPECT_EQ(beta.rows[0][0].convert<std::string>(), "beta");
        EXPECT_DOUBLE_EQ(beta.rows[0][1].convert<double>(), 2.5);
        EXPECT_EQ(beta.columns, (std::vector<std::string>{"name", "score"}));
        EXPECT_EQ(statements.size(), 1u);
    });
}

TEST_P(StatementsTest, RowsHaveTheValuesAndTypesOfTheUncachedPath) {
    withStatements([&](sql::Statements& statements, Store& store) {
        store.insert("organization", Record()
                                         .set("name", "full")
                                         .set("country", "NL")
                                         .set("score", 0.25)
                                         .set("active", false)
                                         .set("created_at", "2026-12-01T03:01:07.467037"));
        store.insert("organization", Record().set("name", "sparse"));
        auto& session = static_cast<SqlStore&>(store).session();
        for (const std::string text :
             {"SELECT id, name, country, score, active, created_at FROM organization ORDER BY id",
              "SELECT COUNT(*) FROM organization",
              "SELECT name FROM organization WHERE score > ? ORDER BY id"}) {
            std::vector<Value> params;
            if (text.find('?') != std::string::npos)
                params.push_back(0.1);
            expectSameRows(statements.query(text, params), sql::query(session, dialect(), text, params),
                           text);
        }
    });
}

TEST_P(StatementsTest, AFailedStatementReportsTheDriversErrorAndRunsAgainAfterwards) {
    withStatements([](sql::Statements& statements, Store&) {
        const std::string insert = "INSERT INTO organization (name) VALUES (?)";
        EXPECT_EQ(statements.execute(insert, {std::string("once")}), 1u);
        statements.execute("SAVEPOINT duplicate");
        try {
            statements.execute(insert, {std::string("once")});
            ADD_FAILURE() << "a duplicate name was inserted";
        } catch (const Poco::Exception& e) {
            auto text = e.displayText();
            EXPECT_TRUE(text.find("UNIQUE constraint failed") != std::string::npos ||
                        text.find("duplicate key value") != std::string::npos)
                << text;
        }
        statements.execute("ROLLBACK TO SAVEPOINT duplicate");
        EXPECT_EQ(statements.execute(insert, {std::string("twice")}), 1u);
        EXPECT_EQ(statements.query("SELECT COUNT(*) FROM organization").rows.at(0).at(0).convert<int>(), 2);
    });
}

TEST_P(StatementsTest, NullIntegerRealAndTextParametersBindInTurn) {
    withStatements([](sql::Statements& statements, Store& store) {
        auto id = store.insert("organization", Record().set("name", "x"));
        const std::string update = "UPDATE organization SET score = ?, country = ? WHERE id = ?";
        const std::string read = "SELECT score, country FROM organization WHERE id = ?";
        statements.execute(update, {Value(), Value(), Value(id)});
        auto row = statements.query(read, {Value(id)}).rows.at(0);
        EXPECT_TRUE(row[0].isEmpty());
        EXPECT_TRUE(row[1].isEmpty());
        statements.execute(update, {Value(3.25), Value(std::string("BE")), Value(id)});
        row = statements.query(read, {Value(id)}).rows.at(0);
        EXPECT_DOUBLE_EQ(row[0].convert<double>(), 3.25);
        EXPECT_EQ(row[1].convert<std::string>(), "BE");
        statements.execute(update, {Value(Poco::Int64(7)), Value(), Value(id)});
        row = statements.query(read, {Value(id)}).rows.at(0);
        EXPECT_DOUBLE_EQ(row[0].convert<double>(), 7.0);
        EXPECT_TRUE(row[1].isEmpty());
    });
}

TEST_P(StatementsTest, APlaceholderCountThatDoesNotMatchIsRefused) {
    withStatements([](sql::Statements& statements, Store&) {
        EXPECT_THROW(statements.query("SELECT name FROM organization WHERE id = ?"), std::invalid_argument);
        EXPECT_THROW(statements.execute("DELETE FROM organization", {Value(1)}), std::invalid_argument);
    });
}

TEST_P(StatementsTest, ABatchRunsSeveralCommandsAndStopsAtTheFirstError) {
    withStatements([](sql::Statements& statements, Store&) {
        statements.batch("CREATE TABLE batched (a INTEGER); INSERT INTO batched VALUES (1); "
                         "INSERT INTO batched VALUES (2)");
        EXPECT_EQ(statements.query("SELECT COUNT(*) FROM batched").rows.at(0).at(0).convert<int>(), 2);
        statements.execute("SAVEPOINT batch");
        EXPECT_THROW(statements.batch("INSERT INTO batched VALUES (3); INSERT INTO missing VALUES (4)"),
                     Poco::Exception);
        statements.execute("ROLLBACK TO SAVEPOINT batch");
        EXPECT_EQ(statements.query("SELECT COUNT(*) FROM batched").rows.at(0).at(0).convert<int>(), 2);
    });
}

/// PostgreSQL only: the statements kept on the server, the driver's errors, a lost connection.
class PostgresStatementsTest : public StatementsTest {
protected:
    /// The statements this connection has prepared on the server under the kernel's names (the
    /// pool's and the test's own Statements alike).
    static std::int64_t serverStatements(sql::Statements& statements) {
        return sql::query(statements.session(), sql::Dialect::Postgresql,
                          "SELECT COUNT(*) FROM pg_prepared_statements WHERE name LIKE 'dq\\_%'")
            .rows.at(0)
            .at(0)
            .convert<std::int64_t>();
    }
    /// Ends the server process behind the connection whose backend process id is `pid`, from a
    /// connection of its own (as an administrator or a server restart would).
    void terminate(std::int64_t pid) {
        Poco::Data::Session admin(uri_.connector(), uri_.connectionString());
        sql::query(admin, sql::Dialect::Postgresql, "SELECT pg_terminate_backend(?)", {Value(pid)});
    }
};

TEST_P(PostgresStatementsTest, EachColumnTypeReadsAsThroughPoco) {
    withStatements([&](sql::Statements& statements, Store& store) {
        auto& session = static_cast<SqlStore&>(store).session();
        store.execute("CREATE TABLE typed (i2 SMALLINT, i4 INTEGER, i8 BIGINT, b BOOLEAN, f4 REAL, f8 DOUBLE "
                      "PRECISION, n NUMERIC, v VARCHAR(10), c CHAR(3), t TEXT, j JSON, o OID, iv INTERVAL)");
        const auto before = serverStatements(statements);
        const std::string insert = "INSERT INTO typed VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
        statements.execute(insert, {Value(Poco::Int64(-7)), Value(Poco::Int64(2147483647)),
                                    Value(Poco::Int64(9007199254740993)), Value(true), Value(1.5), Value(0.1),
                                    Value(3.125), Value(std::string("vé")), Value(std::string("ab")),
                                    Value(std::string("it's \"quoted\" ? -- not a comment")),
                                    Value(std::string("{\"x\": 1}")), Value(Poco::Int64(26)),
                                    Value(std::string("1 day"))});
        std::vector<Value> nulls(13);
        statements.execute(insert, nulls);
        for (const std::string text : {"SELECT * FROM typed ORDER BY i2 NULLS LAST",
                                       "SELECT COUNT(*), MAX(f8), 'literal', 1, "
                                       "1.5::float8 / 0.5, NULL FROM typed",
                                       "SELECT t FROM typed WHERE t = ? AND i8 > ?"}) {
            std::vector<Value> params;
            if (text.find('?') != std::string::npos)
                params = {Value(std::string("it's \"quoted\" ? -- not a comment")), Value(Poco::Int64(1))};
            expectSameRows(statements.query(text, params), sql::query(session, dialect(), text, params),
                           text);
        }
        // Read through the kept statements (an insert and three queries), not Poco.
        EXPECT_EQ(statements.size(), 4u);
        EXPECT_EQ(serverStatements(statements) - before, 4);
    });
}

TEST_P(PostgresStatementsTest, DatesTimesAndLobsKeepPocosPath) {
    withStatements([&](sql::Statements& statements, Store& store) {
        auto& session = static_cast<SqlStore&>(store).session();
        const auto before = serverStatements(statements);
        const std::string text =
            "SELECT '2026-12-01 03:01:07.467037'::timestamp, '2026-12-01'::date, "
            "'12:34:56'::time, 'ab'::bytea, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid, "
            "?::text";
        auto rows = statements.query(text, {Value(std::string("x"))});
        expectSameRows(rows, sql::query(session, dialect(), text, {Value(std::string("x"))}), text);
        // Poco's own classes, which a text column would not give.
        EXPECT_EQ(rows.rows.at(0).at(0).convert<std::string>(), "2026-12-01T03:01:07Z");
        EXPECT_EQ(statements.size(), 0u);
        EXPECT_EQ(serverStatements(statements), before);
    });
}

TEST_P(PostgresStatementsTest, AStatementThatFailedRunsAgainAndFailsTheSameWay) {
    withStatements([](sql::Statements& statements, Store&) {
        const std::string insert = "INSERT INTO organization (name) VALUES (?)";
        statements.execute(insert, {std::string("taken")});
        // The same kept statement fails three times (Poco's re-executed statement crashed on the
        // second), then succeeds.
        for (int attempt = 0; attempt < 3; ++attempt) {
            statements.execute("SAVEPOINT again");
            try {
                statements.execute(insert, {std::string("taken")});
                ADD_FAILURE() << "a duplicate name was inserted";
            } catch (const Poco::Data::PostgreSQL::StatementException& e) {
                const auto text = e.displayText();
                EXPECT_NE(text.find("State: 23505"), std::string::npos) << text;
                EXPECT_NE(text.find("Detail: Key (name)=(taken) already exists."), std::string::npos) << text;
                EXPECT_NE(text.find("Constraint: "), std::string::npos) << text;
            }
            statements.execute("ROLLBACK TO SAVEPOINT again");
        }
        EXPECT_EQ(statements.execute(insert, {std::string("free")}), 1u);
        EXPECT_EQ(statements.size(), 3u);
    });
}

TEST_P(PostgresStatementsTest, AFailedTransactionLeavesItsConnectionUsableWithItsStatements) {
    db_->transaction([](Store& store) { store.insert("organization", Record().set("name", "taken")); });
    // The store's unique check, then a statement in the failed transaction, then ROLLBACK: all on
    // the one pooled connection (there is no concurrency here), whose statements stay.
    for (int attempt = 0; attempt < 2; ++attempt)
        EXPECT_THROW(db_->transaction([](Store& store) {
            store.execute("INSERT INTO organization (name) VALUES (?)", {std::string("taken")});
        }),
                     Poco::Data::PostgreSQL::StatementException);
    EXPECT_THROW(
        db_->transaction([](Store& store) { store.insert("organization", Record().set("name", "taken")); }),
        Conflict);
    db_->transaction([](Store& store) {
        store.insert("organization", Record().set("name", "free"));
        EXPECT_EQ(store.count("organization"), 2);
        auto kept = store.query("SELECT COUNT(*) FROM pg_prepared_statements WHERE name LIKE 'dq\\_%'");
        EXPECT_GT(kept.rows.at(0).at(0).convert<int>(), 3);
    });
}

TEST_P(PostgresStatementsTest, AFullCacheStartsOverAndDeallocatesOnTheServer) {
    withStatements([](sql::Statements& statements, Store&) {
        const auto before = serverStatements(statements);
        // Texts that differ only in a number, as IN (...) lists of other lengths do.
        for (int i = 0; i < 300; ++i) {
            auto rows = statements.query("SELECT ? + " + std::to_string(i), {Value(Poco::Int64(1))});
            ASSERT_EQ(rows.rows.at(0).at(0).convert<int>(), i + 1);
        }
        // 256 kept, then the start-over: what remains on the server is what the cache holds.
        EXPECT_EQ(statements.size(), 300u - 256u);
        EXPECT_EQ(serverStatements(statements) - before, 300 - 256);
        // A text from before the start-over is prepared again.
        EXPECT_EQ(statements.query("SELECT ? + 0", {Value(Poco::Int64(5))}).rows.at(0).at(0).convert<int>(),
                  5);
        EXPECT_EQ(statements.size(), 300u - 256u + 1u);
    });
}

TEST_P(PostgresStatementsTest, ALostConnectionIsDatabaseUnavailableAndTheNextTransactionReconnects) {
    db_->transaction([](Store& store) { store.insert("organization", Record().set("name", "kept")); });
    try {
        db_->transaction([&](Store& store) {
            auto pid = store.query("SELECT pg_backend_pid()").rows.at(0).at(0).convert<std::int64_t>();
            terminate(pid);
            store.count("organization");
        });
        ADD_FAILURE() << "the transaction ran on a terminated connection";
    } catch (const DatabaseUnavailable& e) {
        EXPECT_EQ(dynamic_cast<const DatabaseBusy*>(&e), nullptr) << e.what();
        EXPECT_NE(std::string(e.what()).find("lost the connection"), std::string::npos) << e.what();
    }
    // The lost connection left the pool; a new one serves the next transaction.
    db_->transaction([](Store& store) { EXPECT_EQ(store.count("organization"), 1); }, Database::Access::Read);

    // A pooled idle connection whose server process ended fails at BEGIN: the same answer.
    std::int64_t idle = 0;
    db_->transaction([&](Store& store) {
        idle = store.query("SELECT pg_backend_pid()").rows.at(0).at(0).convert<std::int64_t>();
    });
    terminate(idle);
    EXPECT_THROW(db_->transaction([](Store& store) { store.count("organization"); }), DatabaseUnavailable);
    db_->transaction([](Store& store) { EXPECT_EQ(store.count("organization"), 1); });
}

TEST_P(PostgresStatementsTest, StatementsOfALostConnectionThrowNotConnected) {
    std::int64_t pid = 0;
    EXPECT_ANY_THROW(withStatements([&](sql::Statements& statements, Store&) {
        const std::string text = "SELECT COUNT(*) FROM organization WHERE id > ?";
        statements.query(text, {Value(Poco::Int64(0))});
        pid = statements.query("SELECT pg_backend_pid()").rows.at(0).at(0).convert<std::int64_t>();
        terminate(pid);
        EXPECT_THROW(statements.query(text, {Value(Poco::Int64(0))}),
                     Poco::Data::PostgreSQL::StatementException);
        EXPECT_THROW(statements.query(text, {Value(Poco::Int64(0))}), Poco::Data::NotConnectedException);
        EXPECT_THROW(statements.batch("BEGIN"), Poco::Data::NotConnectedException);
    }));
    EXPECT_NE(pid, 0);
}

TEST_P(PostgresStatementsTest, ReadTransactionsAreReadOnlyAndBoundedOnesWaitForLocksNoLonger) {
    db_->transaction(
        [](Store& store) {
            EXPECT_EQ(store.query("SHOW transaction_read_only").rows.at(0).at(0).convert<std::string>(),
                      "on");
            EXPECT_EQ(store.query("SHOW lock_timeout").rows.at(0).at(0).convert<std::string>(), "0");
        },
        Database::Access::Read);
    db_->transaction(
        [](Store& store) {
            EXPECT_EQ(store.query("SHOW transaction_read_only").rows.at(0).at(0).convert<std::string>(),
                      "off");
            auto timeout = store.query("SHOW lock_timeout").rows.at(0).at(0).convert<std::string>();
            EXPECT_NE(timeout, "0");
            EXPECT_LE(std::stoi(timeout), 3000) << timeout;
        },
        Database::Access::Write, Database::Wait::Bounded);
    // SET LOCAL ended with its transaction.
    db_->transaction([](Store& store) {
        EXPECT_EQ(store.query("SHOW lock_timeout").rows.at(0).at(0).convert<std::string>(), "0");
    });
}

INSTANTIATE_TEST_SUITE_P(Backends, PostgresStatementsTest, ::testing::Values(Backend::Postgresql),
                         backendName);

INSTANTIATE_TEST_SUITE_P(Backends, StatementsTest, ::testing::Values(Backend::Sqlite, Backend::Postgresql),
                         backendName);

} // namespace
} // namespace dq::kernel::test
