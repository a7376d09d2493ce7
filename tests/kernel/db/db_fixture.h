// The database test fixture: each test runs against a fresh SQLite file in a temporary folder and
// against PostgreSQL (a database of its own, from DQ_TEST_POSTGRES_URI), with a test catalog.
#pragma once

#include "kernel/catalog/catalog.h"
#include "kernel/db/database.h"

#include <filesystem>
#include <gtest/gtest.h>
#include <memory>
#include <string>

namespace dq::kernel::test {

enum class Backend { Sqlite, Postgresql };

std::string backendName(const ::testing::TestParamInfo<Backend>& info);

/// Declares the test models in `catalog` as plugin "testplugin":
/// organization(name unique required, country, active=true, score, created_at)
/// collaboration(name unique required, encrypted=false) <-> organization via "member" (organizations /
/// collaborations) user(username unique, organization → organization Cascade, backref users) <-> role via
/// "permission" (roles / users) role(name, organization → organization SetNull) node(name, organization →
/// organization SetNull, collaboration → collaboration Restrict,
///      unique together organization_id + collaboration_id)
/// task(name, collaboration → collaboration Cascade, parent → task Cascade)
void declareTestModels(Catalog& catalog);

/// Declaration shorthands (designated initializers would leave members unnamed, which -Wextra flags).
sdk::Field field(const std::string& name, sdk::FieldType type = sdk::FieldType::Text, bool nullable = true,
                 bool unique = false, sdk::Value defaultValue = {});
sdk::Reference reference(const std::string& name, const std::string& target, sdk::OnDelete onDelete,
                         const std::string& backref = "");
sdk::Association association(const std::string& name, const std::string& target, const std::string& table,
                             const std::string& backref);

class DatabaseTest : public ::testing::TestWithParam<Backend> {
protected:
    void SetUp() override;
    void TearDown() override;

    /// A database on this test's URI with `catalog`'s models, migrated.
    std::unique_ptr<Database> open(const Catalog& catalog, bool migrate = true);

    DatabaseUri uri_;
    std::filesystem::path folder_;
    Catalog catalog_;
    std::unique_ptr<Database> db_;
};

} // namespace dq::kernel::test
