// Routes below api_path: patterns with <parameters>, matched per method. Also answers which
// methods a path pattern has, for the `methods` of link objects.
#pragma once

#include <dq/sdk/plugin.h>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace dq::kernel {

struct Route {
    sdk::RouteDecl decl;
    std::string plugin; ///< "kernel" for the kernel's own routes
    /// False for kernel routes that must answer while the database is down (/version, /health):
    /// their handler gets no transaction, and a store that refuses to be used.
    bool usesDatabase = true;
};

class Router {
public:
    /// Throws std::invalid_argument for a malformed pattern.
    void add(Route route);

    struct Match {
        const Route* route = nullptr; ///< null: path known, method not allowed
        std::map<std::string, std::string> params;
        std::vector<std::string> allowedMethods; ///< of the matched path
    };
    /// nullopt: no route has this path at all (404).
    std::optional<Match> match(sdk::Method method, const std::string& path) const;

    /// Methods declared for exactly this pattern, e.g. "/organization/<id>" → GET, PATCH.
    std::vector<std::string> methodsFor(const std::string& pattern) const;
    const std::vector<Route>& routes() const { return routes_; }

private:
    std::vector<Route> routes_;
};

/// Splits "/a/b/" into {"a","b"}.
std::vector<std::string> splitPath(const std::string& path);

} // namespace dq::kernel
