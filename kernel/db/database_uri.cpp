// Parsing SQLAlchemy-style database URIs into what Poco::Data needs to connect.
#include "kernel/db/database_uri.h"

#include <Poco/Exception.h>
#include <Poco/Path.h>
#include <Poco/URI.h>
#include <cctype>
#include <stdexcept>

namespace dq::kernel {

namespace {

const char* const kAcceptedForms =
    "Accepted forms: sqlite:///relative/path.sqlite (relative to the data folder), "
    "sqlite:////absolute/path.sqlite, sqlite:// or sqlite:///:memory: (in memory), "
    "postgresql://user:password@host:port/database (also postgresql+psycopg2://; percent-encode special "
    "characters in user and password; ?host=/socket/dir for a unix socket)";

/// The URI as given, with whatever sits between "user:" and the last '@' replaced by ***.
std::string maskRaw(const std::string& uri) {
    auto scheme = uri.find("://");
    if (scheme == std::string::npos)
        return uri;
    auto at = uri.rfind('@');
    if (at == std::string::npos || at < scheme)
        return uri;
    auto colon = uri.find(':', scheme + 3);
    if (colon == std::string::npos || colon > at)
        return uri;
    return uri.substr(0, colon + 1) + "***" + uri.substr(at);
}

[[noreturn]] void fail(const std::string& uri, const std::string& problem) {
    throw std::invalid_argument("invalid database URI '" + maskRaw(uri) + "': " + problem + ". " +
                                kAcceptedForms);
}

std::string decode(const std::string& uri, const std::string& part, const std::string& what) {
    std::string out;
    try {
        Poco::URI::decode(part, out);
    } catch (const Poco::Exception&) {
        fail(uri, what + " has a malformed percent-encoding");
    }
    return out;
}

/// A value in a libpq keyword/value connection string: quoted when it is empty or has spaces, quotes
/// or backslashes.
std::string libpqValue(const std::string& value) {
    bool plain = !value.empty();
    for (char c : value)
        if (std::isspace(static_cast<unsigned char>(c)) || c == '\'' || c == '\\')
            plain = false;
    if (plain)
        return value;
    std::string out = "'";
    for (char c : value) {
        if (c == '\'' || c == '\\')
            out += '\\';
        out += c;
    }
    return out + "'";
}

std::string encode(const std::string& value) {
    std::string out;
    Poco::URI::encode(value, ":@/?#[]%", out);
    return out;
}

DatabaseUri parseSqlite(const std::string& uri, const std::string& rest, const std::string& dataFolder) {
    DatabaseUri result;
    result.kind = DatabaseUri::Kind::Sqlite;
    if (rest.empty()) {
        result.path = ":memory:";
        return result;
    }
    if (rest[0] != '/')
        fail(uri, "a sqlite URI needs three slashes before a relative path (sqlite:///file.sqlite) and four "
                  "before an absolute one (sqlite:////var/lib/file.sqlite)");
    if (rest.find('?') != std::string::npos)
        fail(uri, "query parameters are not supported for sqlite");
    std::string path = rest.substr(1);
    if (path.empty() || path == ":memory:") {
        result.path = ":memory:";
        return result;
    }
    if (path[0] == '/') {
        result.path = Poco::Path(path).toString();
        return result;
    }
    Poco::Path base(dataFolder.empty() ? std::string(".") : dataFolder);
    base.makeDirectory();
    base.makeAbsolute();
    result.path = Poco::Path(base, Poco::Path(path)).toString();
    return result;
}

DatabaseUri parsePostgres(const std::string& uri, const std::string& rest) {
    DatabaseUri result;
    result.kind = DatabaseUri::Kind::Postgresql;
    // The password may contain '/', '?' or ':' unencoded; the last '@' ends the credentials.
    std::string hostPart = rest;
    auto at = rest.rfind('@');
    if (at != std::string::npos) {
        std::string credentials = rest.substr(0, at);
        hostPart = rest.substr(at + 1);
        auto colon = credentials.find(':');
        result.user = decode(uri, credentials.substr(0, colon), "the user name");
        if (colon != std::string::npos)
            result.password = decode(uri, credentials.substr(colon + 1), "the password");
        if (result.user.empty())
            fail(uri, "the user name before '@' is empty");
    }

    std::string query;
    if (auto q = hostPart.find('?'); q != std::string::npos) {
        query = hostPart.substr(q + 1);
        hostPart.resize(q);
    }
    std::string path;
    if (auto slash = hostPart.find('/'); slash != std::string::npos) {
        path = hostPart.substr(slash + 1);
        hostPart.resize(slash);
    }
    result.database = decode(uri, path, "the database name");
    if (result.database.find('/') != std::string::npos)
        fail(uri, "the database name '" + result.database + "' contains a '/'");

    std::string host = hostPart, port;
    if (!hostPart.empty() && hostPart[0] == '[') {
        auto close = hostPart.find(']');
        if (close == std::string::npos)
            fail(uri, "the IPv6 host address has no closing ']'");
        host = hostPart.substr(1, close - 1);
        std::string after = hostPart.substr(close + 1);
        if (!after.empty()) {
            if (after[0] != ':')
                fail(uri, "unexpected '" + after + "' after the IPv6 host address");
            port = after.substr(1);
        }
    } else if (auto colon = hostPart.rfind(':'); colon != std::string::npos) {
        host = hostPart.substr(0, colon);
        port = hostPart.substr(colon + 1);
    }
    if (!host.empty())
        result.host = decode(uri, host, "the host");
    if (!port.empty()) {
        bool digits = port.size() <= 5;
        for (char c : port)
            digits = digits && std::isdigit(static_cast<unsigned char>(c));
        int value = digits ? std::stoi(port) : 0;
        if (value < 1 || value > 65535)
            fail(uri, "the port '" + port + "' is not a number between 1 and 65535");
        result.port = value;
    }

    std::size_t begin = 0;
    while (begin < query.size()) {
        auto end = query.find('&', begin);
        if (end == std::string::npos)
            end = query.size();
        std::string item = query.substr(begin, end - begin);
        begin = end + 1;
        if (item.empty())
            continue;
        auto eq = item.find('=');
        std::string key = item.substr(0, eq);
        std::string value =
            eq == std::string::npos ? "" : decode(uri, item.substr(eq + 1), "query parameter " + key);
        if (key == "host") {
            if (value.empty())
                fail(uri, "the query parameter 'host' is empty; give a unix socket folder, e.g. "
                          "?host=/run/postgresql");
            result.host = value;
        } else {
            fail(uri, "the query parameter '" + key + "' is not supported (supported: host)");
        }
    }
    return result;
}

} // namespace

DatabaseUri DatabaseUri::parse(const std::string& uri, const std::string& dataFolder) {
    auto sep = uri.find("://");
    if (sep == std::string::npos || sep == 0)
        fail(uri, "it does not start with a scheme such as sqlite:// or postgresql://");
    std::string scheme = uri.substr(0, sep);
    for (auto& c : scheme)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string rest = uri.substr(sep + 3);
    if (scheme == "sqlite")
        return parseSqlite(uri, rest, dataFolder);
    std::string base = scheme.substr(0, scheme.find('+'));
    if (base == "postgresql" || base == "postgres")
        return parsePostgres(uri, rest);
    fail(uri, "the database kind '" + scheme + "' is not supported (only sqlite and postgresql)");
}

std::string DatabaseUri::connector() const {
    return kind == Kind::Sqlite ? "SQLite" : "PostgreSQL";
}

std::string DatabaseUri::connectionString() const {
    if (kind == Kind::Sqlite)
        return path;
    std::string out = "host=" + libpqValue(host) + " port=" + std::to_string(port);
    if (!user.empty())
        out += " user=" + libpqValue(user);
    if (!password.empty())
        out += " password=" + libpqValue(password);
    if (!database.empty())
        out += " dbname=" + libpqValue(database);
    return out;
}

std::string DatabaseUri::display() const {
    if (kind == Kind::Sqlite)
        return path == ":memory:" ? "sqlite://" : "sqlite:///" + path;
    std::string out = "postgresql://";
    if (!user.empty())
        out += encode(user) + (password.empty() ? "" : ":***") + "@";
    bool socket = !host.empty() && host[0] == '/';
    if (!socket)
        out += (host.find(':') != std::string::npos ? "[" + host + "]" : encode(host));
    out += ":" + std::to_string(port) + "/" + encode(database);
    if (socket)
        out += "?host=" + host;
    return out;
}

} // namespace dq::kernel
