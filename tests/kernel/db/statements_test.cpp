// Prepared statements per connection: re-run with new bindings, the same rows and errors as the
// uncached path, usable again after a failure.
#include "db_fixture.h"
#include "kernel/db/sql_store.h"
#include "kernel/db/statements.h"

#include <Poco/Exception.h>
#include <dq/sdk/plugin.h>

namespace dq::kernel::test {
namespace {

using namespace dq::sdk;

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
        // SQLite keeps the statement; PostgreSQL runs the uncached path (see statements.h).
        EXPECT_EQ(statements.size(), GetParam() == Backend::Sqlite ? 1u : 0u);
    });
}

TEST_P(StatementsTest, RowsHaveTheValuesAndTypesOfTheUncachedPath) {
    withStatements([&](sql::Statements& statements, Store& store) {
        store.insert("organization", Record().set("name", "full").set("country", "NL").set("score", 0.25)
                                         .set("active", false).set("created_at", "2026-12-01T03:01:07.467037"));
        store.insert("organization", Record().set("name", "sparse"));
        auto& session = static_cast<SqlStore&>(store).session();
        for (const std::string text :
             {"SELECT id, name, country, score, active, created_at FROM organization ORDER BY id",
              "SELECT COUNT(*) FROM organization", "SELECT name FROM organization WHERE score > ? ORDER BY id"}) {
            std::vector<Value> params;
            if (text.find('?') != std::string::npos)
                params.push_back(0.1);
            auto cached = statements.query(text, params);
            auto uncached = sql::query(session, dialect(), text, params);
            ASSERT_EQ(cached.columns, uncached.columns) << text;
            ASSERT_EQ(cached.rows.size(), uncached.rows.size()) << text;
            for (std::size_t r = 0; r < cached.rows.size(); ++r)
                for (std::size_t c = 0; c < cached.columns.size(); ++c) {
                    const auto& a = cached.rows[r][c];
                    const auto& b = uncached.rows[r][c];
                    EXPECT_EQ(a.isEmpty(), b.isEmpty()) << text << " row " << r << " " << cached.columns[c];
                    if (a.isEmpty() || b.isEmpty())
                        continue;
                    EXPECT_EQ(std::string(a.type().name()), std::string(b.type().name()))
                        << text << " row " << r << " " << cached.columns[c];
                    EXPECT_EQ(a.convert<std::string>(), b.convert<std::string>())
                        << text << " row " << r << " " << cached.columns[c];
                }
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

INSTANTIATE_TEST_SUITE_P(Backends, StatementsTest, ::testing::Values(Backend::Sqlite, Backend::Postgresql),
                         backendName);

} // namespace
} // namespace dq::kernel::test
