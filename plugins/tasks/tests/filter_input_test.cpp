// Filters that take ids refuse text with a 400 on both databases (PostgreSQL would fail the query).
#include "tests/support/test_server.h"

namespace {

class TaskFilterInput : public dq::test::BothDatabases {};

TEST_P(TaskFilterInput, IdFiltersRefuseTextWith400) {
    auto& s = server();
    for (const char* path : {"/result?node_id=abc", "/task?result_id=x1", "/port?task_id=seven",
                             "/port?run_id=one", "/task?collaboration_id=abc"}) {
        auto r = s.get(path, s.rootToken());
        EXPECT_EQ(r.status, 400) << path << ": " << r.body;
        EXPECT_NE(r.msg().find("expects an integer"), std::string::npos) << path << ": " << r.body;
    }
    EXPECT_EQ(s.get("/result?node_id=12345", s.rootToken()).status, 200);
}

DQ_ON_BOTH_DATABASES(TaskFilterInput);

} // namespace
