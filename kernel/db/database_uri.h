// SQLAlchemy-style database URIs: sqlite:///relative, sqlite:////absolute,
// postgresql://user:pass@host:port/db.
#pragma once

#include <string>

namespace dq::kernel {

struct DatabaseUri {
    enum class Kind { Sqlite, Postgresql };
    Kind kind = Kind::Sqlite;
    /// Sqlite: the file path, resolved against the data folder when it was relative; ":memory:" allowed.
    std::string path;
    /// Postgresql: the parts, for a libpq connection string.
    std::string user, password, host = "localhost", database;
    int port = 5432;

    /// Throws std::invalid_argument with a message saying what is wrong and what forms are accepted.
    /// `dataFolder` resolves relative sqlite paths.
    static DatabaseUri parse(const std::string& uri, const std::string& dataFolder = ".");
    /// The Poco::Data connector name ("SQLite" / "PostgreSQL") and its connection string.
    std::string connector() const;
    std::string connectionString() const;
    /// The URI with the password masked, for logs and `vserver files`.
    std::string display() const;
};

} // namespace dq::kernel
