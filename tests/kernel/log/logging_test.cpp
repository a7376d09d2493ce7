#include "kernel/log/logging.h"

#include <Poco/Logger.h>
#include <Poco/Message.h>
#include <Poco/NullChannel.h>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <sstream>
#include <unistd.h>

using dq::kernel::configureLogging;
using dq::kernel::LoggingConfig;
using dq::kernel::translatePythonFormat;

namespace fs = std::filesystem;

// ---- format translation ------------------------------------------------------------------

TEST(TranslatePythonFormat, TranslatesTheVantage6DefaultFormat) {
    EXPECT_EQ(translatePythonFormat("%(asctime)s - %(name)-14s - %(levelname)-8s - %(message)s",
                                    "%Y-%m-%d %H:%M:%S"),
              "%Y-%m-%d %H:%M:%S - %v[14] - %p - %t");
}

TEST(TranslatePythonFormat, TranslatesEveryRecordAttributePocoKnows) {
    EXPECT_EQ(
        translatePythonFormat("%(name)s %(levelname)s %(levelno)d %(message)s %(process)d %(thread)d "
                              "%(threadName)s %(lineno)d %(filename)s %(pathname)s %(created)f %(msecs)03d",
                              ""),
        "%s %p %l %t %P %I %T %u %O %U %E %i");
}

TEST(TranslatePythonFormat, PadsNameWhateverItsAlignment) {
    EXPECT_EQ(translatePythonFormat("[%(name)20s]", ""), "[%v[20]]");
    EXPECT_EQ(translatePythonFormat("[%(name)-5s]", ""), "[%v[5]]");
}

TEST(TranslatePythonFormat, KeepsLiteralTextAndPercentSigns) {
    EXPECT_EQ(translatePythonFormat("100%% [%(message)s]", ""), "100%% [%t]");
    EXPECT_EQ(translatePythonFormat("50% done: %(message)s", ""), "50%% done: %t");
    EXPECT_EQ(translatePythonFormat("trailing %", ""), "trailing %%");
}

TEST(TranslatePythonFormat, ShowsUnsupportedPlaceholdersLiterally) {
    EXPECT_EQ(translatePythonFormat("%(funcName)s: %(message)s", ""), "%%(funcName)s: %t");
    EXPECT_EQ(translatePythonFormat("%(message", ""), "%%(message");
}

TEST(TranslatePythonFormat, TranslatesDateFormats) {
    const auto asctime = [](const std::string& datefmt) {
        return translatePythonFormat("%(asctime)s", datefmt);
    };
    EXPECT_EQ(asctime("%Y-%m-%d %H:%M:%S"), "%Y-%m-%d %H:%M:%S");
    EXPECT_EQ(asctime("%d %b %y %H:%M:%S.%f"), "%d %b %y %H:%M:%S.%F");
    EXPECT_EQ(asctime("%a %A %B %I%p %e"), "%w %W %B %h%A %f");
    EXPECT_EQ(asctime("%T %D %F %z"), "%H:%M:%S %m/%d/%y %Y-%m-%d %Z");
    EXPECT_EQ(asctime("%j 100%%"), "%%j 100%%");
    // logging.Formatter's own default: "2003-07-08 16:49:45,896".
    EXPECT_EQ(asctime(""), "%Y-%m-%d %H:%M:%S,%i");
}

TEST(PocoPriorityOf, MapsPythonLevels) {
    using dq::kernel::pocoPriorityOf;
    EXPECT_EQ(pocoPriorityOf("CRITICAL"), Poco::Message::PRIO_CRITICAL);
    EXPECT_EQ(pocoPriorityOf("ERROR"), Poco::Message::PRIO_ERROR);
    EXPECT_EQ(pocoPriorityOf("WARNING"), Poco::Message::PRIO_WARNING);
    EXPECT_EQ(pocoPriorityOf("info"), Poco::Message::PRIO_INFORMATION);
    EXPECT_EQ(pocoPriorityOf("DEBUG"), Poco::Message::PRIO_DEBUG);
    EXPECT_EQ(pocoPriorityOf("NOTSET"), Poco::Message::PRIO_TRACE);
    EXPECT_THROW(pocoPriorityOf("LOUD"), std::invalid_argument);
}

// ---- configureLogging ----------------------------------------------------------------------

namespace {

/// A temporary folder; the loggers are detached from any file in it afterwards.
class ConfigureLogging : public testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("dq-log-test-" + std::to_string(::getpid()) + "-" +
                                            testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_);
    }
    void TearDown() override {
        Poco::Logger::setChannel("", new Poco::NullChannel);
        Poco::Logger::setLevel("", Poco::Message::PRIO_INFORMATION);
        fs::remove_all(dir_);
    }

    LoggingConfig fileOnly(const std::string& format = "%(levelname)s|%(name)s|%(message)s") const {
        LoggingConfig cfg;
        cfg.useConsole = false;
        cfg.file = (dir_ / "server.log").string();
        cfg.format = format;
        return cfg;
    }

    static std::string read(const fs::path& file) {
        std::ifstream in(file);
        std::stringstream text;
        text << in.rdbuf();
        return text.str();
    }

    fs::path dir_;
};

} // namespace

TEST_F(ConfigureLogging, WritesTranslatedFormatToTheFile) {
    configureLogging(fileOnly(), "");
    Poco::Logger::get("users").warning("hello");
    Poco::Logger::get("users").information("world");
    EXPECT_EQ(read(dir_ / "server.log"), "WARNING|users|hello\nINFO|users|world\n");
}

TEST_F(ConfigureLogging, LoggersCreatedBeforeAreRedirectedToo) {
    Poco::Logger& early = Poco::Logger::get("created_early");
    configureLogging(fileOnly(), "");
    early.error("still heard");
    EXPECT_EQ(read(dir_ / "server.log"), "ERROR|created_early|still heard\n");
}

TEST_F(ConfigureLogging, AppliesRootAndPerLoggerLevels) {
    LoggingConfig cfg = fileOnly();
    cfg.level = "WARNING";
    cfg.loggers = {{"chatty", "DEBUG"}, {"quiet", "CRITICAL"}};
    configureLogging(cfg, "");
    Poco::Logger::get("other").information("dropped: below WARNING");
    Poco::Logger::get("chatty").debug("kept");
    Poco::Logger::get("chatty.child").debug("child inherits");
    Poco::Logger::get("quiet").error("dropped: below CRITICAL");
    EXPECT_EQ(read(dir_ / "server.log"), "DEBUG|chatty|kept\nDEBUG|chatty.child|child inherits\n");
}

TEST_F(ConfigureLogging, RelativeFileGoesNextToTheDefaultAndFolderIsCreated) {
    LoggingConfig cfg = fileOnly();
    cfg.file = "named.log";
    configureLogging(cfg, (dir_ / "logs" / "default.log").string());
    Poco::Logger::get("x").warning("here");
    EXPECT_EQ(read(dir_ / "logs" / "named.log"), "WARNING|x|here\n");
    EXPECT_FALSE(fs::exists(dir_ / "logs" / "default.log"));
}

TEST_F(ConfigureLogging, EmptyFileUsesTheDefault) {
    LoggingConfig cfg = fileOnly();
    cfg.file.clear();
    configureLogging(cfg, (dir_ / "default.log").string());
    Poco::Logger::get("x").warning("here");
    EXPECT_EQ(read(dir_ / "default.log"), "WARNING|x|here\n");
}

TEST_F(ConfigureLogging, UnknownLevelChangesNothing) {
    configureLogging(fileOnly(), "");
    LoggingConfig bad = fileOnly();
    bad.file = (dir_ / "other.log").string();
    bad.loggers = {{"users", "LOUD"}};
    EXPECT_THROW(configureLogging(bad, ""), std::invalid_argument);
    Poco::Logger::get("users").warning("same file");
    EXPECT_EQ(read(dir_ / "server.log"), "WARNING|users|same file\n");
    EXPECT_FALSE(fs::exists(dir_ / "other.log"));
}

TEST_F(ConfigureLogging, RotatesAtMaxSizeAndKeepsBackupCountFiles) {
    LoggingConfig cfg = fileOnly("%(message)s");
    cfg.maxSizeKb = 17;
    cfg.backupCount = 2;
    configureLogging(cfg, "");
    const std::string line(999, 'x'); // 1000 bytes with the newline
    for (int i = 0; i < 100; ++i)     // 100 kB: about five rotations
        Poco::Logger::get("bulk").information(line);

    std::vector<std::string> files;
    for (const auto& entry : fs::directory_iterator(dir_)) {
        files.push_back(entry.path().filename().string());
        EXPECT_LE(fs::file_size(entry.path()), 18u * 1024u) << entry.path();
    }
    std::sort(files.begin(), files.end());
    EXPECT_EQ(files, (std::vector<std::string>{"server.log", "server.log.0", "server.log.1"}));
    EXPECT_GE(fs::file_size(dir_ / "server.log.0"), 16u * 1024u);
}
