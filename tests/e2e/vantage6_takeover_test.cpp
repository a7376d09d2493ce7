// Taking over the database of a vantage6 3.x server: the server starts on a copy of a SQLite file
// that the real vantage6 3.11.1 server wrote (tests/e2e/vantage6-3.11/, secrets in its README), or
// on the same rows loaded into PostgreSQL with vantage6's schema, and everything goes on: logins
// with the vantage6 secrets, every resource as vantage6 showed it, open work, new users and nodes
// in vantage6's shared id sequence, and a database vantage6 can still read afterwards (rollback).
#include "kernel/db/database_uri.h"
#include "kernel/db/sql.h"
#include "tests/support/test_server.h"

#include <Poco/Data/PostgreSQL/Connector.h>
#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Session.h>
#include <Poco/File.h>
#include <Poco/Path.h>
#include <Poco/String.h>
#include <Poco/TemporaryFile.h>
#include <algorithm>
#include <regex>
#include <set>

using dq::kernel::sql::Dialect;
using dq::test::json;
using dq::test::TestServer;

namespace {

const std::string kFixture = std::string(DQ_SOURCE_DIR) + "/tests/e2e/vantage6-3.11/server.sqlite";

std::string quoted(const std::string& name) {
    return "\"" + name + "\"";
}

/// vantage6's schema in PostgreSQL, as SQLAlchemy creates it from the same models: derived from
/// the SQLite file's tables (DATETIME is a TIMESTAMP there, BLOB a BYTEA, an integer primary key
/// without a foreign key a SERIAL), then the rows copied and the sequences moved past them.
void loadIntoPostgres(const std::string& uri) {
    Poco::Data::SQLite::Connector::registerConnector();
    Poco::Data::PostgreSQL::Connector::registerConnector();
    Poco::Data::Session from("SQLite", kFixture);
    auto target = dq::kernel::DatabaseUri::parse(uri);
    Poco::Data::Session to(target.connector(), target.connectionString());
    using dq::kernel::sql::execute;
    using dq::kernel::sql::query;
    auto text = [](const dq::sdk::Value& v) { return v.convert<std::string>(); };

    std::vector<std::string> foreignKeys;
    auto tables = query(from, Dialect::Sqlite,
                        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
                        "ORDER BY rowid");
    for (const auto& tableRow : tables.rows) {
        const std::string table = text(tableRow[0]);
        auto columns = query(from, Dialect::Sqlite,
                             "SELECT name, type, \"notnull\", pk FROM pragma_table_info(?) ORDER BY cid", {table});
        auto fks = query(from, Dialect::Sqlite,
                         "SELECT \"from\", \"table\", \"to\" FROM pragma_foreign_key_list(?)", {table});
        bool idIsInherited = false;
        for (const auto& fk : fks.rows) {
            idIsInherited = idIsInherited || text(fk[0]) == "id";
            foreignKeys.push_back("ALTER TABLE " + quoted(table) + " ADD FOREIGN KEY (" + quoted(text(fk[0])) +
                                  ") REFERENCES " + quoted(text(fk[1])) + " (" + quoted(text(fk[2])) + ")");
        }
        std::string ddl, primaryKey, select;
        std::vector<std::string> names;
        bool serial = false;
        for (const auto& c : columns.rows) {
            const std::string name = text(c[0]);
            std::string type = Poco::toUpper(text(c[1]));
            const bool pk = c[3].convert<int>() > 0;
            if (type == "DATETIME")
                type = "TIMESTAMP WITHOUT TIME ZONE";
            else if (type == "BLOB")
                type = "BYTEA";
            else if (type == "INTEGER" && pk && name == "id" && !idIsInherited)
                type = "SERIAL", serial = true;
            ddl += (ddl.empty() ? "" : ", ") + quoted(name) + " " + type + (c[2].convert<int>() ? " NOT NULL" : "");
            if (pk)
                primaryKey += (primaryKey.empty() ? "" : ", ") + quoted(name);
            select += (select.empty() ? "" : ", ") +
                      (text(c[1]) == "DATETIME" ? "CAST(" + quoted(name) + " AS TEXT)" : quoted(name));
            names.push_back(name);
        }
        if (!primaryKey.empty())
            ddl += ", PRIMARY KEY (" + primaryKey + ")";
        for (const auto& index :
             query(from, Dialect::Sqlite, "SELECT name FROM pragma_index_list(?) WHERE origin = 'u'", {table}).rows) {
            std::string unique;
            for (const auto& c : query(from, Dialect::Sqlite, "SELECT name FROM pragma_index_info(?) ORDER BY seqno",
                                       {text(index[0])})
                                     .rows)
                unique += (unique.empty() ? "" : ", ") + quoted(text(c[0]));
            ddl += ", UNIQUE (" + unique + ")";
        }
        execute(to, Dialect::Postgresql, "CREATE TABLE " + quoted(table) + " (" + ddl + ")");

        std::string columnList, marks;
        for (const auto& n : names) {
            columnList += (columnList.empty() ? "" : ", ") + quoted(n);
            marks += marks.empty() ? "?" : ", ?";
        }
        for (const auto& row : query(from, Dialect::Sqlite, "SELECT " + select + " FROM " + quoted(table)).rows)
            execute(to, Dialect::Postgresql,
                    "INSERT INTO " + quoted(table) + " (" + columnList + ") VALUES (" + marks + ")", row);
        if (serial)
            query(to, Dialect::Postgresql,
                  "SELECT setval(pg_get_serial_sequence(?, 'id'), (SELECT COALESCE(MAX(id), 1) FROM " +
                      quoted(table) + "))",
                  {quoted(table)});
    }
    for (const auto& fk : foreignKeys)
        execute(to, Dialect::Postgresql, fk);
}

class Vantage6Takeover : public dq::test::BothDatabases {
protected:
    /// The server on a copy of the vantage6 database (SQLite), or on it loaded into PostgreSQL.
    TestServer& takeover() {
        TestServer::Options options;
        // The fixture's organizations have no public key; Beta Registry (3) gets one, as vantage6
        // stores it (the bytes its API was given base64-encoded: "a2V5").
        options.databaseUri = [this](const std::string& uri) {
            if (GetParam() == "postgresql") {
                loadIntoPostgres(uri);
                auto target = dq::kernel::DatabaseUri::parse(uri);
                Poco::Data::Session session(target.connector(), target.connectionString());
                dq::kernel::sql::execute(session, Dialect::Postgresql,
                                         "UPDATE organization SET _public_key = decode('6b6579', 'hex') WHERE id = 3");
                return uri;
            }
            Poco::File(folder_.path()).createDirectories();
            const std::string copy = Poco::Path(folder_.path(), "server.sqlite").toString();
            Poco::File(kFixture).copyTo(copy);
            Poco::File(copy).setWriteable(true);
            Poco::Data::SQLite::Connector::registerConnector();
            Poco::Data::Session session("SQLite", copy);
            dq::kernel::sql::execute(session, Dialect::Sqlite,
                                     "UPDATE organization SET _public_key = X'6B6579' WHERE id = 3");
            return "sqlite:///" + copy;
        };
        return server(options);
    }

    /// The rows of a raw query on the server's database, as text (NULL: "null").
    std::vector<std::vector<std::string>> rows(const std::string& sql) {
        std::vector<std::vector<std::string>> out;
        server().transaction([&](dq::sdk::Store& store) {
            for (const auto& row : store.query(sql).rows) {
                out.emplace_back();
                for (const auto& v : row)
                    out.back().push_back(v.isEmpty() ? "null" : v.convert<std::string>());
            }
        });
        return out;
    }

private:
    Poco::TemporaryFile folder_;
};

/// The ids of a list body, of link objects or of raw ids; null (vantage6's empty to-many) is none.
std::vector<long long> idsOf(const Poco::Dynamic::Var& value) {
    std::vector<long long> out;
    if (value.isEmpty())
        return out;
    auto array = value.extract<Poco::JSON::Array::Ptr>();
    for (std::size_t i = 0; i < array->size(); ++i) {
        auto item = array->get(i);
        out.push_back(item.type() == typeid(Poco::JSON::Object::Ptr)
                          ? item.extract<Poco::JSON::Object::Ptr>()->getValue<long long>("id")
                          : item.convert<long long>());
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<long long> listIds(const dq::test::HttpResult& r) {
    EXPECT_EQ(r.status, 200) << r.body;
    std::vector<long long> out;
    auto array = r.array();
    for (std::size_t i = 0; i < array->size(); ++i)
        out.push_back(array->getObject(i)->getValue<long long>("id"));
    return out;
}

long long linkId(const Poco::JSON::Object::Ptr& body, const std::string& key) {
    auto link = body->getObject(key);
    return link ? link->getValue<long long>("id") : 0;
}

std::string textOf(const Poco::JSON::Object::Ptr& body, const std::string& key) {
    auto v = body->get(key);
    return v.isEmpty() ? "null" : v.convert<std::string>();
}

using Ids = std::vector<long long>;

TEST_P(Vantage6Takeover, EveryUserAndNodeLogsInWithItsVantage6Secret) {
    auto& s = takeover();
    for (const auto& [user, password] : std::vector<std::pair<std::string, std::string>>{
             {"root", "root"},
             {"alice", "Takeover-01!"},
             {"bob", "Takeover-01!"},
             {"smoke-user-040946-cc3774", "Sm0ke-Test-Passw0rd!"}}) {
        auto r = s.post("/token/user", json({{"username", user}, {"password", password}}));
        EXPECT_EQ(r.status, 200) << user << ": " << r.body;
    }
    EXPECT_EQ(s.post("/token/user", json({{"username", "alice"}, {"password", "Takeover-02!"}})).status, 401);
    for (const auto& [node, key] : std::vector<std::pair<int, std::string>>{
             {4, "8cdff2a6-d4b2-4559-83f4-68f817fd3577"}, {5, "f19fe611-124c-4975-957d-69a8859d59a3"}}) {
        auto r = s.post("/token/node", json({{"api_key", key}}));
        ASSERT_EQ(r.status, 200) << node << ": " << r.body;
        EXPECT_EQ(r.object()->getValue<std::string>("node_url"), "/api/node/" + std::to_string(node));
    }
    EXPECT_EQ(s.post("/token/node", json({{"api_key", "00000000-d4b2-4559-83f4-68f817fd3577"}})).status, 401);
}

TEST_P(Vantage6Takeover, EveryResourceShowsAsVantage6ShowedIt) {
    auto& s = takeover();
    const auto root = s.rootToken();

    EXPECT_EQ(listIds(s.get("/organization", root)), Ids({1, 2, 3, 4}));
    auto alpha = s.get("/organization/2", root).object();
    EXPECT_EQ(textOf(alpha, "name"), "Alpha Hospital");
    EXPECT_EQ(textOf(alpha, "domain"), "alpha.example");
    EXPECT_EQ(textOf(alpha, "address1"), "Main St 1");
    EXPECT_EQ(textOf(alpha, "address2"), "null"); // vantage6's API leaves it out: NULL
    EXPECT_EQ(textOf(s.get("/organization/4", root).object(), "address2"), "City");
    EXPECT_EQ(textOf(alpha, "zipcode"), "1234AB");
    EXPECT_EQ(textOf(alpha, "country"), "NL");
    EXPECT_EQ(textOf(alpha, "public_key"), ""); // vantage6: "" for none
    EXPECT_EQ(textOf(s.get("/organization/3", root).object(), "public_key"), "a2V5");
    EXPECT_EQ(idsOf(alpha->get("collaborations")), Ids({1}));
    EXPECT_EQ(idsOf(alpha->get("nodes")), Ids({4}));
    EXPECT_EQ(idsOf(alpha->get("users")), Ids({2}));
    EXPECT_EQ(idsOf(alpha->get("roles")), Ids({8}));
    EXPECT_EQ(idsOf(alpha->get("results")), Ids({1, 3}));

    EXPECT_EQ(listIds(s.get("/collaboration", root)), Ids({1, 2}));
    auto collab = s.get("/collaboration/1", root).object();
    EXPECT_EQ(textOf(collab, "name"), "takeover-col");
    EXPECT_FALSE(collab->getValue<bool>("encrypted"));
    EXPECT_EQ(idsOf(collab->get("organizations")), Ids({1, 2, 3}));
    EXPECT_EQ(idsOf(collab->get("nodes")), Ids({4, 5}));
    EXPECT_EQ(idsOf(collab->get("tasks")), Ids({1, 2}));
    EXPECT_EQ(idsOf(s.get("/collaboration/2", root).object()->get("organizations")), Ids({1, 4}));

    EXPECT_EQ(listIds(s.get("/node", root)), Ids({4, 5, 6}));
    auto node = s.get("/node/4", root).object();
    EXPECT_EQ(textOf(node, "name"), "Alpha Hospital - takeover-col Node");
    EXPECT_EQ(textOf(node, "type"), "node");
    EXPECT_EQ(textOf(node, "last_seen"), "2026-12-01T04:09:45.279984+00:00");
    EXPECT_EQ(linkId(node, "organization"), 2);
    EXPECT_EQ(linkId(node, "collaboration"), 1);
    EXPECT_EQ(textOf(s.get("/node/5", root).object(), "last_seen"), "2026-12-01T04:09:45.772016+00:00");
    EXPECT_EQ(textOf(s.get("/node/6", root).object(), "last_seen"), "null");

    EXPECT_EQ(listIds(s.get("/user", root)), Ids({1, 2, 3, 7}));
    auto alice = s.get("/user/2", root).object();
    EXPECT_EQ(textOf(alice, "username"), "alice");
    EXPECT_EQ(textOf(alice, "firstname"), "alice");
    EXPECT_EQ(textOf(alice, "lastname"), "T");
    EXPECT_EQ(textOf(alice, "email"), "alice@x.example");
    EXPECT_EQ(textOf(alice, "type"), "user");
    EXPECT_EQ(linkId(alice, "organization"), 2);
    EXPECT_EQ(idsOf(alice->get("roles")), Ids({8}));
    EXPECT_FALSE(alice->has("password"));
    auto rootUser = s.get("/user/1", root).object();
    EXPECT_EQ(idsOf(rootUser->get("roles")), Ids({1}));
    // Our own login just now wrote root's last_seen; in vantage6's form, after its value.
    EXPECT_GE(textOf(rootUser, "last_seen"), std::string("2026-12-01T04:09:47.297604+00:00"));

    auto auditor = s.get("/role/8", root).object();
    EXPECT_EQ(textOf(auditor, "name"), "Auditor");
    EXPECT_EQ(textOf(auditor, "description"), "views own org");
    EXPECT_EQ(linkId(auditor, "organization"), 2);
    EXPECT_EQ(idsOf(auditor->get("rules")), Ids({2, 10, 15, 21, 27, 29, 39, 47, 48}));
    EXPECT_EQ(idsOf(auditor->get("users")), Ids({2}));
    EXPECT_EQ(s.get("/rule", root).array()->size(), 53u);
    auto rule = s.get("/rule/23", root).object();
    EXPECT_EQ(textOf(rule, "name"), "task");
    EXPECT_EQ(textOf(rule, "scope"), "ORGANIZATION");
    EXPECT_EQ(textOf(rule, "operation"), "CREATE");

    EXPECT_EQ(listIds(s.get("/task", root)), Ids({3, 2, 1}));
    auto done = s.get("/task/1", root).object();
    EXPECT_EQ(textOf(done, "name"), "done-task");
    EXPECT_EQ(textOf(done, "description"), "finished before takeover");
    EXPECT_EQ(textOf(done, "image"), "harbor2.vantage6.ai/demo/average");
    EXPECT_EQ(done->getValue<long long>("run_id"), 1);
    EXPECT_EQ(textOf(done, "database"), "");
    EXPECT_EQ(textOf(done, "created_at"), "2026-12-01T04:09:44.959195+00:00");
    EXPECT_EQ(done->getValue<long long>("initiator"), 1);
    EXPECT_EQ(done->getValue<long long>("init_user"), 1);
    EXPECT_EQ(linkId(done, "collaboration"), 1);
    EXPECT_EQ(idsOf(done->get("results")), Ids({1, 2}));
    EXPECT_TRUE(done->getValue<bool>("complete"));
    EXPECT_EQ(textOf(done, "finished_at"), "2026-12-01T04:09:45.743232+00:00");
    EXPECT_EQ(textOf(done, "status"), "pending");
    auto open = s.get("/task/2", root).object();
    EXPECT_EQ(textOf(open, "created_at"), "2026-12-01T04:09:45.802374+00:00");
    EXPECT_FALSE(open->getValue<bool>("complete"));
    EXPECT_EQ(textOf(open, "finished_at"), "null");
    auto smoke = s.get("/task/3", root).object();
    EXPECT_EQ(textOf(smoke, "database"), "default");
    EXPECT_EQ(linkId(smoke, "collaboration"), 2);
    EXPECT_EQ(smoke->getValue<long long>("run_id"), 3);

    EXPECT_EQ(listIds(s.get("/result", root)), Ids({5, 4, 3, 2, 1}));
    auto result = s.get("/result/1", root).object();
    EXPECT_EQ(textOf(result, "input"), "anNvbi57fQ==");
    EXPECT_EQ(textOf(result, "result"), "cmVzdWx0");
    EXPECT_EQ(textOf(result, "log"), "ok");
    EXPECT_EQ(textOf(result, "status"), "pending");
    EXPECT_EQ(textOf(result, "assigned_at"), "2026-12-01T04:09:44.975192+00:00");
    EXPECT_EQ(textOf(result, "started_at"), "2026-12-01T04:09:45.243366+00:00");
    EXPECT_EQ(textOf(result, "finished_at"), "2026-12-01T04:09:45.243366+00:00");
    EXPECT_EQ(linkId(result, "organization"), 2);
    EXPECT_EQ(linkId(result, "task"), 1);
    EXPECT_EQ(result->getObject("node")->getValue<long long>("id"), 4);
    auto pending = s.get("/result/5", root).object();
    EXPECT_EQ(textOf(pending, "assigned_at"), "2026-12-01T04:09:47.253781+00:00");
    EXPECT_EQ(textOf(pending, "started_at"), "null");
    EXPECT_EQ(textOf(pending, "finished_at"), "null");
}

TEST_P(Vantage6Takeover, OpenWorkGoesOn) {
    auto& s = takeover();
    auto nodeToken = [&](const std::string& key) {
        auto r = s.post("/token/node", json({{"api_key", key}}));
        EXPECT_EQ(r.status, 200) << r.body;
        return r.status == 200 ? r.object()->getValue<std::string>("access_token") : std::string();
    };
    const auto alphaNode = nodeToken("8cdff2a6-d4b2-4559-83f4-68f817fd3577");
    const auto betaNode = nodeToken("f19fe611-124c-4975-957d-69a8859d59a3");

    auto work = s.get("/result?state=open&include=task&node_id=4", alphaNode);
    ASSERT_EQ(work.status, 200) << work.body;
    ASSERT_EQ(listIds(work), Ids({3}));
    EXPECT_EQ(work.array()->getObject(0)->getObject("task")->getValue<long long>("id"), 2);

    auto finish = [&](int result, const std::string& token) {
        auto started = s.patch("/result/" + std::to_string(result),
                               json({{"started_at", std::string("2026-12-01T10:00:00.000001")}}), token);
        EXPECT_EQ(started.status, 200) << started.body;
        auto r = s.patch("/result/" + std::to_string(result),
                         json({{"result", std::string("ZG9uZQ==")},
                               {"log", std::string("finished after the takeover")},
                               {"status", std::string("completed")},
                               {"finished_at", std::string("2026-12-01T10:05:00.250000")}}),
                         token);
        EXPECT_EQ(r.status, 200) << r.body;
        return r.object();
    };
    auto first = finish(3, alphaNode);
    EXPECT_EQ(textOf(first, "started_at"), "2026-12-01T10:00:00.000001+00:00");
    EXPECT_EQ(textOf(first, "finished_at"), "2026-12-01T10:05:00.250000+00:00");
    EXPECT_FALSE(s.get("/task/2", s.rootToken()).object()->getValue<bool>("complete"));
    finish(4, betaNode);
    auto task = s.get("/task/2", s.rootToken()).object();
    EXPECT_TRUE(task->getValue<bool>("complete"));
    EXPECT_EQ(textOf(task, "status"), "completed");
    EXPECT_EQ(textOf(task, "finished_at"), "2026-12-01T10:05:00.250000+00:00");
    EXPECT_TRUE(listIds(s.get("/result?state=open&node_id=4", alphaNode)).empty());

    // A new task gets the next id and run_id, its results the next ids.
    Poco::JSON::Array::Ptr organizations = new Poco::JSON::Array;
    for (int org : {2, 3})
        organizations->add(json({{"id", org}, {"input", std::string("anNvbi57fQ==")}}));
    auto created = s.post("/task",
                          json({{"collaboration_id", 1},
                                {"organizations", organizations},
                                {"name", std::string("after-takeover")},
                                {"image", std::string("harbor2.vantage6.ai/demo/average")}}),
                          s.rootToken());
    ASSERT_EQ(created.status, 201) << created.body;
    auto body = created.object();
    EXPECT_EQ(body->getValue<long long>("id"), 4);
    EXPECT_EQ(body->getValue<long long>("run_id"), 4);
    EXPECT_EQ(idsOf(body->get("results")), Ids({6, 7}));
    EXPECT_TRUE(std::regex_match(textOf(body, "created_at"),
                                 std::regex(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?\+00:00)")))
        << textOf(body, "created_at");
    EXPECT_EQ(listIds(s.get("/result?state=open&node_id=4", alphaNode)), Ids({6}));
}

TEST_P(Vantage6Takeover, NewUsersAndNodesKeepVantage6sSharedIdsAndTheFileStaysReadableByVantage6) {
    auto& s = takeover();
    const auto root = s.rootToken();
    // Each new user gets the id after authenticatable's last (7, a user).
    auto newUser = [&](const std::string& name, int organization) {
        auto r = s.post("/user",
                        json({{"username", name},
                              {"firstname", name},
                              {"lastname", std::string("T")},
                              {"email", name + "@x.example"},
                              {"password", std::string("Takeover-03!")},
                              {"organization_id", organization}}),
                        root);
        EXPECT_EQ(r.status, 201) << r.body;
        return r.status == 201 ? r.object()->getValue<long long>("id") : 0;
    };
    EXPECT_EQ(newUser("carol", 2), 8);
    auto node = s.post("/node", json({{"collaboration_id", 1}, {"organization_id", 1}}), root);
    ASSERT_EQ(node.status, 201) << node.body;
    EXPECT_EQ(node.object()->getValue<long long>("id"), 9); // not 7, the next id of node's own table
    s.login("carol", "Takeover-03!");
    auto nodeLogin =
        s.post("/token/node", json({{"api_key", node.object()->getValue<std::string>("api_key")}}));
    EXPECT_EQ(nodeLogin.status, 200) << nodeLogin.body;

    // A deleted user leaves no authenticatable row behind, as with vantage6.
    EXPECT_EQ(newUser("dave", 3), 10);
    EXPECT_EQ(s.del("/user/10", root).status, 200);

    // What vantage6's joined-table inheritance needs: each user and node has its authenticatable
    // row with the right discriminator, and no id is both.
    using Table = std::vector<std::vector<std::string>>;
    EXPECT_EQ(rows("SELECT id, type FROM authenticatable ORDER BY id"),
              Table({{"1", "user"},
                     {"2", "user"},
                     {"3", "user"},
                     {"4", "node"},
                     {"5", "node"},
                     {"6", "node"},
                     {"7", "user"},
                     {"8", "user"},
                     {"9", "node"}}));
    EXPECT_EQ(rows("SELECT u.id FROM \"user\" u LEFT JOIN authenticatable a ON a.id = u.id AND a.type = 'user' "
                   "WHERE a.id IS NULL"),
              Table());
    EXPECT_EQ(rows("SELECT n.id FROM node n LEFT JOIN authenticatable a ON a.id = n.id AND a.type = 'node' "
                   "WHERE a.id IS NULL"),
              Table());
    EXPECT_EQ(rows("SELECT u.id FROM \"user\" u JOIN node n ON n.id = u.id"), Table());

    // Work that writes date-times: a node's last_seen, a task, its results' times.
    const auto nodeToken = nodeLogin.object()->getValue<std::string>("access_token");
    EXPECT_EQ(s.get("/node/9", nodeToken).status, 200);
    Poco::JSON::Array::Ptr organizations = new Poco::JSON::Array;
    organizations->add(json({{"id", 1}, {"input", std::string("x")}}));
    auto task = s.post("/task",
                       json({{"collaboration_id", 1}, {"organizations", organizations},
                             {"image", std::string("img")}}),
                       root);
    ASSERT_EQ(task.status, 201) << task.body;
    auto result = idsOf(task.object()->get("results")).at(0);
    EXPECT_EQ(s.patch("/result/" + std::to_string(result),
                      json({{"started_at", std::string("2026-12-01T11:00:00")},
                            {"finished_at", std::string("2026-12-01T11:00:01.5+00:00")}}),
                      nodeToken)
                  .status,
              200);

    EXPECT_EQ(s.post("/token/user", json({{"username", "bob"}, {"password", "wrong"}})).status, 401);

    // Every date-time in vantage6's DATETIME / TIMESTAMP columns is in the form SQLAlchemy reads
    // back ("YYYY-MM-DD HH:MM:SS[.ffffff]"; a 'T' makes vantage6 fail on the row).
    const std::regex sqlalchemy(R"(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?)");
    const bool sqlite = GetParam() == "sqlite";
    auto columns = rows(sqlite ? "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p "
                                 "WHERE m.type = 'table' AND p.type = 'DATETIME'"
                               : "SELECT table_name, column_name FROM information_schema.columns WHERE "
                                 "table_schema = current_schema() AND data_type = 'timestamp without time zone'");
    // authenticatable.last_seen, user.last_login_attempt, task.created_at, result.*_at
    ASSERT_EQ(columns.size(), 6u);
    std::size_t checked = 0;
    for (const auto& c : columns)
        for (const auto& value : rows("SELECT CAST(\"" + c[1] + "\" AS TEXT) FROM \"" + c[0] + "\" WHERE \"" +
                                      c[1] + "\" IS NOT NULL")) {
            EXPECT_TRUE(std::regex_match(value[0], sqlalchemy)) << c[0] << "." << c[1] << " = " << value[0];
            ++checked;
        }
    EXPECT_GE(checked, 20u);
    auto written = rows("SELECT CAST(finished_at AS TEXT) FROM result WHERE id = " + std::to_string(result));
    EXPECT_EQ(written.at(0).at(0), "2026-12-01 11:00:01.5" + std::string(sqlite ? "00000" : ""));
}

DQ_ON_BOTH_DATABASES(Vantage6Takeover);

} // namespace
