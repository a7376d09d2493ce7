// Schema creation and migration from model declarations, on SQLite and PostgreSQL.
#include "db_fixture.h"

#include <dq/sdk/plugin.h>

namespace dq::kernel::test {
namespace {

using namespace dq::sdk;

class SchemaTest : public DatabaseTest {
protected:
    std::vector<std::string> columnsOf(Database& db, const std::string& table) {
        std::vector<std::string> out;
        db.transaction(
            [&](Store& store) {
                auto rows =
                    db.dialect() == "sqlite"
                        ? store.query("SELECT name FROM pragma_table_info(?) ORDER BY cid", {table})
                        : store.query(
                              "SELECT column_name FROM information_schema.columns WHERE table_schema = "
                              "current_schema() AND table_name = ? ORDER BY ordinal_position",
                              {table});
                for (const auto& row : rows.rows)
                    out.push_back(row[0].convert<std::string>());
            },
            Database::Access::Read);
        return out;
    }

    std::map<std::string, std::pair<std::string, std::string>> schemaRows(Database& db) {
        std::map<std::string, std::pair<std::string, std::string>> out;
        db.transaction([&](Store& store) {
            for (const auto& row : store.query("SELECT plugin, fingerprint, updated_at FROM dq_schema").rows)
                out[row[0].convert<std::string>()] = {row[1].convert<std::string>(),
                                                      row[2].convert<std::string>()};
        });
        return out;
    }
};

TEST_P(SchemaTest, CreatesTablePerModelWithIdFieldsAndReferenceColumns) {
    EXPECT_EQ(columnsOf(*db_, "organization"),
              (std::vector<std::string>{"id", "name", "country", "active", "score", "created_at"}));
    EXPECT_EQ(columnsOf(*db_, "node"),
              (std::vector<std::string>{"id", "name", "organization_id", "collaboration_id"}));
    EXPECT_EQ(columnsOf(*db_, "user"), (std::vector<std::string>{"id", "username", "organization_id"}));
}

TEST_P(SchemaTest, CreatesAssociationTablesWithDefaultColumnNames) {
    EXPECT_EQ(columnsOf(*db_, "member"), (std::vector<std::string>{"collaboration_id", "organization_id"}));
    EXPECT_EQ(columnsOf(*db_, "permission"), (std::vector<std::string>{"user_id", "role_id"}));
}

TEST_P(SchemaTest, AssociationTableRefusesDuplicatePairs) {
    EXPECT_ANY_THROW(db_->transaction([](Store& store) {
        store.execute("INSERT INTO member (collaboration_id, organization_id) VALUES (1, 2)");
        store.execute("INSERT INTO member (collaboration_id, organization_id) VALUES (1, 2)");
    }));
}

TEST_P(SchemaTest, RecordsFingerprintPerPlugin) {
    auto rows = schemaRows(*db_);
    ASSERT_EQ(rows.count("testplugin"), 1u);
    EXPECT_EQ(rows["testplugin"].first.size(), 40u);
    EXPECT_FALSE(rows["testplugin"].second.empty());
}

TEST_P(SchemaTest, MigrateTwiceChangesNothing) {
    auto before = schemaRows(*db_);
    db_->transaction([](Store& store) { store.insert("organization", Record().set("name", "a")); });
    db_->migrate();
    auto again = open(catalog_);
    EXPECT_EQ(schemaRows(*again), before);
    again->transaction([](Store& store) { EXPECT_EQ(store.count("organization"), 1); });
}

TEST_P(SchemaTest, MigrationAddsColumnOfNewFieldAndKeepsData) {
    Catalog first;
    first.registryFor("growing", nullptr)->model(ModelDecl("station").field(field("name")));
    auto db = open(first);
    db->transaction([](Store& store) { store.insert("station", Record().set("name", "north")); });
    auto print = schemaRows(*db).at("growing").first;
    db.reset();

    Catalog second;
    second.registryFor("growing", nullptr)
        ->model(ModelDecl("station")
                    .field(field("name"))
                    .field(field("level", FieldType::Integer, false, false, 3))
                    .field(field("code", FieldType::Text, true, true))
                    .reference(reference("owner", "station", OnDelete::SetNull)));
    db = open(second);
    EXPECT_EQ(columnsOf(*db, "station"),
              (std::vector<std::string>{"id", "name", "level", "code", "owner_id"}));
    EXPECT_NE(schemaRows(*db).at("growing").first, print);
    db->transaction([](Store& store) {
        auto rows = store.select("station");
        ASSERT_EQ(rows.size(), 1u);
        EXPECT_EQ(rows[0].text("name"), "north");
        EXPECT_EQ(rows[0].get("level").extract<Poco::Int64>(), 3); // filled with the declared default
        EXPECT_TRUE(rows[0].isNull("code"));
        store.insert("station", Record().set("name", "south").set("code", "S"));
        EXPECT_THROW(store.insert("station", Record().set("name", "west").set("code", "S")), Conflict);
    });
    db.reset();
    db = open(second);
    EXPECT_EQ(columnsOf(*db, "station").size(), 5u);
}

TEST_P(SchemaTest, DropAllRemovesModelAssociationAndSchemaTables) {
    db_->dropAll();
    EXPECT_TRUE(columnsOf(*db_, "organization").empty());
    EXPECT_TRUE(columnsOf(*db_, "permission").empty());
    EXPECT_TRUE(columnsOf(*db_, "dq_schema").empty());
    db_->migrate();
    EXPECT_FALSE(columnsOf(*db_, "organization").empty());
}

TEST_P(SchemaTest, RefusesDeclarationsWithInvalidNamesNamingPluginAndModel) {
    Catalog bad;
    bad.registryFor("sloppy", nullptr)
        ->model(ModelDecl("Bad-Table").field(field("x")).field(field("id")).uniqueTogether({"nope"}));
    auto db = open(bad, false);
    try {
        db->migrate();
        FAIL() << "migrate accepted an invalid declaration";
    } catch (const std::runtime_error& e) {
        std::string message = e.what();
        EXPECT_NE(message.find("plugin 'sloppy', model 'Bad-Table'"), std::string::npos) << message;
        EXPECT_NE(message.find("'id' is always present"), std::string::npos) << message;
        EXPECT_NE(message.find("'nope'"), std::string::npos) << message;
    }
}

TEST_P(SchemaTest, ReportsHealthy) {
    EXPECT_TRUE(db_->healthy());
}

INSTANTIATE_TEST_SUITE_P(Backends, SchemaTest, ::testing::Values(Backend::Sqlite, Backend::Postgresql),
                         backendName);

} // namespace
} // namespace dq::kernel::test
