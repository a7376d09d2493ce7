#include "kernel/http/cors.h"

#include <Poco/Net/HTTPRequest.h>
#include <Poco/String.h>
#include <algorithm>

namespace dq::kernel {

namespace {

/// The methods routes can have, and OPTIONS/HEAD, as flask-cors lists them.
const std::vector<std::string> kMethods = {"DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"};

} // namespace

CorsPolicy::CorsPolicy(std::vector<std::string> origins) : origins_(std::move(origins)) {
    any_ = std::find(origins_.begin(), origins_.end(), "*") != origins_.end();
}

std::map<std::string, std::string> CorsPolicy::headers(const std::string& origin) const {
    std::map<std::string, std::string> out;
    if (any_) {
        out["Access-Control-Allow-Origin"] = "*";
    } else {
        // Origins compare exactly, scheme and port included; the answer names the one allowed, and
        // Vary tells caches that another origin may get another answer.
        out["Vary"] = "Origin";
        if (origin.empty() || std::find(origins_.begin(), origins_.end(), origin) == origins_.end())
            return out;
        out["Access-Control-Allow-Origin"] = origin;
    }
    out["Access-Control-Expose-Headers"] = "total-count, Link, jwt-token";
    return out;
}

std::map<std::string, std::string> CorsPolicy::preflight(const std::string& origin, const std::string& method,
                                                         const std::string& headers) const {
    auto out = this->headers(origin);
    if (!out.count("Access-Control-Allow-Origin"))
        return out;
    out.erase("Access-Control-Expose-Headers");
    auto asked = Poco::toUpper(Poco::trim(method));
    if (!asked.empty() && std::find(kMethods.begin(), kMethods.end(), asked) != kMethods.end()) {
        out["Access-Control-Allow-Methods"] = asked;
    } else {
        std::string all;
        for (const auto& m : kMethods)
            all += (all.empty() ? "" : ", ") + m;
        out["Access-Control-Allow-Methods"] = all;
    }
    // Every header the browser asks for is allowed (flask-cors' default), echoed as asked.
    auto wanted = Poco::trim(headers);
    out["Access-Control-Allow-Headers"] = wanted.empty() ? "Authorization, Content-Type" : wanted;
    out["Access-Control-Max-Age"] = "86400";
    return out;
}

std::map<std::string, std::string> CorsPolicy::forRequest(const Poco::Net::HTTPRequest& request) const {
    const auto origin = request.get("Origin", "");
    if (request.getMethod() == Poco::Net::HTTPRequest::HTTP_OPTIONS)
        return preflight(origin, request.get("Access-Control-Request-Method", ""),
                         request.get("Access-Control-Request-Headers", ""));
    return headers(origin);
}

} // namespace dq::kernel
