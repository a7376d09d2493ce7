// GET list answers kept while the database is unchanged (kernel/http/list_memo): asked again, a list
// answers as if computed again, whoever wrote in between: the server itself, another server process
// on the same database, or another program writing the database behind the servers' backs.
#include "kernel/app/kernel.h"
#include "tests/support/test_server.h"

#include <Poco/JSON/Array.h>
#include <algorithm>

using dq::test::json;
using dq::test::TestServer;

namespace {

class ListMemo : public dq::test::BothDatabases {
protected:
    /// The identity cache kept long, so that nothing but the data can change an answer.
    TestServer& serverKeeping(const std::string& listCacheMb = "16") {
        TestServer::Options options;
        options.extraYaml = "  identity_cache_ms: 60000\n  list_cache_mb: " + listCacheMb + "\n";
        return server(options);
    }

    static std::vector<std::string> names(const dq::test::HttpResult& r) {
        std::vector<std::string> out;
        auto array = r.array();
        for (std::size_t i = 0; array && i < array->size(); ++i)
            out.push_back(array->getObject(static_cast<unsigned>(i))->getValue<std::string>("name"));
        return out;
    }

    /// Asks for `path` three times (the route is known to list, then the answer is kept, then it is
    /// answered from memory) and returns the last answer, after checking all three are the same.
    static dq::test::HttpResult settled(TestServer& s, const std::string& path, const std::string& token) {
        auto first = s.get(path, token);
        EXPECT_EQ(first.status, 200) << first.body;
        auto second = s.get(path, token);
        auto third = s.get(path, token);
        EXPECT_EQ(second.body, first.body);
        EXPECT_EQ(third.body, first.body);
        return third;
    }

    static bool contains(const std::vector<std::string>& list, const std::string& name) {
        return std::find(list.begin(), list.end(), name) != list.end();
    }
};

TEST_P(ListMemo, AnswerIncludesAWriteOfTheServerAtOnce) {
    auto& s = serverKeeping();
    const auto token = s.rootToken();
    auto before = names(settled(s, "/organization", token));
    ASSERT_FALSE(contains(before, "Memo Hospital"));
    dq::test::createOrganization(s, "Memo Hospital");
    auto after = names(s.get("/organization", token));
    EXPECT_EQ(after.size(), before.size() + 1);
    EXPECT_TRUE(contains(after, "Memo Hospital"));
}

TEST_P(ListMemo, AnswerIncludesAWriteBehindTheServersBackAtOnce) {
    auto& s = serverKeeping();
    const auto token = s.rootToken();
    ASSERT_TRUE(contains(names(settled(s, "/organization", token)), "root"));
    // Another program: a connection pool of its own, nothing announced to the server.
    dq::kernel::Database other(s.kernel().database().uri(), s.kernel().catalog());
    other.transaction([](dq::sdk::Store& store) {
        store.execute("UPDATE organization SET name = 'renamed behind its back' WHERE name = 'root'");
    });
    auto after = names(s.get("/organization", token));
    EXPECT_TRUE(contains(after, "renamed behind its back"));
    EXPECT_FALSE(contains(after, "root"));
}

TEST_P(ListMemo, AnswerIncludesAWriteOfAnotherServerProcessAtOnce) {
    auto& s = serverKeeping();
    const auto token = s.rootToken();
    settled(s, "/organization", token);
    dq::test::ServerProcess other(s);
    auto created = other.post("/organization", json({{"name", "Made Next Door"}}), token);
    ASSERT_EQ(created.status, 201) << created.body;
    EXPECT_TRUE(contains(names(s.get("/organization", token)), "Made Next Door"));
}

TEST_P(ListMemo, EachCallerGetsTheirOwnAnswer) {
    auto& s = serverKeeping();
    const auto root = s.rootToken();
    auto own = dq::test::createOrganization(s, "Own Clinic");
    dq::test::createOrganization(s, "Other Clinic");
    auto member = dq::test::userWithRules(s, own, {"organization:ORGANIZATION:VIEW"});
    auto all = names(settled(s, "/organization", root));
    auto mine = names(settled(s, "/organization", member));
    EXPECT_TRUE(contains(all, "Other Clinic"));
    EXPECT_EQ(mine, std::vector<std::string>{"Own Clinic"});
    // Alternating, each still gets their own.
    EXPECT_EQ(names(s.get("/organization", root)), all);
    EXPECT_EQ(names(s.get("/organization", member)), mine);
}

TEST_P(ListMemo, EachQueryGetsItsOwnAnswer) {
    auto& s = serverKeeping();
    const auto token = s.rootToken();
    dq::test::createOrganization(s, "Query Clinic");
    auto all = names(settled(s, "/organization", token));
    ASSERT_GT(all.size(), 1u);
    EXPECT_EQ(names(settled(s, "/organization?name=Query%20Clinic", token)),
              std::vector<std::string>{"Query Clinic"});
    EXPECT_EQ(names(settled(s, "/organization?page=1&per_page=1", token)).size(), 1u);
    EXPECT_EQ(names(settled(s, "/organization?page=2&per_page=1", token)).size(), 1u);
    EXPECT_NE(names(s.get("/organization?page=1&per_page=1", token)),
              names(s.get("/organization?page=2&per_page=1", token)));
    EXPECT_EQ(names(s.get("/organization", token)), all);
}

DQ_ON_BOTH_DATABASES(ListMemo);

} // namespace
