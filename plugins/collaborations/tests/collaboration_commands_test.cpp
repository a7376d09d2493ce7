// `vserver collaboration list|create|show` on the real binary, against a running test server's
// database; the results are checked over HTTP.
#include "federation.h"

namespace dq::test {
namespace {

class CollaborationCommands : public BothDatabases {};

TEST_P(CollaborationCommands, CreateMakesCollaborationThatTheApiShows) {
    Federation f(server());
    auto a = f.organization("Org A");
    auto b = f.organization("Org B");
    auto created = vserver(f.s, "collaboration create --collaboration-name Cli --organizations " + std::to_string(a) + "," +
                                    std::to_string(b));
    ASSERT_EQ(created.exitCode, 0) << created.output;
    EXPECT_NE(created.output.find("Created collaboration"), std::string::npos) << created.output;

    auto listed = f.s.get("/collaboration?name=Cli", f.root);
    ASSERT_EQ(listed.status, 200) << listed.body;
    ASSERT_EQ(listed.array()->size(), 1u);
    auto collaboration = listed.array()->getObject(0);
    EXPECT_FALSE(collaboration->getValue<bool>("encrypted"));
    EXPECT_EQ(collaboration->getArray("organizations")->size(), 2u);

    auto list = vserver(f.s, "collaboration list");
    ASSERT_EQ(list.exitCode, 0) << list.output;
    EXPECT_NE(list.output.find("Cli"), std::string::npos) << list.output;
    auto shown = vserver(f.s, "collaboration show " + std::to_string(idOf(collaboration)));
    ASSERT_EQ(shown.exitCode, 0) << shown.output;
    EXPECT_NE(shown.output.find("Org B"), std::string::npos) << shown.output;
}

TEST_P(CollaborationCommands, EncryptedFlagMakesEncryptedCollaboration) {
    Federation f(server());
    auto a = f.organization("Org A");
    auto created =
        vserver(f.s, "collaboration create --encrypted --collaboration-name Secret --organizations " + std::to_string(a));
    ASSERT_EQ(created.exitCode, 0) << created.output;
    auto listed = f.s.get("/collaboration?name=Secret", f.root);
    ASSERT_EQ(listed.status, 200) << listed.body;
    ASSERT_EQ(listed.array()->size(), 1u);
    EXPECT_TRUE(listed.array()->getObject(0)->getValue<bool>("encrypted"));
}

TEST_P(CollaborationCommands, RefusesDuplicateNamesUnknownOrganizationsAndUnknownIds) {
    Federation f(server());
    auto a = f.organization("Org A");
    f.collaboration("Taken", {a});
    auto duplicate = vserver(f.s, "collaboration create --collaboration-name Taken --organizations " + std::to_string(a));
    EXPECT_NE(duplicate.exitCode, 0);
    EXPECT_NE(duplicate.output.find("already exists"), std::string::npos) << duplicate.output;
    auto unknown = vserver(f.s, "collaboration create --collaboration-name New --organizations 9999");
    EXPECT_NE(unknown.exitCode, 0);
    EXPECT_NE(unknown.output.find("9999"), std::string::npos) << unknown.output;
    EXPECT_EQ(f.s.get("/collaboration?name=New", f.root).body, "[]");
    EXPECT_NE(vserver(f.s, "collaboration show 9999").exitCode, 0);
    EXPECT_NE(vserver(f.s, "collaboration create --organizations 1").exitCode, 0);
}

DQ_ON_BOTH_DATABASES(CollaborationCommands);

} // namespace
} // namespace dq::test
