// `vserver node list|create|reset-key` on the real binary, against a running test server's
// database: the printed keys log in over HTTP.
#include "../../collaborations/tests/federation.h"

#include <regex>

namespace dq::test {
namespace {

std::string printedKey(const std::string& output) {
    std::smatch m;
    if (!std::regex_search(output, m, std::regex("API key: ([^\\s]+)")))
        return "";
    return m[1].str();
}

class NodeCommands : public BothDatabases {};

TEST_P(NodeCommands, CreatePrintsAWorkingKeyOnce) {
    Federation f(server());
    auto a = f.organization("Org A");
    auto x = f.collaboration("X-ray", {a});
    auto created = vserver(f.s, "node create --organization-id " + std::to_string(a) +
                                    " --collaboration-id " + std::to_string(x));
    ASSERT_EQ(created.exitCode, 0) << created.output;
    auto key = printedKey(created.output);
    ASSERT_FALSE(key.empty()) << created.output;
    EXPECT_NE(f.nodeToken(key), "");

    auto list = vserver(f.s, "node list");
    ASSERT_EQ(list.exitCode, 0) << list.output;
    EXPECT_NE(list.output.find("Org A - X-ray Node"), std::string::npos) << list.output;
    EXPECT_EQ(list.output.find(key), std::string::npos) << list.output;
}

TEST_P(NodeCommands, CreateUsesTheGivenKeyAndRefusesASecondNode) {
    Federation f(server());
    auto a = f.organization("Org A");
    auto x = f.collaboration("X-ray", {a});
    const std::string key = "0d2b5f2e-1c1a-4c7e-9d1a-aa0000000001";
    const std::string args =
        "node create --organization-id " + std::to_string(a) + " --collaboration-id " + std::to_string(x);
    auto created = vserver(f.s, args + " --node-name mine --api-key " + key);
    ASSERT_EQ(created.exitCode, 0) << created.output;
    EXPECT_NE(f.nodeToken(key), "");
    auto again = vserver(f.s, args);
    EXPECT_NE(again.exitCode, 0);
    EXPECT_NE(again.output.find("already has a node"), std::string::npos) << again.output;
    auto outsider = f.organization("Org B");
    EXPECT_NE(vserver(f.s, "node create --organization-id " + std::to_string(outsider) +
                               " --collaboration-id " + std::to_string(x))
                  .exitCode,
              0);
}

TEST_P(NodeCommands, ResetKeyRetiresTheOldKey) {
    Federation f(server());
    auto a = f.organization("Org A");
    auto x = f.collaboration("X-ray", {a});
    auto node = f.node(a, x);
    auto reset = vserver(f.s, "node reset-key " + std::to_string(node.id));
    ASSERT_EQ(reset.exitCode, 0) << reset.output;
    auto key = printedKey(reset.output);
    ASSERT_FALSE(key.empty()) << reset.output;
    EXPECT_EQ(f.nodeToken(node.apiKey), "");
    EXPECT_NE(f.nodeToken(key), "");
    EXPECT_NE(vserver(f.s, "node reset-key 9999").exitCode, 0);
}

DQ_ON_BOTH_DATABASES(NodeCommands);

} // namespace
} // namespace dq::test
