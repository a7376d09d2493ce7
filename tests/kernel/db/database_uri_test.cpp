// DatabaseUri: the SQLAlchemy forms operators write in their config, and clear refusals.
#include "kernel/db/database_uri.h"

#include <gtest/gtest.h>
#include <stdexcept>

namespace dq::kernel {
namespace {

std::string parseError(const std::string& uri) {
    try {
        DatabaseUri::parse(uri, "/data");
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    ADD_FAILURE() << "no error for " << uri;
    return "";
}

TEST(DatabaseUri, ResolvesRelativeSqlitePathAgainstDataFolder) {
    auto uri = DatabaseUri::parse("sqlite:///default.sqlite", "/var/lib/dq/server");
    EXPECT_EQ(uri.kind, DatabaseUri::Kind::Sqlite);
    EXPECT_EQ(uri.path, "/var/lib/dq/server/default.sqlite");
    EXPECT_EQ(uri.connector(), "SQLite");
    EXPECT_EQ(uri.connectionString(), "/var/lib/dq/server/default.sqlite");
}

TEST(DatabaseUri, ResolvesRelativeSubfolderPath) {
    EXPECT_EQ(DatabaseUri::parse("sqlite:///db/x.sqlite", "/data/").path, "/data/db/x.sqlite");
}

TEST(DatabaseUri, KeepsAbsoluteSqlitePath) {
    auto uri = DatabaseUri::parse("sqlite:////tmp/abs/file.sqlite", "/elsewhere");
    EXPECT_EQ(uri.path, "/tmp/abs/file.sqlite");
    EXPECT_EQ(uri.display(), "sqlite:////tmp/abs/file.sqlite");
}

TEST(DatabaseUri, AcceptsBothInMemoryForms) {
    EXPECT_EQ(DatabaseUri::parse("sqlite://").path, ":memory:");
    EXPECT_EQ(DatabaseUri::parse("sqlite:///:memory:").path, ":memory:");
    EXPECT_EQ(DatabaseUri::parse("sqlite://").display(), "sqlite://");
}

TEST(DatabaseUri, ParsesFullPostgresqlUri) {
    auto uri = DatabaseUri::parse("postgresql://alice:s3cret@db.example.org:6543/vantage");
    EXPECT_EQ(uri.kind, DatabaseUri::Kind::Postgresql);
    EXPECT_EQ(uri.user, "alice");
    EXPECT_EQ(uri.password, "s3cret");
    EXPECT_EQ(uri.host, "db.example.org");
    EXPECT_EQ(uri.port, 6543);
    EXPECT_EQ(uri.database, "vantage");
    EXPECT_EQ(uri.connector(), "PostgreSQL");
    EXPECT_EQ(uri.connectionString(),
              "host=db.example.org port=6543 user=alice password=s3cret dbname=vantage");
}

TEST(DatabaseUri, AcceptsDriverSuffixAndDefaultsHostAndPort) {
    auto uri = DatabaseUri::parse("postgresql+psycopg2://bob@/dq");
    EXPECT_EQ(uri.user, "bob");
    EXPECT_EQ(uri.password, "");
    EXPECT_EQ(uri.host, "localhost");
    EXPECT_EQ(uri.port, 5432);
    EXPECT_EQ(uri.database, "dq");
    EXPECT_EQ(uri.connectionString(), "host=localhost port=5432 user=bob dbname=dq");
}

TEST(DatabaseUri, PercentDecodesCredentialsAndQuotesThemForLibpq) {
    auto uri = DatabaseUri::parse("postgresql://us%40er:p%40ss%20w'd%2F@host/db");
    EXPECT_EQ(uri.user, "us@er");
    EXPECT_EQ(uri.password, "p@ss w'd/");
    EXPECT_EQ(uri.connectionString(), "host=host port=5432 user=us@er password='p@ss w\\'d/' dbname=db");
}

TEST(DatabaseUri, AcceptsUnencodedSpecialCharactersInPassword) {
    auto uri = DatabaseUri::parse("postgresql://u:a/b?c@d@host:5433/db");
    EXPECT_EQ(uri.password, "a/b?c@d");
    EXPECT_EQ(uri.host, "host");
    EXPECT_EQ(uri.port, 5433);
}

TEST(DatabaseUri, AcceptsUnixSocketFolderAsHostQuery) {
    auto uri = DatabaseUri::parse("postgresql://u@/db?host=/run/postgresql");
    EXPECT_EQ(uri.host, "/run/postgresql");
    EXPECT_EQ(uri.connectionString(), "host=/run/postgresql port=5432 user=u dbname=db");
    EXPECT_EQ(uri.display(), "postgresql://u@:5432/db?host=/run/postgresql");
}

TEST(DatabaseUri, AcceptsIpv6Host) {
    auto uri = DatabaseUri::parse("postgresql://u@[::1]:5440/db");
    EXPECT_EQ(uri.host, "::1");
    EXPECT_EQ(uri.port, 5440);
}

TEST(DatabaseUri, DisplayMasksPassword) {
    auto uri = DatabaseUri::parse("postgresql://alice:s3cret@db:5432/v");
    EXPECT_EQ(uri.display(), "postgresql://alice:***@db:5432/v");
    EXPECT_EQ(uri.display().find("s3cret"), std::string::npos);
}

TEST(DatabaseUri, RejectsUnknownScheme) {
    auto message = parseError("mysql://u:p@h/db");
    EXPECT_NE(message.find("'mysql'"), std::string::npos) << message;
    EXPECT_NE(message.find("Accepted forms"), std::string::npos) << message;
}

TEST(DatabaseUri, RejectsTextWithoutScheme) {
    auto message = parseError("/var/lib/db.sqlite");
    EXPECT_NE(message.find("'/var/lib/db.sqlite'"), std::string::npos) << message;
    EXPECT_NE(message.find("sqlite:///"), std::string::npos) << message;
}

TEST(DatabaseUri, RejectsSqliteWithTwoSlashesAndPath) {
    auto message = parseError("sqlite://relative.sqlite");
    EXPECT_NE(message.find("three slashes"), std::string::npos) << message;
}

TEST(DatabaseUri, RejectsBadPortAndMasksPasswordInMessage) {
    auto message = parseError("postgresql://alice:topsecret@host:99999/db");
    EXPECT_NE(message.find("port '99999'"), std::string::npos) << message;
    EXPECT_EQ(message.find("topsecret"), std::string::npos) << message;
    EXPECT_NE(message.find("alice:***@host"), std::string::npos) << message;
    EXPECT_NE(parseError("postgresql://u@host:abc/db").find("port 'abc'"), std::string::npos);
}

TEST(DatabaseUri, RejectsUnsupportedQueryParameter) {
    auto message = parseError("postgresql://u@host/db?sslmode=require");
    EXPECT_NE(message.find("'sslmode'"), std::string::npos) << message;
}

TEST(DatabaseUri, RejectsMalformedPercentEncoding) {
    auto message = parseError("postgresql://u:%zz@host/db");
    EXPECT_NE(message.find("percent-encoding"), std::string::npos) << message;
}

} // namespace
} // namespace dq::kernel
