#include "kernel/http/api_docs.h"

#include <Poco/File.h>
#include <Poco/FileStream.h>
#include <Poco/JSON/Stringifier.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>
#include <map>
#include <sstream>

namespace dq::kernel {

namespace {

/// The files of Swagger UI that the page loads, and their types. Nothing else is served from the
/// folder, so no request can reach another file.
const std::map<std::string, std::string> kAssets = {
    {"swagger-ui.css", "text/css; charset=UTF-8"},
    {"swagger-ui-bundle.js", "application/javascript; charset=UTF-8"},
    {"swagger-ui-standalone-preset.js", "application/javascript; charset=UTF-8"},
    {"favicon-32x32.png", "image/png"},
    {"favicon-16x16.png", "image/png"},
};

/// The page: relative URLs, so it works behind a proxy that adds a prefix. validatorUrl: null keeps
/// Swagger UI from asking the public validator about the document (no internet at run time).
const char* const kIndex = R"(<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="UTF-8">
  <title>dataquality-server API</title>
  <link rel="stylesheet" type="text/css" href="swagger-ui.css">
  <link rel="icon" type="image/png" href="favicon-32x32.png" sizes="32x32">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="swagger-ui-bundle.js"></script>
  <script src="swagger-ui-standalone-preset.js"></script>
  <script>
    window.onload = function () {
      window.ui = SwaggerUIBundle({
        url: "../apispec_1.json",
        dom_id: "#swagger-ui",
        deepLinking: true,
        validatorUrl: null,
        presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
        plugins: [SwaggerUIBundle.plugins.DownloadUrl],
        layout: "StandaloneLayout"
      });
    };
  </script>
</body>
</html>
)";

std::string jsonMessage(const std::string& text) {
    Poco::JSON::Object body;
    body.set("msg", text);
    std::ostringstream out;
    Poco::JSON::Stringifier::condense(body, out);
    return out.str();
}

} // namespace

ApiDocs::ApiDocs(const Poco::JSON::Object::Ptr& document, std::string swaggerUiFolder, CorsPolicy cors)
    : folder_(std::move(swaggerUiFolder)), cors_(std::move(cors)) {
    std::ostringstream out;
    Poco::JSON::Stringifier::condense(document, out);
    document_ = out.str();
}

std::string ApiDocs::missingAssets() const {
    for (const char* name : {"swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css"}) {
        auto path = folder_ + "/" + name;
        if (!Poco::File(path).exists())
            return "Swagger UI is not installed: " + path +
                   " is missing. Install the Debian package python3-flasgger, or set swagger_ui_folder to a "
                   "folder with Swagger UI's files (e.g. node_modules/swagger-ui-dist of the npm package "
                   "swagger-ui-dist). "
                   "The API description itself is served at /apispec_1.json.";
    }
    return "";
}

bool ApiDocs::handle(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) const {
    const auto path = Poco::URI(request.getURI()).getPath();
    const bool spec = path == "/apispec_1.json";
    const bool page = path == "/apidocs/" || path == "/apidocs/index.html";
    const std::string prefix = "/apidocs/";
    const auto asset = path.compare(0, prefix.size(), prefix) == 0 ? kAssets.find(path.substr(prefix.size()))
                                                                   : kAssets.end();
    if (!spec && !page && asset == kAssets.end() && path != "/apidocs")
        return false;

    auto send = [&](Poco::Net::HTTPResponse::HTTPStatus status, const std::string& type,
                    const std::string& body) {
        response.setStatusAndReason(status);
        response.setContentType(type);
        for (const auto& [name, value] : cors_.forRequest(request))
            response.set(name, value);
        response.setContentLength(static_cast<std::streamsize>(body.size()));
        if (request.getMethod() == "HEAD")
            response.send();
        else
            response.sendBuffer(body.data(), body.size());
    };

    if (request.getMethod() == "OPTIONS") {
        send(Poco::Net::HTTPResponse::HTTP_OK, "text/plain; charset=UTF-8", "");
        return true;
    }
    if (request.getMethod() != "GET" && request.getMethod() != "HEAD") {
        response.set("Allow", "GET, HEAD");
        send(Poco::Net::HTTPResponse::HTTP_METHOD_NOT_ALLOWED, "application/json",
             jsonMessage("The method " + request.getMethod() + " is not allowed for " + path +
                         "; allowed: GET"));
        return true;
    }
    if (spec) {
        send(Poco::Net::HTTPResponse::HTTP_OK, "application/json", document_);
        return true;
    }
    if (path == "/apidocs") {
        response.set("Location", "apidocs/");
        send(Poco::Net::HTTPResponse::HTTP_MOVED_PERMANENTLY, "text/plain; charset=UTF-8", "");
        return true;
    }
    if (auto missing = missingAssets(); !missing.empty()) {
        send(Poco::Net::HTTPResponse::HTTP_NOT_FOUND, "application/json", jsonMessage(missing));
        return true;
    }
    if (page) {
        send(Poco::Net::HTTPResponse::HTTP_OK, "text/html; charset=UTF-8", kIndex);
        return true;
    }
    std::string body;
    try {
        Poco::FileInputStream in(folder_ + "/" + asset->first);
        Poco::StreamCopier::copyToString(in, body);
    } catch (const Poco::Exception&) {
        send(Poco::Net::HTTPResponse::HTTP_NOT_FOUND, "application/json",
             jsonMessage("Swagger UI's file " + folder_ + "/" + asset->first + " cannot be read"));
        return true;
    }
    response.set("Cache-Control", "public, max-age=3600");
    send(Poco::Net::HTTPResponse::HTTP_OK, asset->second, body);
    return true;
}

} // namespace dq::kernel
