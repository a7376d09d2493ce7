// The Store: records, typed values, queries, relations and raw SQL, on SQLite and PostgreSQL.
#include "db_fixture.h"

#include <dq/sdk/plugin.h>

namespace dq::kernel::test {
namespace {

using namespace dq::sdk;

class StoreTest : public DatabaseTest {
protected:
    void inWrite(const std::function<void(Store&)>& work) { db_->transaction(work); }

    /// Organizations a..e with scores 1..5, countries nl/be alternating.
    void addOrganizations() {
        inWrite([](Store& store) {
            const char* names[] = {"a", "b", "c", "d", "e"};
            for (int i = 0; i < 5; ++i)
                store.insert("organization", Record()
                                                 .set("name", std::string(names[i]))
                                                 .set("country", i % 2 ? "be" : "nl")
                                                 .set("score", i + 1.0));
        });
    }

    std::vector<std::string> names(Store& store, const Query& query) {
        std::vector<std::string> out;
        for (const auto& r : store.select("organization", query))
            out.push_back(r.text("name"));
        return out;
    }
};

using Names = std::vector<std::string>;

TEST_P(StoreTest, InsertsAndFindsWithNormalizedTypes) {
    inWrite([](Store& store) {
        Id id = store.insert("organization", Record()
                                                 .set("name", "Alpha")
                                                 .set("active", 0)
                                                 .set("score", 7)
                                                 .set("created_at", "2023-01-02T03:04:05.000000"));
        auto r = store.find("organization", id);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->id, id);
        EXPECT_EQ(r->get("id").type(), typeid(Poco::Int64));
        EXPECT_EQ(r->get("name").type(), typeid(std::string));
        EXPECT_EQ(r->get("active").type(), typeid(bool));
        EXPECT_FALSE(r->get("active").extract<bool>());
        EXPECT_EQ(r->get("score").type(), typeid(double));
        EXPECT_DOUBLE_EQ(r->get("score").extract<double>(), 7.0);
        EXPECT_EQ(r->get("created_at").extract<std::string>(), "2023-01-02T03:04:05.000000");
        EXPECT_TRUE(r->has("country"));
        EXPECT_TRUE(r->get("country").isEmpty());

        Id user = store.insert("user", Record().set("username", "u").set("organization_id", id));
        EXPECT_EQ(store.find("user", user)->get("organization_id").type(), typeid(Poco::Int64));
        EXPECT_EQ(*store.find("user", user)->integer("organization_id"), id);
    });
}

TEST_P(StoreTest, AppliesDeclaredDefaultsToUnsetFields) {
    inWrite([](Store& store) {
        auto r = store.find("organization", store.insert("organization", Record().set("name", "x")));
        EXPECT_TRUE(r->get("active").extract<bool>());
        auto c = store.find("collaboration", store.insert("collaboration", Record().set("name", "c")));
        EXPECT_FALSE(c->get("encrypted").extract<bool>());
    });
}

TEST_P(StoreTest, FindReturnsNothingForUnknownId) {
    inWrite([](Store& store) { EXPECT_FALSE(store.find("organization", 4242)); });
}

TEST_P(StoreTest, UpdatesOnlyGivenColumns) {
    inWrite([](Store& store) {
        Id id = store.insert("organization", Record().set("name", "a").set("country", "nl"));
        store.update("organization", id, Record().set("country", Value()).set("active", false));
        auto r = store.find("organization", id);
        EXPECT_EQ(r->text("name"), "a");
        EXPECT_TRUE(r->isNull("country"));
        EXPECT_FALSE(r->boolean("active", true));
    });
}

TEST_P(StoreTest, UniqueViolationIsConflictNamingTheField) {
    inWrite([](Store& store) { store.insert("collaboration", Record().set("name", "dup")); });
    try {
        inWrite([](Store& store) { store.insert("collaboration", Record().set("name", "dup")); });
        FAIL() << "no Conflict";
    } catch (const Conflict& e) {
        EXPECT_STREQ(e.what(), "A collaboration with this name already exists (name must be unique)");
        EXPECT_EQ(e.errors().count("name"), 1u);
    }
}

TEST_P(StoreTest, UniqueViolationOnUpdateIsConflict) {
    inWrite([](Store& store) {
        store.insert("organization", Record().set("name", "a"));
        Id b = store.insert("organization", Record().set("name", "b"));
        EXPECT_THROW(store.update("organization", b, Record().set("name", "a")), Conflict);
    });
}

TEST_P(StoreTest, UniqueTogetherViolationNamesBothColumns) {
    inWrite([](Store& store) {
        Id org = store.insert("organization", Record().set("name", "o"));
        Id col = store.insert("collaboration", Record().set("name", "c"));
        store.insert("node", Record().set("organization_id", org).set("collaboration_id", col));
        try {
            store.insert("node", Record().set("organization_id", org).set("collaboration_id", col));
            FAIL() << "no Conflict";
        } catch (const Conflict& e) {
            std::string message = e.what();
            EXPECT_NE(message.find("organization_id and collaboration_id must be unique together"),
                      std::string::npos)
                << message;
        }
    });
}

TEST_P(StoreTest, TransactionStaysUsableAfterAConflict) {
    inWrite([](Store& store) {
        store.insert("organization", Record().set("name", "a"));
        EXPECT_THROW(store.insert("organization", Record().set("name", "a")), Conflict);
        store.insert("organization", Record().set("name", "b"));
    });
    db_->transaction([](Store& store) { EXPECT_EQ(store.count("organization"), 2); }, Database::Access::Read);
}

TEST_P(StoreTest, MissingRequiredFieldIsBadRequestNamingIt) {
    try {
        inWrite([](Store& store) { store.insert("collaboration", Record().set("encrypted", true)); });
        FAIL() << "no BadRequest";
    } catch (const BadRequest& e) {
        EXPECT_NE(std::string(e.what()).find("name"), std::string::npos) << e.what();
        EXPECT_EQ(e.errors().count("name"), 1u);
    }
    inWrite([](Store& store) {
        Id id = store.insert("collaboration", Record().set("name", "c"));
        EXPECT_THROW(store.update("collaboration", id, Record().set("name", Value())), BadRequest);
    });
}

TEST_P(StoreTest, ValueOfWrongTypeIsBadRequest) {
    inWrite([](Store& store) {
        EXPECT_THROW(store.insert("organization", Record().set("name", "a").set("score", "lots")),
                     BadRequest);
        EXPECT_THROW(store.select("organization", Query().add(Condition::equal("id", "abc"))), BadRequest);
    });
}

TEST_P(StoreTest, UnknownModelOrColumnIsInvalidArgument) {
    inWrite([](Store& store) {
        EXPECT_THROW(store.find("nosuchmodel", 1), std::invalid_argument);
        EXPECT_THROW(store.insert("organization", Record().set("name", "a").set("nosuch", 1)),
                     std::invalid_argument);
        EXPECT_THROW(store.select("organization", Query().add(Condition::equal("nosuch", 1))),
                     std::invalid_argument);
        Query sorted;
        sorted.orderBy = {"-nosuch"};
        EXPECT_THROW(store.select("organization", sorted), std::invalid_argument);
        Query injected;
        injected.orderBy = {"name; DROP TABLE organization"};
        EXPECT_THROW(store.select("organization", injected), std::invalid_argument);
    });
}

TEST_P(StoreTest, FiltersWithEachCondition) {
    addOrganizations();
    inWrite([this](Store& store) {
        EXPECT_EQ(names(store, Query().add(Condition::equal("country", "be"))), (Names{"b", "d"}));
        EXPECT_EQ(names(store, Query().add({Condition::Op::NotEqual, "country", "be", {}, {}})),
                  (Names{"a", "c", "e"}));
        EXPECT_EQ(names(store, Query().add({Condition::Op::GreaterOrEqual, "score", 4, {}, {}})),
                  (Names{"d", "e"}));
        EXPECT_EQ(names(store, Query().add({Condition::Op::LessOrEqual, "score", 2.0, {}, {}})),
                  (Names{"a", "b"}));
        EXPECT_EQ(names(store, Query()
                                   .add({Condition::Op::GreaterOrEqual, "score", 2, {}, {}})
                                   .add({Condition::Op::LessOrEqual, "score", 3, {}, {}})),
                  (Names{"b", "c"}));
        EXPECT_EQ(names(store, Query().add(Condition::in("name", {"a", "e", "zz"}))), (Names{"a", "e"}));
        EXPECT_TRUE(names(store, Query().add(Condition::in("name", {}))).empty());
        Id a = store.select("organization", Query().add(Condition::equal("name", "a")))[0].id;
        store.update("organization", a, Record().set("country", Value()));
        EXPECT_EQ(names(store, Query().add(Condition::isNull("country"))), (Names{"a"}));
        EXPECT_EQ(store.count("organization", Query().add(Condition::isNotNull("country"))), 4);
        EXPECT_EQ(names(store, Query().add(Condition::equal("country", Value()))), (Names{"a"}));
    });
}

TEST_P(StoreTest, LikeMatchesPatternsOnTextAndNumbers) {
    inWrite([this](Store& store) {
        store.insert("organization", Record().set("name", "Leiden University").set("score", 15));
        store.insert("organization", Record().set("name", "Utrecht University").set("score", 25));
        store.insert("organization", Record().set("name", "IKNL").set("score", 11));
        EXPECT_EQ(names(store, Query().add(Condition::like("name", "%University"))),
                  (Names{"Leiden University", "Utrecht University"}));
        EXPECT_EQ(names(store, Query().add(Condition::like("name", "Leid%"))), (Names{"Leiden University"}));
        EXPECT_EQ(names(store, Query().add(Condition::like("id", "1"))), (Names{"Leiden University"}));
    });
}

TEST_P(StoreTest, RawSqlConditionBindsItsParameters) {
    addOrganizations();
    inWrite([this](Store& store) {
        auto q =
            Query().add(Condition::raw("score > ? OR name = ?", {3, "a"})).add(Condition::raw("name <> '?'"));
        EXPECT_EQ(names(store, q), (Names{"a", "d", "e"}));
        EXPECT_EQ(store.count("organization", q), 3);
        EXPECT_THROW(store.select("organization", Query().add(Condition::raw("score > ?"))),
                     std::invalid_argument);
    });
}

TEST_P(StoreTest, SortsAndPaginates) {
    addOrganizations();
    inWrite([this](Store& store) {
        Query q;
        q.orderBy = {"country", "-score"};
        EXPECT_EQ(names(store, q), (Names{"d", "b", "e", "c", "a"}));
        q.limit = 2;
        q.offset = 1;
        EXPECT_EQ(names(store, q), (Names{"b", "e"}));
        Query tail;
        tail.offset = 3;
        EXPECT_EQ(names(store, tail), (Names{"d", "e"}));
        Query byId;
        byId.orderBy = {"-id"};
        byId.limit = 1;
        EXPECT_EQ(names(store, byId), (Names{"e"}));
        EXPECT_EQ(store.count("organization", q), 5); // count ignores pagination
    });
}

TEST_P(StoreTest, InjectionAttemptInValueStaysData) {
    const std::string evil = "x'); DROP TABLE organization; --";
    inWrite([&](Store& store) {
        Id id = store.insert("organization", Record().set("name", evil).set("country", "' OR '1'='1"));
        EXPECT_EQ(store.find("organization", id)->text("name"), evil);
        EXPECT_EQ(store.count("organization", Query().add(Condition::equal("name", evil))), 1);
        EXPECT_EQ(store.count("organization", Query().add(Condition::equal("name", "' OR '1'='1"))), 0);
        EXPECT_EQ(store.query("SELECT name FROM organization WHERE country = ?", {"' OR '1'='1"}).rows.size(),
                  1u);
        store.insert("organization", Record().set("name", "other"));
    });
    db_->transaction([](Store& store) { EXPECT_EQ(store.count("organization"), 2); }, Database::Access::Read);
}

TEST_P(StoreTest, RawQueryAndExecuteUsePlaceholdersOutsideLiterals) {
    inWrite([](Store& store) {
        store.execute("INSERT INTO organization (name, score) VALUES (?, ?)", {"what?", 2.5});
        store.execute("UPDATE organization SET country = ? WHERE name = 'what?'", {"nl"});
        auto rows =
            store.query("SELECT name, country, score, id FROM organization WHERE name = ? AND country = ?",
                        {"what?", "nl"});
        ASSERT_EQ(rows.rows.size(), 1u);
        EXPECT_EQ(rows.columns, (std::vector<std::string>{"name", "country", "score", "id"}));
        EXPECT_EQ(rows.rows[0][0].extract<std::string>(), "what?");
        EXPECT_DOUBLE_EQ(rows.rows[0][2].convert<double>(), 2.5);
        EXPECT_EQ(rows.rows[0][3].type(), typeid(Poco::Int64));
        auto empty = store.query("SELECT name FROM organization WHERE name = ?", {"none"});
        EXPECT_TRUE(empty.rows.empty());
        auto nulls = store.query("SELECT country FROM organization WHERE country IS NOT NULL AND score = ?",
                                 {Value()});
        EXPECT_TRUE(nulls.rows.empty());
        EXPECT_THROW(store.query("SELECT ? , ?", {1}), std::invalid_argument);
        EXPECT_TRUE(store.dialect() == "sqlite" || store.dialect() == "postgresql");
    });
}

TEST_P(StoreTest, ExplicitIdIsKeptAndLaterInsertsContinueAfterIt) {
    inWrite([](Store& store) {
        Record r;
        r.id = 40;
        r.set("name", "forty");
        EXPECT_EQ(store.insert("organization", r), 40);
        Id next = store.insert("organization", Record().set("name", "next"));
        EXPECT_GT(next, 40);
    });
}

TEST_P(StoreTest, AssociatedWorksFromBothSidesAndSetReplaces) {
    inWrite([](Store& store) {
        Id u1 = store.insert("user", Record().set("username", "u1"));
        Id u2 = store.insert("user", Record().set("username", "u2"));
        Id r1 = store.insert("role", Record().set("name", "r1"));
        Id r2 = store.insert("role", Record().set("name", "r2"));
        Id r3 = store.insert("role", Record().set("name", "r3"));
        store.setAssociated("user", u1, "roles", {r2, r1, r2});
        store.setAssociated("user", u2, "roles", {r2});
        EXPECT_EQ(store.associated("user", u1, "roles"), (std::vector<Id>{r1, r2}));
        EXPECT_EQ(store.associated("role", r2, "users"), (std::vector<Id>{u1, u2}));
        store.setAssociated("user", u1, "roles", {r3});
        EXPECT_EQ(store.associated("user", u1, "roles"), (std::vector<Id>{r3}));
        EXPECT_EQ(store.associated("role", r1, "users"), (std::vector<Id>{}));
        store.setAssociated("role", r3, "users", {u2});
        EXPECT_EQ(store.associated("user", u1, "roles"), (std::vector<Id>{}));
        EXPECT_EQ(store.associated("user", u2, "roles"), (std::vector<Id>{r2, r3}));
        EXPECT_THROW(store.associated("user", u1, "friends"), std::invalid_argument);
    });
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest, ::testing::Values(Backend::Sqlite, Backend::Postgresql),
                         backendName);

} // namespace
} // namespace dq::kernel::test
