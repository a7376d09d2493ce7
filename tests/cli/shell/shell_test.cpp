// `vserver shell` end to end: scripts piped into the real binary against a real SQLite file, then
// the effects checked through the HTTP API of a kernel started afterwards on the same config.
#include "kernel/app/kernel.h"

#include <Poco/File.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Path.h>
#include <Poco/StreamCopier.h>
#include <Poco/TemporaryFile.h>
#include <algorithm>
#include <chrono>
#include <fstream>
#include <gtest/gtest.h>
#include <mutex>
#include <pty.h>
#include <regex>
#include <sstream>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace {

struct ShellRun {
    int status = -1;
    std::string out, err;
};

struct Http {
    int status = 0;
    std::string body;
    Poco::Dynamic::Var json;

    Poco::JSON::Object::Ptr object() const {
        if (json.type() != typeid(Poco::JSON::Object::Ptr)) {
            ADD_FAILURE() << "expected a JSON object, got " << status << ": " << body;
            return new Poco::JSON::Object;
        }
        return json.extract<Poco::JSON::Object::Ptr>();
    }
    Poco::JSON::Array::Ptr array() const {
        if (json.type() == typeid(Poco::JSON::Object::Ptr) && object()->has("data"))
            return object()->getArray("data");
        if (json.type() != typeid(Poco::JSON::Array::Ptr)) {
            ADD_FAILURE() << "expected a JSON array, got " << status << ": " << body;
            return new Poco::JSON::Array;
        }
        return json.extract<Poco::JSON::Array::Ptr>();
    }
};

/// A loopback port nobody listens on right now (the config refuses port 0).
int freePort() {
    Poco::Net::ServerSocket socket(Poco::Net::SocketAddress("127.0.0.1", 0));
    return socket.address().port();
}

std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

/// A configuration in a temporary folder; the shell and then a server run on it.
class ShellTest : public ::testing::Test {
protected:
    void SetUp() override {
        Poco::File(folder_.path()).createDirectories();
        config_ = Poco::Path(folder_.path(), "shell.yaml").toString();
        std::ofstream(config_)
            << "application:\n"
            << "  description: shell test\n"
            << "  type: test\n"
            << "  ip: 127.0.0.1\n"
            << "  port: " << freePort() << "\n"
            << "  api_path: /api\n"
            << "  uri: sqlite:///shell.sqlite\n"
            << "  jwt_secret_key: shell-test-secret\n"
            << "  bcrypt_rounds: 4\n"
            << "  logging:\n"
            << "    level: WARNING\n"
            << "    use_console: false\n"
            << "  plugins:\n"
            << "    enabled: [organizations, roles, users, collaborations, nodes, tasks]\n";
        // The database, as the server's first start makes it: the shell never creates one.
        dq::kernel::Kernel first(serverConfig(), folder_.path());
        first.load();
        first.start();
        first.shutdown();
    }

    dq::kernel::ServerConfig serverConfig() const {
        auto config = dq::kernel::ServerConfig::load(config_);
        config.plugins.folders.push_back(DQ_PLUGIN_BUILD_DIR);
        return config;
    }
    void TearDown() override {
        if (kernel_)
            kernel_->shutdown();
    }

    std::string command() const {
        return std::string("cd '") + folder_.path() + "' && HOME='" + folder_.path() + "' XDG_DATA_HOME='" +
               folder_.path() + "/xdg' '" + DQ_VSERVER + "' shell --config '" + config_ + "' --data-dir '" +
               folder_.path() + "'";
    }

    /// Pipes `script` into `vserver shell`.
    ShellRun shell(const std::string& script, const std::string& extra = "") {
        auto scriptFile = Poco::Path(folder_.path(), "script" + std::to_string(++runs_) + ".py").toString();
        std::ofstream(scriptFile) << script;
        return runShell(" " + extra + " < '" + scriptFile + "'");
    }

    ShellRun runShell(const std::string& tail) {
        auto outFile = Poco::Path(folder_.path(), "out.txt").toString();
        auto errFile = Poco::Path(folder_.path(), "err.txt").toString();
        std::string line = command() + tail + " > '" + outFile + "' 2> '" + errFile + "'";
        int raw = std::system(line.c_str());
        ShellRun run;
        run.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
        run.out = slurp(outFile);
        run.err = slurp(errFile);
        return run;
    }

    /// Starts the server on the same configuration (after the shell has finished).
    void startServer() {
        kernel_ = std::make_unique<dq::kernel::Kernel>(serverConfig(), folder_.path());
        kernel_->load();
        kernel_->start();
        kernel_->serve();
    }

    Http http(const std::string& method, const std::string& path, const std::string& body = "",
              const std::string& token = "") {
        Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(kernel_->port()));
        session.setTimeout(Poco::Timespan(30, 0));
        Poco::Net::HTTPRequest request(method, "/api" + path, Poco::Net::HTTPMessage::HTTP_1_1);
        if (!token.empty())
            request.set("Authorization", "Bearer " + token);
        if (!body.empty()) {
            request.setContentType("application/json");
            request.setContentLength(static_cast<std::streamsize>(body.size()));
        }
        session.sendRequest(request) << body;
        Poco::Net::HTTPResponse response;
        Http result;
        Poco::StreamCopier::copyToString(session.receiveResponse(response), result.body);
        result.status = response.getStatus();
        try {
            result.json = Poco::JSON::Parser().parse(result.body);
        } catch (const std::exception&) {
        }
        return result;
    }

    /// The server's answer once a write of another process (the shell) has reached it: through the
    /// outbox within about 100 ms, at the latest after `identity_cache_ms` (1 s by default).
    Http httpOnceSettled(int expected, const std::string& method, const std::string& path,
                         const std::string& token) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(1200);
        for (;;) {
            auto r = http(method, path, "", token);
            if (r.status == expected || std::chrono::steady_clock::now() >= deadline)
                return r;
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
    }

    std::string login(const std::string& username, const std::string& password) {
        auto r = http("POST", "/token/user",
                      R"({"username":")" + username + R"(","password":")" + password + "\"}");
        EXPECT_EQ(r.status, 200) << r.body;
        return r.status == 200 ? r.object()->getValue<std::string>("access_token") : "";
    }

    /// The value printed after "KEY=" by the script.
    static std::string printed(const ShellRun& run, const std::string& key) {
        std::smatch m;
        if (std::regex_search(run.out, m, std::regex(key + "=(.*)")))
            return m[1];
        ADD_FAILURE() << "the shell printed no " << key << "=...; stdout:\n"
                      << run.out << "\nstderr:\n"
                      << run.err;
        return "";
    }

    Poco::TemporaryFile folder_;
    std::string config_;
    std::unique_ptr<dq::kernel::Kernel> kernel_;
    int runs_ = 0;
};

const char* kCreateEverything = R"PY(
org = db.Organization(name="Shell Hospital", domain="hospital.example", country="NL")
org.save()
other = db.Organization(name="Shell Clinic")
other.save()
user = db.User(username="alice", firstname="Alice", email="alice@hospital.example", organization=org)
user.password = "Secret-password-1"
user.save()
collab = db.Collaboration(name="shell study", encrypted=False, organizations=[org])
collab.save()
collab.organizations.append(other)
collab.save()
node = db.Node(name="hospital node", organization=org, collaboration=collab)
node.api_key = "0d2b5f2e-1c1a-4c7e-9d1a-aa0000000001"
node.save()
task = db.Task(name="average", image="harbor2.vantage6.ai/demo/average", collaboration=collab,
               initiator=org, init_user=user, run_id=db.Task.next_run_id(), database="default",
               created_at="2024-01-31T12:00:00")
task.save()
for o in collab.organizations:
    db.Result(task=task, organization=o, input="x", status="pending").save()
child = db.Task(name="child", image=task.image, collaboration=collab, parent=task, initiator=org,
                run_id=task.run_id, database="default")
child.save()
print("ORG=%d" % org.id)
print("OTHER=%d" % other.id)
print("USER=%d" % user.id)
print("COLLAB=%d" % collab.id)
print("NODE=%d" % node.id)
print("TASK=%d" % task.id)
print("CHILD=%d" % child.id)
print("RESULTS=%d" % len(task.results))
print("CHILDREN=%s" % [c.id for c in task.children])
print("PASSWORD=%s" % user.password)
)PY";

TEST_F(ShellTest, EntitiesCreatedInTheShellAreVisibleThroughTheApi) {
    auto run = shell(kCreateEverything);
    ASSERT_EQ(run.status, 0) << run.out << run.err;
    EXPECT_EQ(printed(run, "RESULTS"), "2");
    EXPECT_EQ(printed(run, "PASSWORD"), "********");
    auto org = printed(run, "ORG"), other = printed(run, "OTHER"), user = printed(run, "USER");
    auto collab = printed(run, "COLLAB"), node = printed(run, "NODE"), task = printed(run, "TASK");
    auto child = printed(run, "CHILD");
    EXPECT_EQ(printed(run, "CHILDREN"), "[" + child + "]");

    startServer();
    auto root = login("root", "root");
    auto o = http("GET", "/organization/" + org, "", root);
    ASSERT_EQ(o.status, 200) << o.body;
    EXPECT_EQ(o.object()->getValue<std::string>("name"), "Shell Hospital");
    EXPECT_EQ(o.object()->getValue<std::string>("domain"), "hospital.example");

    auto u = http("GET", "/user/" + user, "", root);
    ASSERT_EQ(u.status, 200) << u.body;
    EXPECT_EQ(u.object()->getValue<std::string>("username"), "alice");
    EXPECT_FALSE(u.object()->has("password"));
    EXPECT_EQ(u.object()->getObject("organization")->getValue<std::string>("id"), org);

    auto c = http("GET", "/collaboration/" + collab, "", root);
    ASSERT_EQ(c.status, 200) << c.body;
    EXPECT_EQ(c.object()->getValue<std::string>("name"), "shell study");
    EXPECT_FALSE(c.object()->getValue<bool>("encrypted"));
    auto members = c.object()->getArray("organizations");
    ASSERT_EQ(members->size(), 2u) << c.body;
    std::set<std::string> memberIds{members->getObject(0)->getValue<std::string>("id"),
                                    members->getObject(1)->getValue<std::string>("id")};
    EXPECT_EQ(memberIds, (std::set<std::string>{org, other}));

    auto n = http("GET", "/node/" + node, "", root);
    ASSERT_EQ(n.status, 200) << n.body;
    EXPECT_EQ(n.object()->getValue<std::string>("name"), "hospital node");
    EXPECT_FALSE(n.object()->has("api_key"));

    auto t = http("GET", "/task/" + task, "", root);
    ASSERT_EQ(t.status, 200) << t.body;
    EXPECT_EQ(t.object()->getValue<std::string>("image"), "harbor2.vantage6.ai/demo/average");
    auto results = http("GET", "/task/" + task + "/result", "", root);
    ASSERT_EQ(results.status, 200) << results.body;
    EXPECT_EQ(results.array()->size(), 2u) << results.body;
    auto ch = http("GET", "/task/" + child, "", root);
    ASSERT_EQ(ch.status, 200) << ch.body;
    EXPECT_EQ(ch.object()->getObject("parent")->getValue<std::string>("id"), task) << ch.body;
}

TEST_F(ShellTest, TasksMadeInTheShellReachTheRunningServer) {
    // The server runs while the shell writes: each save's events are outbox rows the server delivers
    // (to its sockets; here to a subscriber), once each, as if the task had been made through the API.
    startServer();
    std::mutex mutex;
    std::vector<std::string> heard;
    int subscription = kernel_->events().subscribe(
        [&](const std::string& room, const std::string& event, const Poco::Dynamic::Var& payload) {
            std::lock_guard lock(mutex);
            heard.push_back(event + " " + room + " " + payload.toString());
        });
    auto run = shell(kCreateEverything);
    ASSERT_EQ(run.status, 0) << run.out << run.err;
    ASSERT_TRUE(kernel_->settleEvents());
    kernel_->events().unsubscribe(subscription);
    auto collab = "collaboration_" + printed(run, "COLLAB");
    auto task = printed(run, "TASK");
    std::lock_guard lock(mutex);
    auto count = [&](const std::string& prefix) {
        return std::count_if(heard.begin(), heard.end(),
                             [&](const std::string& h) { return h.rfind(prefix, 0) == 0; });
    };
    for (const auto& org : {printed(run, "ORG"), printed(run, "OTHER")})
        EXPECT_EQ(count("new_task " + collab + "_organization_" + org + " " + task), 1)
            << testing::PrintToString(heard);
    EXPECT_EQ(count("new_task "), 2) << testing::PrintToString(heard);
    // The task and its child.
    EXPECT_EQ(count("task_created " + collab + " "), 2) << testing::PrintToString(heard);
}

TEST_F(ShellTest, UserCreatedInTheShellLogsIn) {
    auto run = shell(R"PY(
org = db.Organization(name="Login org"); org.save()
u = db.User(username="bob", email="bob@example.org", organization=org, password="Bobs-password-1")
u.save()
u.roles.append(db.Role.get_by_name("Researcher") or db.Role.get_by_name("Root"))
u.save()
print("ROLES=%s" % [r.name for r in db.User.get_by_username("bob").roles])
)PY");
    ASSERT_EQ(run.status, 0) << run.out << run.err;
    EXPECT_NE(printed(run, "ROLES"), "[]");
    startServer();
    auto token = login("bob", "Bobs-password-1");
    EXPECT_FALSE(token.empty());
    auto wrong = http("POST", "/token/user", R"({"username":"bob","password":"wrong"})");
    EXPECT_EQ(wrong.status, 401) << wrong.body;
}

TEST_F(ShellTest, NodeCreatedInTheShellLogsInWithItsApiKey) {
    auto run = shell(R"PY(
org = db.Organization(name="Node org"); org.save()
c = db.Collaboration(name="node collab", organizations=[org]); c.save()
n = db.Node(name="n1", organization=org, collaboration=c, api_key="5b0f1d8e-2222-4c7e-9d1a-aa0000000002")
n.save()
print("KEY=%s" % db.Node.get(n.id).api_key)
)PY");
    ASSERT_EQ(run.status, 0) << run.out << run.err;
    EXPECT_EQ(printed(run, "KEY"), "********");
    startServer();
    auto r = http("POST", "/token/node", R"({"api_key":"5b0f1d8e-2222-4c7e-9d1a-aa0000000002"})");
    EXPECT_EQ(r.status, 200) << r.body;
    auto wrong = http("POST", "/token/node", R"({"api_key":"5b0f1d8e-2222-4c7e-9d1a-aa0000000003"})");
    EXPECT_NE(wrong.status, 200) << wrong.body;
}

TEST_F(ShellTest, PasswordSetInTheShellEndsTheSessionsOfTheOldOne) {
    auto made = shell(R"PY(
org = db.Organization(name="Session org"); org.save()
u = db.User(username="frank", email="frank@example.org", organization=org, password="Franks-password-1")
u.save()
u.roles.append(db.Role.get_by_name("Root")); u.save()
print("USER=%d" % u.id)
)PY");
    ASSERT_EQ(made.status, 0) << made.out << made.err;
    auto user = printed(made, "USER");
    startServer();
    auto first = http("POST", "/token/user", R"({"username":"frank","password":"Franks-password-1"})");
    ASSERT_EQ(first.status, 200) << first.body;
    auto access = first.object()->getValue<std::string>("access_token");
    auto refresh = first.object()->getValue<std::string>("refresh_token");
    ASSERT_EQ(http("GET", "/user/" + user, "", access).status, 200);

    // Other fields leave the sessions alone.
    auto renamed = shell("u = db.User.get_by_username('frank'); u.firstname = 'Frank'; u.save()\n");
    ASSERT_EQ(renamed.status, 0) << renamed.out << renamed.err;
    std::this_thread::sleep_for(std::chrono::milliseconds(1200)); // past the identity cache's bound
    EXPECT_EQ(http("GET", "/user/" + user, "", access).status, 200);

    // While the server runs, as an administrator would.
    auto changed =
        shell("u = db.User.get_by_username('frank'); u.password = 'Franks-new-password-2'; u.save()\n");
    ASSERT_EQ(changed.status, 0) << changed.out << changed.err;
    auto old = httpOnceSettled(401, "GET", "/user/" + user, access);
    EXPECT_EQ(old.status, 401) << old.body;
    auto refreshed = http("POST", "/token/refresh", "", refresh);
    EXPECT_EQ(refreshed.status, 401) << refreshed.body;
    EXPECT_EQ(http("POST", "/token/user", R"({"username":"frank","password":"Franks-password-1"})").status, 401);
    auto fresh = login("frank", "Franks-new-password-2");
    EXPECT_EQ(http("GET", "/user/" + user, "", fresh).status, 200);
}

TEST_F(ShellTest, ApiKeySetInTheShellEndsTheNodeTokensOfTheOldKey) {
    auto made = shell(R"PY(
org = db.Organization(name="Key org"); org.save()
c = db.Collaboration(name="key collab", organizations=[org]); c.save()
db.Node(name="k1", organization=org, collaboration=c, api_key="5b0f1d8e-3333-4c7e-9d1a-aa0000000001").save()
)PY");
    ASSERT_EQ(made.status, 0) << made.out << made.err;
    startServer();
    auto first = http("POST", "/token/node", R"({"api_key":"5b0f1d8e-3333-4c7e-9d1a-aa0000000001"})");
    ASSERT_EQ(first.status, 200) << first.body;
    auto token = first.object()->getValue<std::string>("access_token");
    ASSERT_EQ(http("GET", "/organization", "", token).status, 200);
    auto changed = shell(
        "n = db.Node.get_by_name('k1'); n.api_key = '5b0f1d8e-4444-4c7e-9d1a-aa0000000002'; n.save()\n");
    ASSERT_EQ(changed.status, 0) << changed.out << changed.err;
    auto old = httpOnceSettled(401, "GET", "/organization", token);
    EXPECT_EQ(old.status, 401) << old.body;
    EXPECT_EQ(http("POST", "/token/node", R"({"api_key":"5b0f1d8e-4444-4c7e-9d1a-aa0000000002"})").status, 200);
}

TEST_F(ShellTest, TakenUsernameIsRefusedWithAnErrorNamingTheFieldAndNothingChanges) {
    auto run = shell(R"PY(
org = db.Organization(name="Dup org"); org.save()
db.User(username="carol", email="carol@example.org", organization=org, password="Carols-pass-1").save()
again = db.User(username="carol", email="carol2@example.org", organization=org, password="Carols-pass-1")
try:
    again.save()
except db.Error as e:
    print("ERROR=%s" % e)
print("ID=%s" % again.id)
print("COUNT=%d" % len([u for u in db.User.get() if u.username == "carol"]))
c = db.Collaboration(name="taken"); c.save()
d = db.Collaboration(name="free"); d.save()
d.name = "taken"
d.encrypted = False
try:
    d.save()
except db.Error as e:
    print("CERROR=%s" % e)
print("STORED=%s %s" % (db.Collaboration.get(d.id).name, db.Collaboration.get(d.id).encrypted))
)PY");
    ASSERT_EQ(run.status, 0) << run.out << run.err;
    EXPECT_NE(printed(run, "ERROR").find("username"), std::string::npos) << run.out;
    EXPECT_EQ(printed(run, "ID"), "None");
    EXPECT_EQ(printed(run, "COUNT"), "1");
    EXPECT_NE(printed(run, "CERROR").find("name"), std::string::npos) << run.out;
    EXPECT_EQ(printed(run, "STORED"), "free True");
}

TEST_F(ShellTest, TextBeyondItsMaximumLengthIsRefusedNamingTheField) {
    auto run = shell(R"PY(
org = db.Organization(name="n" * 129)
try:
    org.save()
except db.Error as e:
    print("ERROR=%s" % e)
print("ID=%s" % org.id)
ok = db.Organization(name="n" * 128); ok.save()
print("SAVED=%d" % len(db.Organization.get(ok.id).name))
)PY");
    ASSERT_EQ(run.status, 0) << run.out << run.err;
    EXPECT_NE(printed(run, "ERROR").find("name has 129 characters, at most 128"), std::string::npos) << run.out;
    EXPECT_EQ(printed(run, "ID"), "None");
    EXPECT_EQ(printed(run, "SAVED"), "128");
}

TEST_F(ShellTest, FailedSaveRollsBackItsWholeTransaction) {
    // The row is written first, then the many-to-many list fails (a member was deleted since it was
    // read): neither the insert nor the update may remain.
    auto run = shell(R"PY(
o = db.Organization(name="gone"); o.save()
stale = db.Organization.get(o.id)
o.delete()
c = db.Collaboration(name="half done", organizations=[stale])
try:
    c.save()
except db.Error as e:
    print("ERROR=%s" % e)
print("FOUND=%s" % db.Collaboration.get_by_name("half done"))
kept = db.Collaboration(name="kept", encrypted=True); kept.save()
kept.name = "renamed"
kept.encrypted = False
kept.organizations.append(stale)
try:
    kept.save()
except db.Error as e:
    print("ERROR2=%s" % e)
again = db.Collaboration.get(kept.id)
print("KEPT=%s %s %d" % (again.name, again.encrypted, len(again.organizations)))
print("UNSAVED=%s" % kept.name)
)PY");
    ASSERT_EQ(run.status, 0) << run.out << run.err;
    EXPECT_NE(printed(run, "ERROR").find("does not exist"), std::string::npos) << run.out;
    EXPECT_EQ(printed(run, "FOUND"), "None");
    EXPECT_NE(printed(run, "ERROR2").find("does not exist"), std::string::npos) << run.out;
    EXPECT_EQ(printed(run, "KEPT"), "kept True 0");
    EXPECT_EQ(printed(run, "UNSAVED"), "renamed");
}

TEST_F(ShellTest, ReferenceToAMissingRowIsRefused) {
    auto run = shell(R"PY(
try:
    db.User(username="eve", email="eve@example.org", organization_id=424242, password="Eves-pass-1").save()
except db.Error as e:
    print("ERROR=%s" % e)
print("EVE=%s" % db.User.get_by_username("eve"))
)PY");
    ASSERT_EQ(run.status, 0) << run.out << run.err;
    EXPECT_EQ(printed(run, "ERROR"),
              "organization 424242 (user.organization) does not exist; nothing was saved");
    EXPECT_EQ(printed(run, "EVE"), "None");
}

TEST_F(ShellTest, RelationsAreAttributesBothWays) {
    auto run = shell(R"PY(
org = db.Organization(name="Rel org"); org.save()
u = db.User(username="dave", email="dave@example.org", organization=org, password="Daves-pass-1"); u.save()
c = db.Collaboration(name="rel collab", organizations=[org]); c.save()
print("USERS=%s" % [x.username for x in org.users])
print("USERORG=%s" % u.organization.name)
print("ORGCOLLABS=%s" % [x.name for x in org.collaborations])
print("COLLABORGS=%s" % [x.name for x in c.organizations])
role = db.Role(name="shell role", organization=org)
role.rules.append(db.Rule.get_by_("organization", Scope.GLOBAL, Operation.VIEW))
role.rules.append(db.Rule.get_by_("user", "ORGANIZATION", "view"))
role.save()
print("RULES=%s" % sorted("%s %s %s" % (r.name, r.scope, r.operation) for r in db.Role.get(role.id).rules))
u.roles = [role]
u.rules.append(db.Rule.get_by_("collaboration", Scope.GLOBAL, Operation.VIEW))
u.save()
again = db.User.getByUsername("dave")
print("UROLES=%s" % [r.name for r in again.roles])
print("URULES=%s" % len(again.rules))
print("ROLEUSERS=%s" % [x.username for x in role.users])
u.roles.remove(role)
u.save()
print("AFTER=%s" % [r.name for r in db.User.get(u.id).roles])
)PY");
    ASSERT_EQ(run.status, 0) << run.out << run.err;
    EXPECT_EQ(printed(run, "USERS"), "['dave']");
    EXPECT_EQ(printed(run, "USERORG"), "Rel org");
    EXPECT_EQ(printed(run, "ORGCOLLABS"), "['rel collab']");
    EXPECT_EQ(printed(run, "COLLABORGS"), "['Rel org']");
    EXPECT_EQ(printed(run, "RULES"), "['organization GLOBAL VIEW', 'user ORGANIZATION VIEW']");
    EXPECT_EQ(printed(run, "UROLES"), "['shell role']");
    EXPECT_EQ(printed(run, "URULES"), "1");
    EXPECT_EQ(printed(run, "ROLEUSERS"), "['dave']");
    EXPECT_EQ(printed(run, "AFTER"), "[]");
}

TEST_F(ShellTest, ConvertsDateTimesCompletesResultsAndNumbersRuns) {
    auto run = shell(R"PY(
import datetime
org = db.Organization(name="Time org"); org.save()
c = db.Collaboration(name="time collab", organizations=[org]); c.save()
first = db.Task.next_run_id()
t = db.Task(name="t", image="img", collaboration=c, run_id=first, created_at=datetime.datetime(2024, 2, 1, 8, 30))
t.save()
print("NEXT=%d %d" % (first, db.Task.next_run_id()))
r = db.Result(task=t, organization=org, started_at="2024-02-01T09:00:00+01:00")
r.save()
print("COMPLETE1=%s" % db.Result.get(r.id).complete)
r.finished_at = datetime.datetime(2024, 2, 1, 9, 5, tzinfo=datetime.timezone.utc)
r.save()
r = db.Result.get(r.id)
print("COMPLETE2=%s" % r.complete)
print("STARTED=%r" % r.started_at)
print("CREATED=%s" % db.Task.get(t.id).created_at.isoformat())
try:
    r.started_at = "yesterday-ish"
    r.save()
except db.Error as e:
    print("BAD=%s" % e)
print("MISSING=%s" % db.Task.get(999999))
)PY");
    ASSERT_EQ(run.status, 0) << run.out << run.err;
    EXPECT_EQ(printed(run, "NEXT"), "1 2");
    EXPECT_EQ(printed(run, "COMPLETE1"), "False");
    EXPECT_EQ(printed(run, "COMPLETE2"), "True");
    EXPECT_EQ(printed(run, "STARTED"), "datetime.datetime(2024, 2, 1, 8, 0)");
    EXPECT_EQ(printed(run, "CREATED"), "2024-02-01T08:30:00");
    EXPECT_NE(printed(run, "BAD").find("started_at"), std::string::npos);
    EXPECT_EQ(printed(run, "MISSING"), "None");
}

// vantage6's shell takes a dict as a result's input: a text field stores a dict or list as JSON text,
// reads it back as that text, and the API shows the same text. Other mismatches stay TypeErrors.
TEST_F(ShellTest, DictOrListForATextFieldIsStoredAsJsonText) {
    auto run = shell(R"PY(
import datetime
org = db.Organization(name="Json org"); org.save()
c = db.Collaboration(name="json collab", organizations=[org]); c.save()
t = db.Task(name="t", image="img", collaboration=c, run_id=db.Task.next_run_id(), database="default", initiator=org)
t.save()
r = db.Result(input={"method": "avg", "kwargs": {"column": "age"}}, organization=org, task=t,
              assigned_at=datetime.datetime.now())
r.save()
print("RESULT=%d" % r.id)
print("INPUT=%r" % db.Result.get(r.id).input)
r.log = ["line one", "line two"]
r.save()
print("LOG=%r" % db.Result.get(r.id).log)
for field, value in (("run_id", {"a": 1}), ("started_at", {"a": 1}), ("encrypted", [True])):
    target = c if field == "encrypted" else (t if field == "run_id" else r)
    try:
        setattr(target, field, value)
        print("ACCEPTED=%s" % field)
    except TypeError as e:
        print("REFUSED_%s=%s" % (field, e))
)PY");
    ASSERT_EQ(run.status, 0) << run.out << run.err;
    EXPECT_EQ(printed(run, "INPUT"), R"('{"method": "avg", "kwargs": {"column": "age"}}')");
    EXPECT_EQ(printed(run, "LOG"), R"('["line one", "line two"]')");
    EXPECT_EQ(run.out.find("ACCEPTED"), std::string::npos) << run.out;
    EXPECT_EQ(printed(run, "REFUSED_run_id"), "Task.run_id takes an int, not {'a': 1}");
    EXPECT_NE(printed(run, "REFUSED_started_at").find("Result.started_at takes a datetime"), std::string::npos);
    EXPECT_EQ(printed(run, "REFUSED_encrypted"), "Collaboration.encrypted takes True or False, not [True]");

    startServer();
    auto token = login("root", "root");
    auto result = http("GET", "/result/" + printed(run, "RESULT"), "", token);
    ASSERT_EQ(result.status, 200) << result.body;
    EXPECT_EQ(result.object()->getValue<std::string>("input"), R"({"method": "avg", "kwargs": {"column": "age"}})");
}

// A session in the shape of vantage6's shell documentation: every statement form it shows
// (keyword constructors with relations and lists, get/get(id)/get_by_name, relation attributes,
// rules and roles, a password and an api key given to the constructor, run ids, a dict input,
// child tasks, completed results), with real names where the documentation has placeholders.
TEST_F(ShellTest, Vantage6DocumentationSessionRuns) {
    auto run = shell(R"PY(
organization = db.Organization(
    name="Lakeside",
    domain="lakeside.example",
    address1="Shore 1",
    address2="Lakeside",
    zipcode="1111AA",
    country="Netherlands"
)
organization.save()
organizations = db.Organization.get()
organization = db.Organization.get(organization.id)
organization = db.Organization.get_by_name("Lakeside")
collaborations = organization.collaborations
users = organization.users
tasks = organization.created_tasks
results = organization.results
nodes = organization.nodes

db.Rule.get()
db.Rule.get(1)
db.Role.get()
rule = db.Rule.get_by_("node", Scope.GLOBAL, Operation.VIEW)
role = db.Role(name="node viewer", rules=[rule])
role.save()
print("ROLE_RULES=%s" % [r.name for r in db.Role.get(role.id).rules])

org = db.Organization.get_by_name("Lakeside")
new_user = db.User(
    username="lake-admin",
    password="super-secret",
    firstname="John",
    lastname="Doe",
    roles=[role],
    rules=[],
    organization=org
)
new_user.save()
user = db.User.get_by_username("lake-admin")
user.firstname = "Brandnew"
user.password = "something-new"
user.rules.append(rule)
user.save()
print("USERS=%s" % [u.username for u in db.Organization.get_by_name("Lakeside").users])

other_organization = db.Organization(name="Hillside", domain="hillside.example")
other_organization.save()
collaboration = db.Collaboration(
    name="lake study",
    encrypted=False,
    organizations=[org, other_organization]
)
collaboration.save()
collaboration = db.Collaboration.get(collaboration.id)
collaboration.nodes
collaboration.tasks
collaboration.organizations

from uuid import uuid1
collab = org.collaborations[0]
api_key = str(uuid1())
node = db.Node(
    name = f"Lakeside Node - Collaboration {collab.name}",
    organization = org,
    collaboration = collab,
    api_key = api_key
)
node.save()
print("APIKEY=%s" % api_key)

run_id = db.Task.next_run_id()
task = db.Task(
    name="some-name",
    description="some human readable description",
    image="docker-registry.org/image-name",
    collaboration=collaboration,
    run_id=run_id,
    database="default",
    initiator=org,
)
task.save()
input_ = {
}
import datetime
for member in collaboration.organizations:
    res = db.Result(
        input=input_,
        organization=member,
        task=task,
        assigned_at=datetime.datetime.now()
    )
    res.save()
parent_task = db.Task.get(task.id)
child_task = db.Task(
    name="some-name",
    description="some human readable description",
    image="docker-registry.org/image-name",
    collaboration=collaboration,
    run_id=parent_task.run_id,
    database="default",
    initiator=org,
    parent=parent_task
)
child_task.save()
db.Result.get()
print("COMPLETE=%d" % len([result for result in db.Result.get() if result.complete]))
print("RESULT=%d" % db.Result.get()[0].id)
print("CHILDREN=%s" % [t.name for t in parent_task.children])
)PY");
    ASSERT_EQ(run.status, 0) << run.out << run.err;
    EXPECT_EQ(printed(run, "ROLE_RULES"), "['node']");
    EXPECT_EQ(printed(run, "USERS"), "['lake-admin']");
    EXPECT_EQ(printed(run, "COMPLETE"), "0");
    EXPECT_EQ(printed(run, "CHILDREN"), "['some-name']");

    startServer();
    EXPECT_FALSE(login("lake-admin", "something-new").empty());
    auto result = http("GET", "/result/" + printed(run, "RESULT"), "", login("root", "root"));
    ASSERT_EQ(result.status, 200) << result.body;
    EXPECT_EQ(result.object()->getValue<std::string>("input"), "{}");
    auto node = http("POST", "/token/node", R"({"api_key": ")" + printed(run, "APIKEY") + R"("})");
    EXPECT_EQ(node.status, 200) << node.body;
}

TEST_F(ShellTest, GeneratesAClassPerDeclaredModel) {
    auto run = shell(R"PY(
print("CLASSES=%s" % sorted(n for n in dir(db) if n[:1].isupper() and n not in ("Error", "Scope", "Operation")))
db.Organization.help()
)PY");
    ASSERT_EQ(run.status, 0) << run.out << run.err;
    EXPECT_EQ(printed(run, "CLASSES"),
              "['AlgorithmPort', 'Algorithmport', 'Collaboration', 'Node', 'NodeConfig', 'Nodeconfig', "
              "'Organization', 'RecoveryThrottle', 'Result', 'Role', 'Rule', 'Task', 'User']");
    EXPECT_NE(run.out.find("collaborations"), std::string::npos) << run.out;
    EXPECT_NE(run.out.find("users"), std::string::npos) << run.out;
}

TEST_F(ShellTest, ScriptStopsAtItsFirstErrorWithExitStatusOne) {
    auto run = shell("print('before')\ndb.Organization(nonsense=1)\nprint('after')\n");
    EXPECT_EQ(run.status, 1);
    EXPECT_NE(run.out.find("before"), std::string::npos);
    EXPECT_EQ(run.out.find("after"), std::string::npos);
    EXPECT_NE(run.err.find("Organization has no attribute 'nonsense'"), std::string::npos) << run.err;
    EXPECT_EQ(run.err.find("dataquality shell"), std::string::npos) << "internal frames shown:\n" << run.err;
}

TEST_F(ShellTest, RunsACommandFile) {
    auto file = Poco::Path(folder_.path(), "commands.py").toString();
    std::ofstream(file)
        << "db.Organization(name='from file').save()\n"
           "print('N=%d' % len([o for o in db.Organization.get() if o.name == 'from file']))\n";
    auto run = runShell(" -c '" + file + "' < /dev/null");
    ASSERT_EQ(run.status, 0) << run.err;
    EXPECT_EQ(printed(run, "N"), "1");
    auto again = runShell(" --command-file '" + file + "' < /dev/null");
    EXPECT_EQ(printed(again, "N"), "2");
    auto missing = runShell(" -c '" + folder_.path() + "/nope.py' < /dev/null");
    EXPECT_EQ(missing.status, 2);
    EXPECT_NE(missing.err.find("nope.py does not exist"), std::string::npos) << missing.err;
}

/// The prompt on a terminal: a bad statement prints its exception and the prompt stays.
TEST_F(ShellTest, PromptSurvivesABadStatementAndKeepsHistory) {
    int master = -1;
    pid_t child = forkpty(&master, nullptr, nullptr, nullptr);
    ASSERT_NE(child, -1);
    if (child == 0) {
        std::string line = command();
        execl("/bin/sh", "sh", "-c", line.c_str(), static_cast<char*>(nullptr));
        _exit(127);
    }
    std::string input = "1/0\n"
                        "db.Organization(name='typed').save()\n"
                        "print('still' + 'here', db.Organization.get_by_name('typed').name)\n"
                        "exit()\n";
    if (write(master, input.data(), input.size()) != static_cast<ssize_t>(input.size()))
        ADD_FAILURE() << "could not write to the terminal";
    std::string output;
    char buffer[4096];
    for (;;) {
        ssize_t n = read(master, buffer, sizeof buffer);
        if (n <= 0)
            break; // EIO once the shell has exited
        output.append(buffer, static_cast<std::size_t>(n));
    }
    int status = 0;
    waitpid(child, &status, 0);
    close(master);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << output;
    EXPECT_NE(output.find("ZeroDivisionError"), std::string::npos) << output;
    EXPECT_NE(output.find("stillhere typed"), std::string::npos) << output;
    EXPECT_NE(output.find("database:      sqlite:///"), std::string::npos) << output;
    EXPECT_NE(output.find("db.Organization"), std::string::npos) << output;
    auto history = slurp(folder_.path() + "/xdg/dataquality/shell_history");
    EXPECT_NE(history.find("1/0"), std::string::npos) << history;
}

/// Every ```python example of docs/shell.md, in order, in one shell session.
TEST_F(ShellTest, DocumentationExamplesRun) {
    auto doc = slurp(std::string(DQ_SOURCE_DIR) + "/docs/shell.md");
    std::string script;
    std::regex block("```python\n([\\s\\S]*?)```");
    int blocks = 0;
    for (std::sregex_iterator it(doc.begin(), doc.end(), block), end; it != end; ++it, ++blocks)
        script += (*it)[1].str() + "\n";
    ASSERT_GT(blocks, 3) << "docs/shell.md has no ```python examples";
    auto run = shell(script);
    EXPECT_EQ(run.status, 0) << "stdout:\n" << run.out << "\nstderr:\n" << run.err;
}

} // namespace
