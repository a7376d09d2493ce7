// `/apispec_1.json` and `/apidocs/`: the OpenAPI document and Swagger UI, where vantage6 serves them
// (beside api_path, not under it). Swagger UI's files come from a package installed on the machine
// (python3-flasgger's, or swagger-ui-dist's); nothing is fetched from the internet at run time.
#pragma once

#include "kernel/http/cors.h"

#include <Poco/JSON/Object.h>
#include <string>

namespace Poco::Net {
class HTTPServerRequest;
class HTTPServerResponse;
} // namespace Poco::Net

namespace dq::kernel {

class ApiDocs {
public:
    /// `swaggerUiFolder` holds swagger-ui-bundle.js, swagger-ui-standalone-preset.js and swagger-ui.css.
    ApiDocs(const Poco::JSON::Object::Ptr& document, std::string swaggerUiFolder, CorsPolicy cors);

    /// "" when Swagger UI's files are there; else which one is missing and what to do about it.
    std::string missingAssets() const;
    /// Answers a request for the document or for Swagger UI; false for any other path.
    bool handle(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) const;

private:
    std::string document_;
    std::string folder_;
    CorsPolicy cors_;
};

} // namespace dq::kernel
