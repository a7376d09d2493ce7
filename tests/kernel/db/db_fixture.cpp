// The database test fixture: temporary SQLite files and a private PostgreSQL database per process.
#include "db_fixture.h"

#include <Poco/Data/PostgreSQL/Connector.h>
#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Session.h>
#include <cstdlib>
#include <dq/sdk/plugin.h>
#include <iostream>
#include <mutex>
#include <unistd.h>

namespace dq::kernel::test {

namespace {

using namespace Poco::Data::Keywords;

void registerConnectors() {
    static std::once_flag once;
    std::call_once(once, [] {
        Poco::Data::SQLite::Connector::registerConnector();
        Poco::Data::PostgreSQL::Connector::registerConnector();
    });
}

/// The PostgreSQL database of this test process: created on first use from DQ_TEST_POSTGRES_URI's
/// server, dropped when the tests end, so parallel test processes never see each other's tables.
class PostgresDatabase : public ::testing::Environment {
public:
    DatabaseUri uri(const std::string& given) {
        if (!created_) {
            registerConnectors();
            server_ = DatabaseUri::parse(given);
            name_ = "dq_kernel_db_test_" + std::to_string(::getpid());
            Poco::Data::Session admin(server_.connector(), server_.connectionString());
            admin << "SET client_min_messages TO warning", now;
            admin << "DROP DATABASE IF EXISTS " + name_, now;
            admin << "CREATE DATABASE " + name_, now;
            created_ = true;
        }
        DatabaseUri own = server_;
        own.database = name_;
        return own;
    }

    void TearDown() override {
        if (!created_)
            return;
        try {
            Poco::Data::Session admin(server_.connector(), server_.connectionString());
            admin << "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)", now;
        } catch (const Poco::Exception& e) {
            std::cerr << "could not drop the test database " << name_ << ": " << e.displayText() << "\n";
        }
    }

private:
    bool created_ = false;
    DatabaseUri server_;
    std::string name_;
};

// Registered before main() so gtest tears it down (drops the database) after the last test.
PostgresDatabase* const postgres =
    static_cast<PostgresDatabase*>(::testing::AddGlobalTestEnvironment(new PostgresDatabase));

} // namespace

std::string backendName(const ::testing::TestParamInfo<Backend>& info) {
    return info.param == Backend::Sqlite ? "Sqlite" : "Postgresql";
}

sdk::Field field(const std::string& name, sdk::FieldType type, bool nullable, bool unique,
                 sdk::Value defaultValue) {
    sdk::Field f;
    f.name = name;
    f.type = type;
    f.nullable = nullable;
    f.unique = unique;
    f.defaultValue = std::move(defaultValue);
    return f;
}

sdk::Reference reference(const std::string& name, const std::string& target, sdk::OnDelete onDelete,
                         const std::string& backref) {
    sdk::Reference r;
    r.name = name;
    r.target = target;
    r.onDelete = onDelete;
    r.backref = backref;
    return r;
}

sdk::Association association(const std::string& name, const std::string& target, const std::string& table,
                             const std::string& backref) {
    sdk::Association a;
    a.name = name;
    a.target = target;
    a.table = table;
    a.backref = backref;
    return a;
}

void declareTestModels(Catalog& catalog) {
    using namespace dq::sdk;
    auto registry = catalog.registryFor("testplugin", nullptr);
    registry->model(ModelDecl("organization")
                        .field(field("name", FieldType::Text, false, true))
                        .field(field("country"))
                        .field(field("active", FieldType::Boolean, true, false, true))
                        .field(field("score", FieldType::Real))
                        .field(field("created_at", FieldType::DateTime)));
    registry->model(
        ModelDecl("collaboration")
            .field(field("name", FieldType::Text, false, true))
            .field(field("encrypted", FieldType::Boolean, true, false, false))
            .association(association("organizations", "organization", "member", "collaborations")));
    registry->model(ModelDecl("user")
                        .field(field("username", FieldType::Text, true, true))
                        .reference(reference("organization", "organization", OnDelete::Cascade, "users"))
                        .association(association("roles", "role", "permission", "users")));
    registry->model(ModelDecl("role")
                        .field(field("name"))
                        .reference(reference("organization", "organization", OnDelete::SetNull)));
    registry->model(ModelDecl("node")
                        .field(field("name"))
                        .reference(reference("organization", "organization", OnDelete::SetNull, "nodes"))
                        .reference(reference("collaboration", "collaboration", OnDelete::Restrict, "nodes"))
                        .uniqueTogether({"organization_id", "collaboration_id"}));
    registry->model(ModelDecl("task")
                        .field(field("name"))
                        .reference(reference("collaboration", "collaboration", OnDelete::Cascade, "tasks"))
                        .reference(reference("parent", "task", OnDelete::Cascade, "children")));
}

void DatabaseTest::SetUp() {
    if (GetParam() == Backend::Postgresql) {
        const char* given = std::getenv("DQ_TEST_POSTGRES_URI");
        if (!given || !*given)
            GTEST_SKIP()
                << "DQ_TEST_POSTGRES_URI is not set; set it to postgresql://user@host:port/db (a user that "
                   "may CREATE DATABASE) to run the PostgreSQL variant of this test";
        uri_ = postgres->uri(given);
        // A fresh schema for every test.
        Poco::Data::Session session(uri_.connector(), uri_.connectionString());
        session << "SET client_min_messages TO warning", now;
        session << "DROP SCHEMA IF EXISTS public CASCADE", now;
        session << "CREATE SCHEMA public", now;
    } else {
        auto base = std::filesystem::temp_directory_path();
        std::string name = "dq-db-test-" + std::to_string(::getpid()) + "-" +
                           ::testing::UnitTest::GetInstance()->current_test_info()->name();
        for (auto& c : name)
            if (c == '/')
                c = '_';
        folder_ = base / name;
        std::filesystem::remove_all(folder_);
        std::filesystem::create_directories(folder_);
        uri_ = DatabaseUri::parse("sqlite:///test.sqlite", folder_.string());
    }
    declareTestModels(catalog_);
    db_ = open(catalog_);
}

void DatabaseTest::TearDown() {
    db_.reset();
    if (!folder_.empty())
        std::filesystem::remove_all(folder_);
}

std::unique_ptr<Database> DatabaseTest::open(const Catalog& catalog, bool migrate) {
    auto db = std::make_unique<Database>(uri_, catalog);
    if (migrate)
        db->migrate();
    return db;
}

} // namespace dq::kernel::test
