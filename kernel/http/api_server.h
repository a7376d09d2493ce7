// The HTTP API: Poco HTTPServer (thread pool, keep-alive) in front of the router. One place turns
// requests into handler calls (auth, transaction, events) and errors into {"msg": ...}.
#pragma once

#include "kernel/auth/identity_resolver.h"
#include "kernel/auth/token_service.h"
#include "kernel/catalog/catalog.h"
#include "kernel/db/database.h"
#include "kernel/http/admission.h"
#include "kernel/http/cors.h"
#include "kernel/http/forwarded.h"
#include "kernel/http/list_memo.h"
#include "kernel/http/router.h"
#include "kernel/http/serializer.h"
#include "kernel/http/touch_throttle.h"

#include <atomic>
#include <chrono>
#include <optional>
#include <cstdint>
#include <dq/sdk/services.h>
#include <functional>
#include <memory>
#include <set>
#include <shared_mutex>
#include <string>

namespace Poco::Net {
class HTTPServerRequest;
class HTTPServerResponse;
} // namespace Poco::Net

namespace dq::kernel {

struct ApiEnvironment {
    const Catalog* catalog = nullptr;
    Database* database = nullptr;
    TokenService* tokens = nullptr;
    /// Who a token stands for (the same step as the event channel's).
    IdentityResolver* identities = nullptr;
    /// The Services of the plugin that owns a route (handlers get their own plugin's services).
    std::function<sdk::Services&(const std::string& plugin)> servicesOf;
    std::string apiPath = "/api";
    std::size_t maxBodyBytes = 1024 * 1024;
    /// Which origins browsers may call the API from (`cors_allowed_origins`).
    CorsPolicy cors;
    /// Reverse proxies whose X-Forwarded-For names the client (`trusted_proxies`).
    TrustedProxies proxies;
    /// Requests outside api_path (the event channel's /socket.io/) go here first; it returns
    /// false when the request is not its own. It may take the connection over (WebSocket).
    std::function<bool(Poco::Net::HTTPServerRequest&, Poco::Net::HTTPServerResponse&)> outsideApi;
    /// `list_cache_mb`: the most the list answers kept while the database is unchanged may take
    /// (ListMemo); 0 keeps none.
    std::size_t listCacheBytes = 0;
};

struct ListenSettings {
    std::string ip = "127.0.0.1";
    int port = 5000; ///< 0: the OS picks one (tests)
    int threads = 64;
};

class ApiServer {
public:
    ApiServer(ApiEnvironment env, Router router);
    ~ApiServer();

    /// Binds and starts serving; throws std::runtime_error naming the address when it cannot bind.
    void start(const ListenSettings& listen);
    /// Stops accepting, lets in-flight requests finish (up to `graceSeconds`), then closes.
    void stop(int graceSeconds = 10);
    int port() const;
    /// Whether accepted connections wait for a worker thread (all workers hold a connection).
    bool connectionsWaiting() const;
    /// Whether every worker thread is busy (or connections already wait): then /health and /version
    /// take the fast lane.
    bool workersBusy() const;

    const Router& router() const { return router_; }
    const Serializer& serializer() const { return serializer_; }

    /// The whole request path without the network (the HTTP handler calls this too).
    sdk::Response handle(sdk::Request& request);
    /// Ends worker threads idle for a while and gives free memory back to the system, when no
    /// request came in since the last call (called every ten seconds or so).
    void releaseMemoryWhenIdle();
    /// Whether the calling thread is running a request's handler (the password hasher treats such
    /// callers as impatient).
    static bool servingRequest();

private:
    class Connection;
    class ConnectionFactory;
    class FastLane;
    /// Runs the route's handler; `deadline`: what its waits (sessions, locks, hashing) may use.
    sdk::Response dispatch(sdk::Request& request, const Route& route,
                           std::chrono::steady_clock::time_point deadline);
    /// The caller of a route that needs one (anonymous otherwise); throws the 401/422/400 to answer.
    ResolvedIdentity authenticate(const sdk::Request& request, const Route& route);
    /// A GET list's answer kept in the memo for this caller and the database as it is now; nullopt
    /// when there is none (then the request takes the gate and dispatch()).
    std::optional<sdk::Response> keptAnswer(const sdk::Request& request, const Route& route,
                                            std::chrono::steady_clock::time_point until);
    /// Records that a user or node was seen (`last_seen`), at most once a minute each.
    void touchIfDue(const sdk::Identity& identity);
    /// Whether a GET of `route` may be answered from and kept in the memo: the route answered a
    /// GET with a list page before (learnListRoute).
    bool memoizes(const sdk::Request& request, const Route& route) const;
    void learnListRoute(const Route& route);

    ApiEnvironment env_;
    Router router_;
    Serializer serializer_;
    TouchThrottle touches_;
    /// How many requests run handler code at once (health and version pass by).
    Admission admission_;
    ListMemo memo_;
    mutable std::shared_mutex listRoutesMutex_;
    std::set<const Route*> listRoutes_;
    std::atomic<std::uint64_t> requestsServed_{0};
    std::uint64_t requestsAtLastTick_ = 0;
    struct Running;
    std::unique_ptr<Running> running_;
};

/// Renders an error the one way: `{"msg": ..., "errors": {...}}`.
sdk::Response errorResponse(int status, const std::string& message,
                            const std::map<std::string, std::string>& errors = {});

} // namespace dq::kernel
