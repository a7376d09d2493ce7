// `vserver import` next to a running server, on SQLite and PostgreSQL: it hashes before it opens its
// write transaction, so the server keeps writing meanwhile (busy is a 503, never a 500); and a
// `kill -9` at any moment leaves all of the file or none of it, and a server that starts.
#include "tests/support/test_server.h"

#include <Poco/Data/Session.h>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fcntl.h>
#include <fstream>
#include <gtest/gtest.h>
#include <random>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace dq::test {
namespace {

/// An import file with `organizations` organizations of `usersEach` users each.
std::string writeImportFile(const std::string& folder, int organizations, int usersEach) {
    std::string path = folder + "/generated-import.yaml";
    std::ofstream out(path);
    out << "organizations:\n";
    for (int o = 0; o < organizations; ++o) {
        out << "  - name: Generated " << o << "\n    domain: g" << o << ".example\n    users:\n";
        for (int u = 0; u < usersEach; ++u)
            out << "      - username: user-" << o << "-" << u
                << "\n        firstname: F\n        lastname: L\n"
                << "        password: Secret-" << o << "-" << u << "!\n";
    }
    return path;
}

/// Runs `vserver import FILE` on the server's configuration and database, in the background.
pid_t startImport(TestServer& s, const std::string& file) {
    pid_t pid = ::fork();
    if (pid == 0) {
        int null = ::open("/dev/null", O_WRONLY);
        ::dup2(null, 1);
        ::dup2(null, 2);
        ::execl(DQ_VSERVER, DQ_VSERVER, "import", file.c_str(), "--config", s.configFile().c_str(),
                "--data-dir", s.dataDir().c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
    }
    return pid;
}

/// Exit code of the import, -1 when it was killed.
int waitFor(pid_t pid) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

long long generatedUsers(TestServer& s) {
    long long n = -1;
    s.transaction([&](sdk::Store& store) {
        n = store.count("user", sdk::Query().add(sdk::Condition::like("username", std::string("user-%"))));
    });
    return n;
}

long long generatedOrganizations(TestServer& s) {
    long long n = -1;
    s.transaction([&](sdk::Store& store) {
        n = store.count("organization",
                        sdk::Query().add(sdk::Condition::like("name", std::string("Generated %"))));
    });
    return n;
}

/// Whether another process (the import) holds an open write transaction on the server's database.
bool importIsWriting(TestServer& s, const std::string& database) {
    if (database == "postgresql") {
        long long locks = 0;
        s.transaction([&](sdk::Store& store) {
            locks = store
                        .query("SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                               "WHERE c.relname = 'organization' AND l.mode = 'RowExclusiveLock' "
                               "AND l.pid <> pg_backend_pid()")
                        .rows.at(0)
                        .at(0)
                        .convert<long long>();
        });
        return locks > 0;
    }
    // SQLite: the write lock is taken.
    Poco::Data::Session probe("SQLite", s.dataDir() + "/test.sqlite");
    probe << "PRAGMA busy_timeout = 0", Poco::Data::Keywords::now;
    try {
        probe << "BEGIN IMMEDIATE", Poco::Data::Keywords::now;
    } catch (const Poco::Exception&) {
        return true;
    }
    probe << "ROLLBACK", Poco::Data::Keywords::now;
    return false;
}

class ImportNextToServer : public BothDatabases {};

TEST_P(ImportNextToServer, ServerKeepsWritingWhileTheImportHashes) {
    // At bcrypt cost 10 hashing 120 passwords takes seconds; the write transaction that follows is short.
    auto& s = server({.bcryptRounds = 10});
    auto root = s.rootToken();
    auto file = writeImportFile(s.dataDir(), 2, 60);
    auto pid = startImport(s, file);
    int created = 0, busy = 0, n = 0;
    std::vector<std::string> unexpected;
    for (;;) {
        bool running = ::waitpid(pid, nullptr, WNOHANG) == 0;
        auto r = s.post("/organization", json({{"name", "During " + std::to_string(n++)}}), root);
        if (r.status == 201)
            ++created;
        else if (r.status == 503 && !r.headers["retry-after"].empty())
            ++busy;
        else
            unexpected.push_back(std::to_string(r.status) + " " + r.body);
        if (!running)
            break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_TRUE(unexpected.empty()) << unexpected.size() << " answers other than 201/503, e.g. "
                                    << (unexpected.empty() ? "" : unexpected.front());
    // The import held the write lock only briefly: nearly every write went through.
    EXPECT_GE(created, n - 3) << created << " of " << n << " created, " << busy << " busy";
    EXPECT_EQ(generatedUsers(s), 120);
}

TEST_P(ImportNextToServer, KillNineLeavesAllOrNothingAndTheServerStarts) {
    auto& s = server();
    constexpr int kOrganizations = 20, kUsersEach = 200;
    auto file = writeImportFile(s.dataDir(), kOrganizations, kUsersEach);
    std::mt19937 random(std::random_device{}());
    // Each round kills the import at a random moment of its write transaction (or, when that is
    // over too quickly, at a random moment of the whole run); afterwards the database holds the
    // whole file or none of it.
    int killedWhileWriting = 0;
    for (int round = 0; round < 4; ++round) {
        auto pid = startImport(s, file);
        bool writing = false;
        auto started = std::chrono::steady_clock::now();
        while (!writing && ::waitpid(pid, nullptr, WNOHANG) == 0 &&
               std::chrono::steady_clock::now() - started < std::chrono::seconds(60)) {
            writing = importIsWriting(s, GetParam());
            if (!writing)
                std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        // Well within the write transaction (4,000 users take a few hundred milliseconds to write).
        auto delay = std::uniform_int_distribution<int>(0, 60)(random);
        std::this_thread::sleep_for(std::chrono::milliseconds(delay));
        ::kill(pid, SIGKILL);
        int code = waitFor(pid);
        auto users = generatedUsers(s), organizations = generatedOrganizations(s);
        SCOPED_TRACE("round " + std::to_string(round) + ": killed " + std::to_string(delay) + " ms after " +
                     (writing ? "its write transaction began" : "it ended") + ", exit " +
                     std::to_string(code));
        EXPECT_TRUE((users == 0 && organizations == 0) ||
                    (users == kOrganizations * kUsersEach && organizations == kOrganizations))
            << users << " users and " << organizations << " organizations after the kill";
        if (writing && code == -1 && users == 0)
            ++killedWhileWriting;
        if (users != 0)
            break;
    }
    // At least one kill cut a write transaction short (else the test proved nothing).
    EXPECT_GE(killedWhileWriting, 1);
    // The database is usable: this server still writes, and a new server starts on it.
    EXPECT_EQ(s.post("/organization", json({{"name", std::string("After")}}), s.rootToken()).status, 201);
    EXPECT_NO_THROW(s.startAnotherKernel());
    // And the import can be run to completion afterwards.
    EXPECT_EQ(waitFor(startImport(s, file)), 0);
    EXPECT_EQ(generatedUsers(s), kOrganizations * kUsersEach);
}

DQ_ON_BOTH_DATABASES(ImportNextToServer);

/// `vserver import FILE` on the server's configuration and database; its exit code and output.
struct ImportRun {
    int code = -1;
    std::string output;
};
ImportRun runImport(TestServer& s, const std::string& file) {
    std::string command = std::string("'") + DQ_VSERVER + "' import '" + file + "' --config '" + s.configFile() +
                          "' --data-dir '" + s.dataDir() + "' 2>&1";
    ImportRun run;
    FILE* pipe = ::popen(command.c_str(), "r");
    char buffer[4096];
    while (auto n = std::fread(buffer, 1, sizeof buffer, pipe))
        run.output.append(buffer, n);
    int status = ::pclose(pipe);
    run.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return run;
}

long long rows(TestServer& s, const std::string& sql) {
    long long n = -1;
    s.transaction([&](sdk::Store& store) { n = store.query(sql).rows.at(0).at(0).convert<long long>(); });
    return n;
}

// The shape of the batch-import example of vantage6's documentation, unchanged: `address2:` without
// a value, `public_key` given for some organizations and not for others, users with only a username
// and a password, and one collaboration listing the same image twice.
const char* kVantage6StyleFile = R"(organizations:

  - name:       Alder Institute
    domain:     alder.example
    address1:   Canal Street 8
    address2:
    zipcode:    3511AB
    country:    Netherlands
    users:
      - username: admin-alder
        password: password
      - username: kim@alder.example
        password: password
    public_key: PUBLIC_KEY

  - name:       Birch Clinic
    domain:     birch.example
    address1:   Forest Lane 2
    address2:
    zipcode:    1234CD
    country:    Belgium
    users:
      - username: admin@birch.example
        password: password
    public_key: PUBLIC_KEY

  - name:       Cedar Lab
    domain:     cedar.example
    address1:   Hill Road 40
    address2:
    zipcode:    54331
    country:    Germany
    users:
      - username: admin@cedar.example
        password: password

collaborations:

  - name: RIVER
    participants:
      - name: Alder Institute
        api_key: 123e4567-e89b-12d3-a456-426614174101
      - name: Birch Clinic
        api_key: 123e4567-e89b-12d3-a456-426614174102
      - name: Cedar Lab
        api_key: 123e4567-e89b-12d3-a456-426614174103
    tasks: ["hello-world"]
    encrypted: false

  - name: DELTA
    participants:
      - name: Birch Clinic
        api_key: 123e4567-e89b-12d3-a456-426614174104
      - name: Cedar Lab
        api_key: 123e4567-e89b-12d3-a456-426614174105
    tasks: ["hello-world", "hello-world"]
    encrypted: false
)";

class ImportFile : public BothDatabases {};

TEST_P(ImportFile, Vantage6FileImportsUnchangedTheSameImageTwiceMakesTwoTasksAndAgainAddsNothing) {
    auto& s = server();
    std::string text = kVantage6StyleFile;
    const std::string key = "LS0tLS1CRUdJTiBQVUJMSUMgS0VZLS0tLS0KTUlJQ0lqQU5CZ2txaGtpRzl3MEJBUUVGQUFPQ0FnOEFNSUlDQ2dLQ0FnRUF2QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQQotLS0tLUVORCBQVUJMSUMgS0VZLS0tLS0K";
    for (auto at = text.find("PUBLIC_KEY"); at != std::string::npos; at = text.find("PUBLIC_KEY"))
        text.replace(at, 10, key);
    const std::string file = s.dataDir() + "/batch_import.yaml";
    std::ofstream(file) << text;

    auto first = runImport(s, file);
    ASSERT_EQ(first.code, 0) << first.output;
    EXPECT_NE(first.output.find("tasks          3 created, 0 updated, 0 unchanged"), std::string::npos)
        << first.output;
    const std::string delta = "(SELECT id FROM collaboration WHERE name = 'DELTA')";
    EXPECT_EQ(rows(s, "SELECT COUNT(*) FROM task WHERE image = 'hello-world' AND collaboration_id = " + delta), 2);
    EXPECT_EQ(rows(s, "SELECT COUNT(*) FROM result WHERE task_id IN (SELECT id FROM task WHERE collaboration_id = " +
                          delta + ")"),
              4);
    EXPECT_EQ(rows(s, "SELECT COUNT(DISTINCT run_id) FROM task"), 3);
    EXPECT_EQ(rows(s, "SELECT COUNT(*) FROM organization WHERE public_key = '" + key + "'"), 2);
    EXPECT_EQ(rows(s, "SELECT COUNT(*) FROM organization WHERE name = 'Cedar Lab' AND public_key = '' "
                      "AND address2 = ''"),
              1);
    EXPECT_FALSE(s.login("kim@alder.example", "password").empty());
    EXPECT_EQ(s.post("/token/node", json({{"api_key", std::string("123e4567-e89b-12d3-a456-426614174105")}})).status,
              200);

    auto again = runImport(s, file);
    ASSERT_EQ(again.code, 0) << again.output;
    for (const auto* line : {"organizations  0 created, 0 updated, 3 unchanged",
                             "users          0 created, 0 updated, 4 unchanged",
                             "collaborations 0 created, 0 updated, 2 unchanged",
                             "nodes          0 created, 0 updated, 5 unchanged",
                             "tasks          0 created, 0 updated, 3 unchanged"})
        EXPECT_NE(again.output.find(line), std::string::npos) << line << " in\n" << again.output;
    EXPECT_EQ(rows(s, "SELECT COUNT(*) FROM task"), 3);
    EXPECT_EQ(rows(s, "SELECT COUNT(*) FROM result"), 7);

    // One more "hello-world" in the file is one more task, and only that one.
    auto at = text.find(R"(tasks: ["hello-world", "hello-world"])");
    text.replace(at, std::string(R"(tasks: ["hello-world", "hello-world"])").size(),
                 R"(tasks: ["hello-world", "hello-world", "hello-world"])");
    std::ofstream(file) << text;
    auto third = runImport(s, file);
    ASSERT_EQ(third.code, 0) << third.output;
    EXPECT_NE(third.output.find("tasks          1 created, 0 updated, 3 unchanged"), std::string::npos)
        << third.output;
    EXPECT_EQ(rows(s, "SELECT COUNT(*) FROM task WHERE collaboration_id = " + delta), 3);
}

TEST_P(ImportFile, SharedExampleImportsAndAgainAddsNothing) {
    auto& s = server();
    // The example of the project's brief (fixtures/import-example.yaml), kept in the repository.
    const std::string file = std::string(DQ_SOURCE_DIR) + "/config/import-example.yaml";
    auto first = runImport(s, file);
    ASSERT_EQ(first.code, 0) << first.output;
    EXPECT_NE(first.output.find("tasks          3 created"), std::string::npos) << first.output;
    auto again = runImport(s, file);
    ASSERT_EQ(again.code, 0) << again.output;
    EXPECT_NE(again.output.find("tasks          0 created, 0 updated, 3 unchanged"), std::string::npos)
        << again.output;
    EXPECT_NE(again.output.find("nodes          0 created, 0 updated, 5 unchanged"), std::string::npos)
        << again.output;
}

TEST_P(ImportFile, ProblemsNameFileLineAndSectionAndNothingIsWritten) {
    auto& s = server();
    const std::string file = s.dataDir() + "/broken.yaml";
    std::ofstream(file) << "organizations:\n"
                           "  - name: Fine\n"
                           "    users:\n"
                           "      - username: nopass\n"
                           "collaborations:\n"
                           "  - name: C\n"
                           "    encrypted: sometimes\n"
                           "    tasks: hello-world\n"
                           "    colour: blue\n";
    auto r = runImport(s, file);
    EXPECT_EQ(r.code, 1);
    for (const auto* problem : {"broken.yaml: organizations[0].users[0].password: required (line 4)",
                                "broken.yaml: collaborations[0].encrypted: expected true or false, got \"sometimes\" (line 7)",
                                "broken.yaml: collaborations[0].tasks: expected a list of image names (line 8)",
                                "broken.yaml: collaborations[0].colour: unknown key (expected one of: name, encrypted, "
                                "participants, tasks) (line 9)"})
        EXPECT_NE(r.output.find(problem), std::string::npos) << problem << " in\n" << r.output;
    EXPECT_EQ(rows(s, "SELECT COUNT(*) FROM organization WHERE name = 'Fine'"), 0);
}

DQ_ON_BOTH_DATABASES(ImportFile);

} // namespace
} // namespace dq::test
