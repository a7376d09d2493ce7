// The router: any path against the route patterns of the bundled plugins, then the id parameters a
// handler reads from the match.
#include "kernel/http/router.h"
#include "oracle.h"

#include <cstdint>

using namespace dq;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const kernel::Router router = [] {
        kernel::Router r;
        for (const char* path : {"/organization", "/organization/<id>", "/organization/<id>/node", "/user/<id>",
                                 "/role/<id>/rule/<rule_id>", "/rule", "/collaboration/<id>/organization",
                                 "/token/user", "/token/node", "/task/<id>/result", "/result/<id>", "/port",
                                 "/kill/node/tasks", "/vpn/algorithm/addresses", "/version", "/"})
            for (auto method : {sdk::Method::Get, sdk::Method::Post, sdk::Method::Delete}) {
                kernel::Route route;
                route.decl.method = method;
                route.decl.path = path;
                r.add(route);
            }
        return r;
    }();
    if (size == 0)
        return 0;
    auto method = static_cast<sdk::Method>(data[0] % 5);
    std::string path(reinterpret_cast<const char*>(data) + 1, size - 1);
    auto match = router.match(method, path);
    if (!match || !match->route)
        return 0;
    sdk::Request request;
    request.pathParams = match->params;
    for (const auto& [name, value] : match->params)
        DQ_FUZZ_AS_REQUEST(request.idParam(name));
    return 0;
}
