// The plugin host against real plugin files: the fixtures in fixtures/ are built into .so files in
// DQ_FIXTURE_DIR; each test loads some of them and checks what the operator would read.
#include "kernel/plugin_host/plugin_host.h"

// library_info.hpp uses std::vector without including it.
#include <Poco/Logger.h>
#include <boost/dll/library_info.hpp>
#include <cstdlib>
#include <dlfcn.h>
#include <filesystem>
#include <fstream>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <random>
#include <vector>

namespace dq::kernel {
namespace {

/// This build's ABI as the kernel's messages spell it.
const std::string kServerAbi = std::to_string(dq::sdk::kAbiMajor) + "." + std::to_string(dq::sdk::kAbiMinor);

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

const std::string kFixtures = DQ_FIXTURE_DIR;

std::string fixture(const std::string& name) {
    return kFixtures + "/lib" + name + ".so";
}

/// Whether the dynamic loader has the file mapped, without loading it.
bool isLoaded(const std::string& path) {
    void* handle = dlopen(path.c_str(), RTLD_LAZY | RTLD_NOLOAD);
    if (!handle)
        return false;
    dlclose(handle);
    return true;
}

[[noreturn]] void notInThisTest() {
    std::abort();
}

/// Services for start(): the fixtures use none of them.
class NoServices : public sdk::Services {
public:
    sdk::Tokens& tokens() override { notInThisTest(); }
    sdk::Passwords& passwords() override { notInThisTest(); }
    sdk::Events& events() override { notInThisTest(); }
    const sdk::Settings& settings() override { notInThisTest(); }
    Poco::Logger& log() override { return Poco::Logger::get("plugin_host_test"); }
    void transaction(const std::function<void(sdk::Store&)>&) override { notInThisTest(); }
    std::shared_ptr<sdk::Service> find(const std::string&) override { return nullptr; }
    std::vector<sdk::RuleDecl> declaredRules() const override { return {}; }
};

/// A request context for calling a handler the fixtures declare; they look at none of it.
class NoRequestContext : public sdk::RequestContext {
public:
    const sdk::Request& request() const override { return request_; }
    const sdk::Identity& identity() const override { return identity_; }
    sdk::Store& store() override { notInThisTest(); }
    sdk::Services& services() override { notInThisTest(); }
    std::optional<sdk::Scope> scope(const std::string&, sdk::Operation) override { notInThisTest(); }
    sdk::Scope require(const std::string&, sdk::Operation) override { notInThisTest(); }
    bool holds(const sdk::RuleKey&) override { notInThisTest(); }
    const std::vector<sdk::RuleKey>& rules() override { notInThisTest(); }
    const std::vector<sdk::Id>& ownCollaborations() override { notInThisTest(); }
    Poco::JSON::Object::Ptr serialize(const std::string&, const sdk::Record&) override { notInThisTest(); }
    sdk::Response list(const std::string&, sdk::Query, const Render&) override { notInThisTest(); }
    std::string link(const std::string&) const override { notInThisTest(); }
    void commit() override { notInThisTest(); }

private:
    sdk::Request request_;
    sdk::Identity identity_;
};

class PluginHostTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::random_device random;
        dir_ = std::filesystem::temp_directory_path() / ("dq_plugin_host_" + std::to_string(random()));
        std::filesystem::create_directories(dir_);
        log_ = dir_ / "fixture.log";
        setenv("DQ_FIXTURE_LOG", log_.c_str(), 1);
        host_ = std::make_unique<PluginHost>(catalog_);
    }

    void TearDown() override {
        host_.reset();
        unsetenv("DQ_FIXTURE_LOG");
        std::filesystem::remove_all(dir_);
    }

    void load(std::vector<std::string> enabled, std::set<std::string> optional = {},
              std::vector<std::string> folders = {kFixtures}) {
        host_->load({std::move(enabled), std::move(folders), std::move(optional)});
    }

    /// The problems of the StartupError that load() throws; fails the test when it does not throw.
    std::vector<std::string> loadProblems(std::vector<std::string> enabled,
                                          std::set<std::string> optional = {},
                                          std::vector<std::string> folders = {kFixtures}) {
        try {
            load(std::move(enabled), std::move(optional), std::move(folders));
        } catch (const StartupError& e) {
            return e.problems();
        }
        ADD_FAILURE() << "load() did not throw";
        return {};
    }

    void start() {
        host_->start([this](const LoadedPlugin&) -> sdk::Services& { return services_; });
    }

    std::vector<std::string> names() const {
        std::vector<std::string> out;
        for (const auto& p : host_->plugins())
            out.push_back(p.name);
        return out;
    }

    std::vector<std::string> logLines() const {
        std::vector<std::string> lines;
        std::ifstream in(log_);
        for (std::string line; std::getline(in, line);)
            lines.push_back(line);
        return lines;
    }

    std::filesystem::path dir_;
    std::filesystem::path log_;
    Catalog catalog_;
    NoServices services_;
    std::unique_ptr<PluginHost> host_;
};

TEST_F(PluginHostTest, MarkerIsReadableWithoutLoadingTheLibrary) {
    boost::dll::library_info info(fixture("alpha"));
    auto symbols = info.symbols(sdk::kPluginSection);
    EXPECT_THAT(symbols, Contains("dq_plugin_create"));
    EXPECT_THAT(symbols, Contains("dq_sdk_abi_" + std::to_string(dq::sdk::kAbiMajor) + "_" + std::to_string(dq::sdk::kAbiMinor)));
    EXPECT_FALSE(isLoaded(fixture("alpha")));
}

TEST_F(PluginHostTest, LoadsPluginAndDeclaresEverythingIntoFrozenCatalog) {
    load({"alpha"});

    ASSERT_EQ(host_->plugins().size(), 1u);
    const auto& alpha = host_->plugins().front();
    EXPECT_EQ(alpha.name, "alpha");
    EXPECT_EQ(alpha.file, fixture("alpha"));
    EXPECT_EQ(alpha.info.version, "1.0.0");
    EXPECT_EQ(alpha.abiMajor, dq::sdk::kAbiMajor);
    EXPECT_EQ(alpha.abiMinor, dq::sdk::kAbiMinor);
    EXPECT_FALSE(alpha.started);
    EXPECT_TRUE(isLoaded(fixture("alpha")));

    EXPECT_TRUE(catalog_.frozen());
    EXPECT_NE(catalog_.model("alpha"), nullptr);
    ASSERT_EQ(catalog_.routes().size(), 1u);
    EXPECT_EQ(catalog_.routes().front().plugin, "alpha");
    EXPECT_EQ(catalog_.rules().size(), 1u);
    EXPECT_EQ(catalog_.commands().size(), 1u);
    EXPECT_EQ(catalog_.settingsOf("alpha").size(), 1u);
    EXPECT_NE(catalog_.service("alpha.service"), nullptr);
    EXPECT_THAT(catalog_.conflicts(), IsEmpty());
    EXPECT_THAT(host_->warnings(), IsEmpty());
}

TEST_F(PluginHostTest, OrdersByRequirementsThenByConfiguredOrder) {
    load({"beta", "delta", "alpha"});
    EXPECT_THAT(names(), ElementsAre("delta", "alpha", "beta"));
}

TEST_F(PluginHostTest, StartsInOrderAndStopsInExactReverse) {
    load({"beta", "delta", "alpha"});
    start();
    for (const auto& p : host_->plugins())
        EXPECT_TRUE(p.started) << p.name;
    host_->stop();
    EXPECT_THAT(logLines(), ElementsAre("start:delta", "start:alpha", "start:beta", "stop:beta", "stop:alpha",
                                        "stop:delta"));
}

TEST_F(PluginHostTest, DestructorStopsStartedPluginsAndUnloadsThem) {
    load({"alpha", "beta"});
    start();
    host_.reset();
    EXPECT_THAT(logLines(), ElementsAre("start:alpha", "start:beta", "stop:beta", "stop:alpha"));
    EXPECT_THAT(catalog_.routes(), IsEmpty());
    EXPECT_FALSE(isLoaded(fixture("alpha")));
    EXPECT_FALSE(isLoaded(fixture("beta")));
}

TEST_F(PluginHostTest, FailedStartStopsStartedPluginsInReverseAndNamesThePlugin) {
    load({"alpha", "beta", "start_throws"});
    try {
        start();
        FAIL() << "start() did not throw";
    } catch (const StartupError& e) {
        EXPECT_THAT(e.problems(),
                    ElementsAre("plugin 'start_throws' failed in start: cannot reach the mail server"));
    }
    EXPECT_THAT(logLines(),
                ElementsAre("start:alpha", "start:beta", "start:start_throws", "stop:beta", "stop:alpha"));
}

TEST_F(PluginHostTest, ExceptionsInStopBecomeWarningsAndTheOthersStillStop) {
    load({"alpha", "stop_throws"});
    start();
    host_->stop();
    EXPECT_THAT(logLines(),
                ElementsAre("start:alpha", "start:stop_throws", "stop:stop_throws", "stop:alpha"));
    EXPECT_THAT(host_->warnings(), ElementsAre("plugin 'stop_throws' failed in stop: queue not drained"));
}

TEST_F(PluginHostTest, ReportsMissingFileWithTheFoldersSearched) {
    auto problems = loadProblems({"ghost"}, {}, {kFixtures, "/nonexistent/plugins"});
    EXPECT_THAT(problems, ElementsAre("plugin 'ghost': no file libghost.so in " + kFixtures +
                                      ", /nonexistent/plugins; check plugins.folders or install the plugin"));
}

TEST_F(PluginHostTest, ReportsPluginFoundInTwoFolders) {
    std::filesystem::copy_file(fixture("alpha"), dir_ / "libalpha.so");
    auto problems = loadProblems({"alpha"}, {}, {kFixtures, dir_.string()});
    EXPECT_THAT(problems,
                ElementsAre("plugin 'alpha' found twice: " + fixture("alpha") + " and " +
                            (dir_ / "libalpha.so").string() + "; remove one or narrow plugins.folders"));
}

TEST_F(PluginHostTest, SameFolderListedTwiceIsNotADuplicate) {
    load({"alpha"}, {}, {kFixtures, kFixtures + "/"});
    EXPECT_THAT(names(), ElementsAre("alpha"));
}

TEST_F(PluginHostTest, RejectsPluginBuiltForOtherAbiWithoutRunningIt) {
    // Loading the file would abort this process: its static initializer calls std::abort().
    auto problems = loadProblems({"future"});
    EXPECT_THAT(problems,
                ElementsAre(fixture("future") + ": built for SDK ABI 3.0, this server has ABI " + kServerAbi +
                            "; "
                            "rebuild the plugin against SDK " + std::to_string(dq::sdk::kAbiMajor) + ".x"));
    EXPECT_FALSE(isLoaded(fixture("future")));
}

TEST_F(PluginHostTest, RejectsPluginBuiltForNewerMinorAbi) {
    auto problems = loadProblems({"newer"});
    EXPECT_THAT(problems,
                ElementsAre(fixture("newer") + ": built for SDK ABI 2.9, this server has ABI " + kServerAbi +
                            "; "
                            "rebuild the plugin against SDK " + std::to_string(dq::sdk::kAbiMajor) + ".x"));
}

// Minor versions only add: a plugin built for an older minor of the same major loads unchanged.
TEST_F(PluginHostTest, LoadsPluginBuiltForAnOlderMinorAbi) {
    static_assert(dq::sdk::kAbiMinor > 0,
                  "the fixture 'older' exports ABI 2.0, an older minor than this SDK's");
    load({"older"});
    ASSERT_EQ(host_->plugins().size(), 1u);
    EXPECT_EQ(host_->plugins().front().abiMajor, 2);
    EXPECT_EQ(host_->plugins().front().abiMinor, 0);
    ASSERT_EQ(catalog_.routes().size(), 1u);
    EXPECT_EQ(catalog_.routes().front().decl.path, "/older");
    EXPECT_EQ(catalog_.routeDoc(sdk::Method::Get, "/older"), nullptr);
}

TEST_F(PluginHostTest, RejectsSharedLibraryWithoutPluginSection) {
    auto problems = loadProblems({"plain"});
    EXPECT_THAT(problems, ElementsAre(fixture("plain") + ": not a dataquality plugin (no dqplugin section / "
                                                         "dq_sdk_abi marker); was it built with DQ_PLUGIN?"));
    EXPECT_FALSE(isLoaded(fixture("plain")));
}

TEST_F(PluginHostTest, RejectsFileThatIsNotElf) {
    auto problems = loadProblems({"junk"});
    EXPECT_THAT(problems, ElementsAre(fixture("junk") + ": not a dataquality plugin (no dqplugin section / "
                                                        "dq_sdk_abi marker); was it built with DQ_PLUGIN?"));
}

TEST_F(PluginHostTest, ExplainsThatAStrippedPluginLostItsMarker) {
    auto problems = loadProblems({"stripped"});
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_THAT(problems[0], HasSubstr(fixture("stripped") + ": has a dqplugin section but no symbol table"));
    EXPECT_THAT(problems[0], HasSubstr("--strip-debug"));
}

TEST_F(PluginHostTest, ReportsMissingRequirement) {
    auto problems = loadProblems({"needy"});
    EXPECT_THAT(
        problems,
        ElementsAre("plugin 'needy' requires 'absent', which is not enabled; add it to plugins.enabled"));
}

TEST_F(PluginHostTest, ReportsTheWholeDependencyCycle) {
    auto problems = loadProblems({"alpha", "ring_b", "ring_a", "ring_c"});
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_THAT(problems[0], HasSubstr("dependency cycle: ring_b -> ring_c -> ring_a -> ring_b"));
}

TEST_F(PluginHostTest, ReportsThrowInInfo) {
    EXPECT_THAT(loadProblems({"info_throws"}),
                ElementsAre("plugin 'info_throws' failed in info: version file missing"));
}

TEST_F(PluginHostTest, ReportsThrowInDeclare) {
    EXPECT_THAT(loadProblems({"declare_throws"}),
                ElementsAre("plugin 'declare_throws' failed in declare: model 'broken' has no fields"));
}

TEST_F(PluginHostTest, ReportsThrowOfNonStandardException) {
    EXPECT_THAT(loadProblems({"weird_throws"}),
                ElementsAre("plugin 'weird_throws' failed in declare: unknown exception"));
}

TEST_F(PluginHostTest, ReportsPluginWhoseNameDiffersFromItsFile) {
    auto problems = loadProblems({"wrong_name"});
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_THAT(problems[0], HasSubstr(fixture("wrong_name") +
                                       ": the plugin calls itself 'right_name' in info() but is enabled as "
                                       "'wrong_name'"));
}

TEST_F(PluginHostTest, ReportsUnresolvedSymbolWhenLoadingNotWhenCalling) {
    auto problems = loadProblems({"unresolved"});
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_THAT(problems[0],
                HasSubstr("plugin 'unresolved' could not be loaded from " + fixture("unresolved")));
    EXPECT_THAT(problems[0], HasSubstr("dqFixtureNowhere"));
}

TEST_F(PluginHostTest, ReportsPluginListedTwice) {
    EXPECT_THAT(loadProblems({"alpha", "alpha"}),
                ElementsAre("plugin 'alpha' is listed twice in plugins.enabled; list it once"));
}

TEST_F(PluginHostTest, ReportsEveryConflictingDeclaration) {
    auto problems = loadProblems({"clash_a", "clash_b"});
    const std::string both = " is declared by both plugin 'clash_a' and plugin 'clash_b'";
    EXPECT_THAT(problems, Contains(HasSubstr("table 'shared'" + both)));
    EXPECT_THAT(problems, Contains(HasSubstr("route GET /shared" + both)));
    EXPECT_THAT(problems, Contains(HasSubstr("command 'shared run'" + both)));
    EXPECT_THAT(problems, Contains(HasSubstr("rule shared:GLOBAL:VIEW" + both)));
    EXPECT_EQ(problems.size(), 4u);
}

TEST_F(PluginHostTest, RefusesACommandOptionThatChoosesTheServerNamingThePlugin) {
    EXPECT_THAT(loadProblems({"reserved_option"}),
                ElementsAre(AllOf(HasSubstr("plugin 'reserved_option'"), HasSubstr("command 'thing create'"),
                                  HasSubstr("--name"), HasSubstr("rename the option"))));
    EXPECT_TRUE(catalog_.commands().empty());
}

TEST_F(PluginHostTest, ReportsAllProblemsAtOnce) {
    try {
        load({"future", "alpha", "plain", "declare_throws", "needy", "ghost"});
        FAIL() << "load() did not throw";
    } catch (const StartupError& e) {
        ASSERT_EQ(e.problems().size(), 5u);
        EXPECT_THAT(e.problems(), Contains(HasSubstr("built for SDK ABI 3.0")));
        EXPECT_THAT(e.problems(), Contains(HasSubstr(fixture("plain") + ": not a dataquality plugin")));
        EXPECT_THAT(e.problems(), Contains(HasSubstr("plugin 'declare_throws' failed in declare")));
        EXPECT_THAT(e.problems(), Contains(HasSubstr("plugin 'needy' requires 'absent'")));
        EXPECT_THAT(e.problems(), Contains(HasSubstr("no file libghost.so")));
        std::string joined;
        for (const auto& p : e.problems())
            joined += (joined.empty() ? "" : "\n") + p;
        EXPECT_EQ(e.what(), joined);
    }
}

TEST_F(PluginHostTest, FailedLoadLeavesNothingLoadedOrDeclared) {
    loadProblems({"alpha", "clash_a", "clash_b", "declare_throws"});
    EXPECT_THAT(host_->plugins(), IsEmpty());
    EXPECT_THAT(catalog_.models(), IsEmpty());
    EXPECT_THAT(catalog_.routes(), IsEmpty());
    EXPECT_THAT(catalog_.rules(), IsEmpty());
    EXPECT_THAT(catalog_.commands(), IsEmpty());
    EXPECT_THAT(catalog_.settings(), IsEmpty());
    EXPECT_THAT(catalog_.services(), IsEmpty());
    EXPECT_THAT(catalog_.conflicts(), IsEmpty());
    EXPECT_FALSE(catalog_.frozen());
    for (auto name : {"alpha", "clash_a", "clash_b", "declare_throws"})
        EXPECT_FALSE(isLoaded(fixture(name))) << name;
}

TEST_F(PluginHostTest, OptionalPluginThatFailsIsSkippedWithAWarning) {
    load({"alpha", "declare_throws", "future"}, {"declare_throws", "future"});
    EXPECT_THAT(names(), ElementsAre("alpha"));
    EXPECT_THAT(host_->warnings(),
                UnorderedElementsAre(
                    "optional plugin 'declare_throws' skipped: plugin 'declare_throws' failed in declare: "
                    "model 'broken' has no fields",
                    "optional plugin 'future' skipped: " + fixture("future") +
                        ": built for SDK ABI 3.0, this server has ABI " + kServerAbi +
                        "; rebuild the plugin against SDK " + std::to_string(dq::sdk::kAbiMajor) + ".x"));
    // It declared a route before throwing; that declaration is gone with it.
    ASSERT_EQ(catalog_.routes().size(), 1u);
    EXPECT_EQ(catalog_.routes().front().decl.path, "/alpha");
    EXPECT_FALSE(isLoaded(fixture("declare_throws")));
}

TEST_F(PluginHostTest, OptionalPluginThatAnotherRequiresFailsTheStart) {
    auto problems = loadProblems({"declare_throws", "leaning"}, {"declare_throws"});
    EXPECT_THAT(problems,
                ElementsAre("plugin 'declare_throws' failed in declare: model 'broken' has no fields"));
}

TEST_F(PluginHostTest, OptionalPluginsRequiringASkippedOneAreSkippedToo) {
    load({"alpha", "declare_throws", "leaning"}, {"declare_throws", "leaning"});
    EXPECT_THAT(names(), ElementsAre("alpha"));
    EXPECT_THAT(
        host_->warnings(),
        Contains("optional plugin 'leaning' skipped: it requires 'declare_throws', which was skipped"));
}

TEST_F(PluginHostTest, OptionalPluginInConflictIsSkipped) {
    load({"clash_a", "clash_b"}, {"clash_b"});
    EXPECT_THAT(names(), ElementsAre("clash_a"));
    EXPECT_EQ(host_->warnings().size(), 4u);
    EXPECT_THAT(host_->warnings(),
                Contains(HasSubstr("optional plugin 'clash_b' skipped: route GET /shared")));
    EXPECT_THAT(catalog_.conflicts(), IsEmpty());
    ASSERT_EQ(catalog_.routes().size(), 1u);
    EXPECT_EQ(catalog_.routes().front().plugin, "clash_a");
}

TEST_F(PluginHostTest, OptionalPluginThatFailsToStartIsSkipped) {
    load({"alpha", "start_throws"}, {"start_throws"});
    start();
    EXPECT_THAT(names(), ElementsAre("alpha"));
    EXPECT_THAT(host_->warnings(),
                ElementsAre("optional plugin 'start_throws' skipped: plugin 'start_throws' "
                            "failed in start: cannot reach the mail server"));
    host_->stop();
    EXPECT_THAT(logLines(), ElementsAre("start:alpha", "start:start_throws", "stop:alpha"));
}

TEST_F(PluginHostTest, HandlerKeepsItsLibraryLoadedAfterTheHostIsGone) {
    load({"alpha"});
    start();
    ASSERT_EQ(catalog_.routes().size(), 1u);
    sdk::Handler handler = catalog_.routes().front().decl.handler;
    host_.reset();
    EXPECT_THAT(catalog_.routes(), IsEmpty());
    EXPECT_TRUE(isLoaded(fixture("alpha")));

    NoRequestContext context;
    auto response = handler(context);
    EXPECT_EQ(response.status, 299);
    EXPECT_EQ(response.headers["x-plugin"], "alpha");

    handler = nullptr;
    EXPECT_FALSE(isLoaded(fixture("alpha")));
}

} // namespace
} // namespace dq::kernel
