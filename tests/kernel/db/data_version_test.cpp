// Database::Transaction::dataVersion: equal tokens mean equal data, whoever wrote in between (this
// process on the same or another connection, another Database on the same file or server).
#include "db_fixture.h"

#include <dq/sdk/plugin.h>
#include <optional>
#include <string>
#include <thread>

namespace dq::kernel::test {
namespace {

using namespace dq::sdk;

class DataVersionTest : public DatabaseTest {
protected:
    /// The token of a fresh read transaction on `db`; SQLite may need a second look when the
    /// connection saw a change (it answers nullopt once).
    static std::optional<std::string> versionOf(Database& db) {
        std::optional<std::string> version;
        for (int attempt = 0; attempt < 3 && !version; ++attempt) {
            Database::Transaction read(db, Database::Access::Read);
            version = read.dataVersion();
            read.commit();
        }
        return version;
    }
    static void addOrganization(Database& db, const std::string& name) {
        db.transaction([&](Store& store) { store.insert("organization", Record().set("name", name)); });
    }
};

TEST_P(DataVersionTest, StaysTheSameWhileNothingIsWritten) {
    auto first = versionOf(*db_);
    ASSERT_TRUE(first);
    db_->transaction([](Store& store) { store.count("organization"); }, Database::Access::Read);
    EXPECT_EQ(versionOf(*db_), first);
}

TEST_P(DataVersionTest, ChangesWithAWriteOfThisProcess) {
    auto before = versionOf(*db_);
    ASSERT_TRUE(before);
    addOrganization(*db_, "new");
    auto after = versionOf(*db_);
    ASSERT_TRUE(after);
    EXPECT_NE(after, before);
}

TEST_P(DataVersionTest, ChangesWithAWriteOfAnotherDatabaseOnTheSameData) {
    // Another Database object has connections of its own, as another process would.
    auto other = open(catalog_, false);
    auto before = versionOf(*db_);
    ASSERT_TRUE(before);
    addOrganization(*other, "written elsewhere");
    auto after = versionOf(*db_);
    ASSERT_TRUE(after);
    EXPECT_NE(after, before);
}

TEST_P(DataVersionTest, ChangesWithAWriteOnEveryPooledConnection) {
    // Several connections in the pool, each with a token: a write on one of them must change
    // what every one of them reports, including the writer's own connection.
    std::vector<std::thread> threads;
    std::vector<std::optional<std::string>> before(4);
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&, t] { before[t] = versionOf(*db_); });
    for (auto& t : threads)
        t.join();
    addOrganization(*db_, "one more");
    threads.clear();
    std::vector<std::optional<std::string>> after(4);
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&, t] { after[t] = versionOf(*db_); });
    for (auto& t : threads)
        t.join();
    for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j)
            if (before[i] && after[j]) {
                EXPECT_NE(before[i], after[j]) << "connection tokens " << i << " and " << j;
            }
}

TEST_P(DataVersionTest, WithoutATransactionMatchesTheTransactions) {
    auto peek = [&] {
        std::optional<std::string> version;
        for (int attempt = 0; attempt < 3 && !version; ++attempt)
            version = db_->dataVersion();
        return version;
    };
    auto inTransaction = versionOf(*db_);
    ASSERT_TRUE(inTransaction);
    EXPECT_EQ(peek(), inTransaction);
    auto other = open(catalog_, false);
    addOrganization(*other, "elsewhere");
    auto moved = peek();
    ASSERT_TRUE(moved);
    EXPECT_NE(moved, inTransaction);
    EXPECT_EQ(versionOf(*db_), moved);
    // Not while this thread holds a session: that would be a second one.
    Database::Transaction read(*db_, Database::Access::Read);
    EXPECT_THROW(db_->dataVersion(), std::logic_error);
    read.commit();
}

TEST_P(DataVersionTest, IsNotGivenInAWriteTransaction) {
    Database::Transaction write(*db_, Database::Access::Write);
    EXPECT_FALSE(write.dataVersion());
    write.commit();
}

INSTANTIATE_TEST_SUITE_P(Backends, DataVersionTest, ::testing::Values(Backend::Sqlite, Backend::Postgresql),
                         backendName);

} // namespace
} // namespace dq::kernel::test
