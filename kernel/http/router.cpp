// Route matching. Literal segments win over parameters, so "/token/user" never reaches a "<id>".
#include "kernel/http/router.h"

#include <algorithm>
#include <stdexcept>

namespace dq::kernel {

std::vector<std::string> splitPath(const std::string& path) {
    std::vector<std::string> parts;
    std::string current;
    for (char c : path) {
        if (c == '/') {
            if (!current.empty())
                parts.push_back(current);
            current.clear();
        } else {
            current += c;
        }
    }
    if (!current.empty())
        parts.push_back(current);
    return parts;
}

namespace {

bool isParam(const std::string& segment) {
    return segment.size() > 2 && segment.front() == '<' && segment.back() == '>';
}

/// Number of literal segments that matched, or -1.
int matchPattern(const std::vector<std::string>& pattern, const std::vector<std::string>& path,
                 std::map<std::string, std::string>* params) {
    if (pattern.size() != path.size())
        return -1;
    int literals = 0;
    for (std::size_t i = 0; i < pattern.size(); ++i) {
        if (isParam(pattern[i])) {
            if (params)
                (*params)[pattern[i].substr(1, pattern[i].size() - 2)] = path[i];
        } else if (pattern[i] == path[i]) {
            ++literals;
        } else {
            return -1;
        }
    }
    return literals;
}

} // namespace

void Router::add(Route route) {
    if (route.decl.path.empty() || route.decl.path.front() != '/')
        throw std::invalid_argument("route path '" + route.decl.path + "' must start with '/'");
    if (route.decl.path.size() > 1 && route.decl.path.back() == '/')
        throw std::invalid_argument("route path '" + route.decl.path + "' must not end with '/'");
    routes_.push_back(std::move(route));
}

std::optional<Router::Match> Router::match(sdk::Method method, const std::string& path) const {
    // vantage6 has no trailing-slash routes: "/api/user/" is a 404.
    if (path.size() > 1 && path.back() == '/')
        return std::nullopt;
    auto segments = splitPath(path);
    int bestScore = -1;
    std::string bestPattern;
    for (const auto& r : routes_) {
        int score = matchPattern(splitPath(r.decl.path), segments, nullptr);
        if (score > bestScore) {
            bestScore = score;
            bestPattern = r.decl.path;
        }
    }
    if (bestScore < 0)
        return std::nullopt;
    Match m;
    for (const auto& r : routes_) {
        if (r.decl.path != bestPattern)
            continue;
        m.allowedMethods.push_back(sdk::toString(r.decl.method));
        if (r.decl.method == method) {
            m.route = &r;
            matchPattern(splitPath(r.decl.path), segments, &m.params);
        }
    }
    return m;
}

std::vector<std::string> Router::methodsFor(const std::string& pattern) const {
    std::vector<std::string> out;
    for (const auto& r : routes_)
        if (r.decl.path == pattern)
            out.push_back(sdk::toString(r.decl.method));
    return out;
}

} // namespace dq::kernel
