// A small federation built over HTTP for the tasks tests: three organizations in one collaboration,
// each with a node, a fourth organization outside it, users with chosen rules, and an event recorder.
#pragma once

#include "tests/support/test_server.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <gtest/gtest.h>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

namespace dq::plugins::tasks::test {

using dq::test::HttpResult;
using dq::test::json;
using dq::test::TestServer;
using Poco::JSON::Array;
using Poco::JSON::Object;

inline long long idOf(const HttpResult& r) {
    return r.object()->getValue<long long>("id");
}

/// Items of a list response, with or without `include=metadata`.
inline Array::Ptr items(const HttpResult& r) {
    if (r.json.type() == typeid(Object::Ptr))
        return r.object()->getArray("data");
    return r.array();
}

inline std::vector<long long> idsOf(const Array::Ptr& list) {
    std::vector<long long> out;
    for (const auto& item : *list)
        out.push_back(item.extract<Object::Ptr>()->getValue<long long>("id"));
    return out;
}

/// Records every event the kernel delivers while it lives. Reading waits until everything committed
/// so far has been delivered (events reach subscribers through the outbox, after the commit).
class EventLog {
public:
    struct Entry {
        std::string room, event;
        Poco::Dynamic::Var payload;
    };
    explicit EventLog(TestServer& server) : server_(server), events_(server.events()) {
        id_ = events_.subscribe(
            [this](const std::string& room, const std::string& event, const Poco::Dynamic::Var& p) {
                std::lock_guard lock(mutex_);
                entries_.push_back({room, event, p});
            });
    }
    ~EventLog() { events_.unsubscribe(id_); }
    std::vector<Entry> named(const std::string& event) {
        server_.settleEvents();
        std::lock_guard lock(mutex_);
        std::vector<Entry> out;
        for (const auto& e : entries_)
            if (e.event == event)
                out.push_back(e);
        return out;
    }
    void clear() {
        server_.settleEvents();
        std::lock_guard lock(mutex_);
        entries_.clear();
    }

private:
    TestServer& server_;
    dq::sdk::Events& events_;
    int id_ = 0;
    std::mutex mutex_;
    std::vector<Entry> entries_;
};

using Rule = std::tuple<std::string, std::string, std::string>; ///< resource, SCOPE, OPERATION

class Federation {
public:
    explicit Federation(TestServer& server) : s(server), root(server.rootToken()) {
        for (const char* name : {"Alpha", "Beta", "Gamma", "Outsider"}) {
            auto r = s.post("/organization", json({{"name", std::string(name)}}), root);
            EXPECT_EQ(r.status, 201) << r.body;
            orgs.push_back(idOf(r));
        }
        auto members = new Array;
        for (int i = 0; i < 3; ++i)
            members->add(orgs[i]);
        auto c = s.post("/collaboration",
                        json({{"name", std::string("Study")},
                              {"organization_ids", Array::Ptr(members)},
                              {"encrypted", 0}}),
                        root);
        EXPECT_EQ(c.status, 200) << c.body;
        collaboration = idOf(c);
        for (int i = 0; i < 3; ++i) {
            auto n = s.post("/node",
                            json({{"collaboration_id", collaboration}, {"organization_id", orgs[i]}}), root);
            EXPECT_EQ(n.status, 201) << n.body;
            nodes.push_back(idOf(n));
            apiKeys.push_back(n.object()->getValue<std::string>("api_key"));
        }
    }

    std::string nodeToken(int index) {
        auto r = s.post("/token/node", json({{"api_key", apiKeys.at(index)}}));
        EXPECT_EQ(r.status, 200) << r.body;
        return r.status == 200 ? r.object()->getValue<std::string>("access_token") : "";
    }

    long long ruleId(const Rule& rule) {
        const auto& [name, scope, operation] = rule;
        auto r = s.get("/rule?name=" + name + "&scope=" + scope + "&operation=" + operation, root);
        EXPECT_EQ(r.status, 200) << r.body;
        auto list = items(r);
        EXPECT_EQ(list->size(), 1u) << "rule " << name << " " << scope << " " << operation;
        return list->size() == 1 ? idsOf(list).front() : 0;
    }

    /// A user of organization `orgIndex` (0-3) holding exactly `rules`; returns its token.
    std::string user(int orgIndex, const std::vector<Rule>& rules) {
        auto ruleIds = new Array;
        for (const auto& r : rules)
            ruleIds->add(ruleId(r));
        std::string name = "user" + std::to_string(++users_);
        auto r = s.post("/user",
                        json({{"username", name},
                              {"firstname", std::string("F")},
                              {"lastname", std::string("L")},
                              {"email", name + "@example.org"},
                              {"password", std::string("Welkom01!")},
                              {"organization_id", orgs.at(orgIndex)},
                              {"rules", Array::Ptr(ruleIds)}}),
                        root);
        EXPECT_EQ(r.status, 201) << r.body;
        userIds[name] = r.status == 201 ? idOf(r) : 0;
        return s.login(name, "Welkom01!");
    }

    Poco::JSON::Object::Ptr taskBody(const std::vector<int>& orgIndexes,
                                     const std::string& image = "hello-world") {
        auto targets = new Array;
        for (int i : orgIndexes) {
            Object::Ptr t = new Object;
            t->set("id", orgs.at(i));
            t->set("input", std::string("input-for-") + std::to_string(i));
            targets->add(t);
        }
        return json({{"collaboration_id", collaboration},
                     {"organizations", Array::Ptr(targets)},
                     {"name", std::string("average")},
                     {"image", image},
                     {"description", std::string("mean age")},
                     {"database", std::string("default")}});
    }

    /// A task for `orgIndexes`, sent by a researcher of Alpha; returns the task id.
    long long task(const std::vector<int>& orgIndexes = {0, 1}) {
        if (researcher_.empty())
            researcher_ = user(0, {{"task", "ORGANIZATION", "CREATE"}});
        auto r = s.post("/task", taskBody(orgIndexes), researcher_);
        EXPECT_EQ(r.status, 201) << r.body;
        return r.status == 201 ? idOf(r) : 0;
    }

    /// The id of the result of `task` for organization `orgIndex`.
    long long resultOf(long long task, int orgIndex) {
        auto r = s.get("/result?task_id=" + std::to_string(task) +
                           "&organization_id=" + std::to_string(orgs.at(orgIndex)),
                       root);
        EXPECT_EQ(r.status, 200) << r.body;
        auto list = items(r);
        EXPECT_EQ(list->size(), 1u) << r.body;
        return list->size() == 1 ? idsOf(list).front() : 0;
    }

    /// Finishes the result of `task` for `orgIndex` as its node would.
    void finish(long long task, int orgIndex, const std::string& finishedAt = "2024-01-01T10:00:00.000000") {
        auto r = s.patch("/result/" + std::to_string(resultOf(task, orgIndex)),
                         json({{"status", std::string("completed")},
                               {"result", std::string("out")},
                               {"finished_at", finishedAt}}),
                         nodeToken(orgIndex));
        EXPECT_EQ(r.status, 200) << r.body;
    }

    /// Marks a node online, as its socket connection would.
    void setOnline(int index) {
        s.transaction([&](dq::sdk::Store& store) {
            store.update("node", nodes.at(index), dq::sdk::Record().set("status", std::string("online")));
        });
    }

    TestServer& s;
    std::string root;
    std::vector<long long> orgs; ///< Alpha, Beta, Gamma (members), Outsider
    long long collaboration = 0;
    std::vector<long long> nodes; ///< of Alpha, Beta, Gamma
    std::vector<std::string> apiKeys;
    std::map<std::string, long long> userIds;

private:
    int users_ = 0;
    std::string researcher_;
};

} // namespace dq::plugins::tasks::test
