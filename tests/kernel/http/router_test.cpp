// Router: parameters, literal-over-parameter precedence, 404 versus 405, methods of a pattern.
#include "kernel/http/router.h"

#include <gtest/gtest.h>

using dq::kernel::Route;
using dq::kernel::Router;
using dq::sdk::Method;

namespace {

Route route(Method m, const std::string& path) {
    Route r;
    r.decl.method = m;
    r.decl.path = path;
    r.plugin = "test";
    return r;
}

Router sample() {
    Router router;
    router.add(route(Method::Get, "/organization"));
    router.add(route(Method::Post, "/organization"));
    router.add(route(Method::Get, "/organization/<id>"));
    router.add(route(Method::Patch, "/organization/<id>"));
    router.add(route(Method::Post, "/token/<kind>"));
    router.add(route(Method::Post, "/token/user"));
    router.add(route(Method::Post, "/role/<id>/rule/<rule_id>"));
    return router;
}

TEST(Router, ExtractsPathParameters) {
    auto router = sample();
    auto m = router.match(Method::Post, "/role/4/rule/17");
    ASSERT_TRUE(m && m->route);
    EXPECT_EQ(m->params.at("id"), "4");
    EXPECT_EQ(m->params.at("rule_id"), "17");
}

TEST(Router, LiteralSegmentsWinOverParameters) {
    auto router = sample();
    auto m = router.match(Method::Post, "/token/user");
    ASSERT_TRUE(m && m->route);
    EXPECT_EQ(m->route->decl.path, "/token/user");
    EXPECT_EQ(router.match(Method::Post, "/token/node")->route->decl.path, "/token/<kind>");
}

TEST(Router, UnknownPathIsNoMatchAndWrongMethodListsAllowedOnes) {
    auto router = sample();
    EXPECT_FALSE(router.match(Method::Get, "/nothing"));
    EXPECT_FALSE(router.match(Method::Get, "/organization/1/extra"));
    auto m = router.match(Method::Delete, "/organization/3");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->route, nullptr);
    EXPECT_EQ(m->allowedMethods, (std::vector<std::string>{"GET", "PATCH"}));
}

TEST(Router, TrailingSlashIsNotTheSameRoute) {
    auto router = sample();
    EXPECT_FALSE(router.match(Method::Get, "/organization/"));
}

TEST(Router, MethodsForPatternGiveTheLinkMethods) {
    auto router = sample();
    EXPECT_EQ(router.methodsFor("/organization/<id>"), (std::vector<std::string>{"GET", "PATCH"}));
    EXPECT_TRUE(router.methodsFor("/user/<id>").empty());
}

TEST(Router, RejectsMalformedPatterns) {
    Router router;
    EXPECT_THROW(router.add(route(Method::Get, "organization")), std::invalid_argument);
    EXPECT_THROW(router.add(route(Method::Get, "/organization/")), std::invalid_argument);
}

} // namespace
