// The catalog keeps what plugins say of their routes for the API description, and refuses a
// description of a route the plugin never declared.
#include "kernel/catalog/catalog.h"

#include <gtest/gtest.h>

namespace dq::kernel {
namespace {

sdk::RouteDecl route(sdk::Method method, std::string path) {
    sdk::RouteDecl r;
    r.method = method;
    r.path = std::move(path);
    r.handler = [](sdk::RequestContext&) { return sdk::Response::message("ok"); };
    return r;
}

TEST(CatalogRouteDocs, KeepsTheDescriptionOfADeclaredRoute) {
    Catalog catalog;
    auto registry = catalog.registryFor("greeter", nullptr);
    registry->route(route(sdk::Method::Post, "/greeting"));
    sdk::RouteDoc doc{sdk::Method::Post, "/greeting"};
    doc.body = {{"name", sdk::ApiField::Type::Text, true, "who to greet"}};
    registry->document(doc);
    catalog.freeze();

    EXPECT_TRUE(catalog.conflicts().empty());
    const auto* kept = catalog.routeDoc(sdk::Method::Post, "/greeting");
    ASSERT_NE(kept, nullptr);
    ASSERT_EQ(kept->body.size(), 1u);
    EXPECT_EQ(kept->body.front().name, "name");
    EXPECT_EQ(catalog.routeDoc(sdk::Method::Get, "/greeting"), nullptr);
}

TEST(CatalogRouteDocs, RefusesToDescribeARouteThePluginDoesNotDeclare) {
    Catalog catalog;
    catalog.registryFor("owner", nullptr)->route(route(sdk::Method::Get, "/thing"));
    auto other = catalog.registryFor("other", nullptr);
    other->document({sdk::Method::Get, "/thing"});
    other->document({sdk::Method::Get, "/nothing"});

    EXPECT_EQ(
        catalog.conflicts(),
        (std::vector<std::string>{
            "plugin 'other' describes route GET /thing, which it does not declare; declare the route first",
            "plugin 'other' describes route GET /nothing, which it does not declare; declare the route "
            "first"}));
    EXPECT_EQ(catalog.routeDoc(sdk::Method::Get, "/thing"), nullptr);
}

TEST(CatalogRouteDocs, ForgettingAPluginForgetsItsDescriptions) {
    Catalog catalog;
    auto registry = catalog.registryFor("optional", nullptr);
    registry->route(route(sdk::Method::Get, "/extra"));
    registry->document({sdk::Method::Get, "/extra", "described"});
    catalog.forget("optional");
    EXPECT_EQ(catalog.routeDoc(sdk::Method::Get, "/extra"), nullptr);
}

} // namespace
} // namespace dq::kernel
