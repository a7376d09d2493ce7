// The OpenAPI 3 description of the API, generated from what the loaded plugins declared: routes and
// their RouteDocs, models, filters and rules. Served at /apispec_1.json (as vantage6) and
// <api_path>/openapi.json; an out-of-tree plugin's routes appear in it like the bundled ones.
#pragma once

#include "kernel/catalog/catalog.h"
#include "kernel/http/router.h"

#include <Poco/JSON/Object.h>
#include <string>

namespace dq::kernel {

struct OpenApiInfo {
    std::string title = "dataquality-server";
    std::string version;
    std::string description;
    /// The prefix of every route, the document's server URL.
    std::string apiPath = "/api";
};

/// The OpenAPI 3.0.3 document of every route `router` serves.
Poco::JSON::Object::Ptr openApiDocument(const Catalog& catalog, const Router& router,
                                        const OpenApiInfo& info);

} // namespace dq::kernel
