// Cross-origin requests as browsers expect them, and as vantage6 (flask-cors) answers them: the
// configured origins (`cors_allowed_origins`, default every origin), and preflights that allow the
// method and the headers the browser asks for.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace Poco::Net {
class HTTPRequest;
} // namespace Poco::Net

namespace dq::kernel {

class CorsPolicy {
public:
    /// `origins`: exact origins ("https://ui.example.org"), or "*" for every origin.
    explicit CorsPolicy(std::vector<std::string> origins = {"*"});

    /// The CORS headers of an answer to a request that came with `origin` (its Origin header, ""
    /// when it had none). None when the origin is not allowed: the browser then refuses the answer.
    std::map<std::string, std::string> headers(const std::string& origin) const;
    /// The headers of an answer to a preflight (OPTIONS) that asks, in Access-Control-Request-Method
    /// and -Headers, for `method` and `headers` (either may be "").
    std::map<std::string, std::string> preflight(const std::string& origin, const std::string& method,
                                                 const std::string& headers) const;

    /// headers() or, for an OPTIONS request, preflight(), from the request's own headers.
    std::map<std::string, std::string> forRequest(const Poco::Net::HTTPRequest& request) const;

    const std::vector<std::string>& origins() const { return origins_; }

private:
    bool any_ = false;
    std::vector<std::string> origins_;
};

} // namespace dq::kernel
