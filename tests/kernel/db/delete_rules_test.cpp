// Store::remove applies every declared delete rule and clears association rows.
#include "db_fixture.h"

#include <dq/sdk/plugin.h>

namespace dq::kernel::test {
namespace {

using namespace dq::sdk;

class DeleteRulesTest : public DatabaseTest {
protected:
    void inWrite(const std::function<void(Store&)>& work) { db_->transaction(work); }
};

TEST_P(DeleteRulesTest, SetNullEmptiesReferencesToTheDeletedRow) {
    inWrite([](Store& store) {
        Id org = store.insert("organization", Record().set("name", "o"));
        Id col = store.insert("collaboration", Record().set("name", "c"));
        Id node = store.insert("node", Record().set("organization_id", org).set("collaboration_id", col));
        Id role = store.insert("role", Record().set("name", "r").set("organization_id", org));
        store.remove("organization", org);
        EXPECT_FALSE(store.find("organization", org));
        ASSERT_TRUE(store.find("node", node));
        EXPECT_TRUE(store.find("node", node)->isNull("organization_id"));
        EXPECT_EQ(*store.find("node", node)->integer("collaboration_id"), col);
        EXPECT_TRUE(store.find("role", role)->isNull("organization_id"));
    });
}

TEST_P(DeleteRulesTest, CascadeRemovesChildrenThroughTheirOwnRules) {
    inWrite([](Store& store) {
        Id org = store.insert("organization", Record().set("name", "o"));
        Id other = store.insert("organization", Record().set("name", "other"));
        Id u1 = store.insert("user", Record().set("username", "u1").set("organization_id", org));
        Id u2 = store.insert("user", Record().set("username", "u2").set("organization_id", other));
        Id role = store.insert("role", Record().set("name", "r"));
        store.setAssociated("user", u1, "roles", {role});
        store.setAssociated("user", u2, "roles", {role});
        store.remove("organization", org);
        EXPECT_FALSE(store.find("user", u1));
        EXPECT_TRUE(store.find("user", u2));
        // the cascaded user's association rows went with it
        EXPECT_EQ(store.associated("role", role, "users"), (std::vector<Id>{u2}));
        EXPECT_EQ(store.query("SELECT COUNT(*) FROM permission").rows[0][0].convert<int>(), 1);
    });
}

TEST_P(DeleteRulesTest, CascadeFollowsSelfReferencesDownTheTree) {
    inWrite([](Store& store) {
        Id col = store.insert("collaboration", Record().set("name", "c"));
        Id keep = store.insert("collaboration", Record().set("name", "keep"));
        Id root = store.insert("task", Record().set("name", "root").set("collaboration_id", keep));
        Id child = store.insert("task", Record().set("name", "child").set("parent_id", root));
        Id grandchild = store.insert("task", Record().set("name", "grandchild").set("parent_id", child));
        Id loop = store.insert("task", Record().set("name", "loop"));
        store.update("task", loop, Record().set("parent_id", loop));
        Id unrelated = store.insert("task", Record().set("name", "unrelated").set("collaboration_id", col));

        store.remove("collaboration", keep);
        EXPECT_FALSE(store.find("task", root));
        EXPECT_FALSE(store.find("task", child));
        EXPECT_FALSE(store.find("task", grandchild));
        EXPECT_TRUE(store.find("task", unrelated));
        store.remove("task", loop); // refers to itself: no endless recursion
        EXPECT_EQ(store.count("task"), 1);
    });
}

TEST_P(DeleteRulesTest, RestrictRefusesWithConflictAndChangesNothing) {
    Id col = 0, org = 0;
    inWrite([&](Store& store) {
        org = store.insert("organization", Record().set("name", "o"));
        col = store.insert("collaboration", Record().set("name", "c"));
        store.insert("node",
                     Record().set("name", "n").set("collaboration_id", col).set("organization_id", org));
        store.insert("task", Record().set("name", "t").set("collaboration_id", col));
        store.setAssociated("collaboration", col, "organizations", {org});
    });
    try {
        inWrite([&](Store& store) { store.remove("collaboration", col); });
        FAIL() << "no Conflict";
    } catch (const Conflict& e) {
        std::string message = e.what();
        EXPECT_NE(message.find("1 node still refers"), std::string::npos) << message;
        EXPECT_NE(message.find("'collaboration'"), std::string::npos) << message;
    }
    inWrite([&](Store& store) {
        // The conflict is caught inside the transaction: still nothing may have changed.
        EXPECT_THROW(store.remove("collaboration", col), Conflict);
        EXPECT_TRUE(store.find("collaboration", col));
        EXPECT_EQ(store.count("task"), 1);
        EXPECT_EQ(store.associated("collaboration", col, "organizations"), (std::vector<Id>{org}));
    });
}

TEST_P(DeleteRulesTest, RestrictDeepInACascadeUndoesTheWholeRemove) {
    Catalog catalog;
    auto registry = catalog.registryFor("deep", nullptr);
    registry->model(ModelDecl("parent_row").field(field("name")));
    registry->model(ModelDecl("child_row").reference(reference("parent", "parent_row", OnDelete::Cascade)));
    registry->model(ModelDecl("leaf_row").reference(reference("child", "child_row", OnDelete::Restrict)));
    auto db = open(catalog);
    db->transaction([](Store& store) {
        Id p = store.insert("parent_row", Record().set("name", "p"));
        store.insert("child_row", Record().set("parent_id", p));
        Id c2 = store.insert("child_row", Record().set("parent_id", p));
        store.insert("leaf_row", Record().set("child_id", c2));
        EXPECT_THROW(store.remove("parent_row", p), Conflict);
        EXPECT_EQ(store.count("child_row"), 2);
        EXPECT_EQ(store.count("parent_row"), 1);
    });
}

TEST_P(DeleteRulesTest, RemovesAssociationRowsOnBothSides) {
    inWrite([](Store& store) {
        Id o1 = store.insert("organization", Record().set("name", "o1"));
        Id o2 = store.insert("organization", Record().set("name", "o2"));
        Id c1 = store.insert("collaboration", Record().set("name", "c1"));
        Id c2 = store.insert("collaboration", Record().set("name", "c2"));
        store.setAssociated("collaboration", c1, "organizations", {o1, o2});
        store.setAssociated("collaboration", c2, "organizations", {o1});
        store.remove("organization", o1);
        EXPECT_EQ(store.associated("collaboration", c1, "organizations"), (std::vector<Id>{o2}));
        EXPECT_EQ(store.associated("collaboration", c2, "organizations"), (std::vector<Id>{}));
        store.remove("collaboration", c1);
        EXPECT_EQ(store.associated("organization", o2, "collaborations"), (std::vector<Id>{}));
        EXPECT_EQ(store.query("SELECT COUNT(*) FROM member").rows[0][0].convert<int>(), 0);
    });
}

TEST_P(DeleteRulesTest, RulesOfEveryPluginApply) {
    // A second plugin refers to organization; the first plugin's delete must honour its rule.
    Catalog catalog;
    declareTestModels(catalog);
    catalog.registryFor("audit", nullptr)
        ->model(ModelDecl("audit_entry")
                    .field(field("what"))
                    .reference(reference("organization", "organization", OnDelete::Restrict)));
    auto db = open(catalog);
    db->transaction([](Store& store) {
        Id org = store.insert("organization", Record().set("name", "o"));
        store.insert("audit_entry", Record().set("what", "created").set("organization_id", org));
        try {
            store.remove("organization", org);
            FAIL() << "no Conflict";
        } catch (const Conflict& e) {
            EXPECT_NE(std::string(e.what()).find("plugin 'audit'"), std::string::npos) << e.what();
        }
    });
}

INSTANTIATE_TEST_SUITE_P(Backends, DeleteRulesTest, ::testing::Values(Backend::Sqlite, Backend::Postgresql),
                         backendName);

} // namespace
} // namespace dq::kernel::test
