// The event channel: a Socket.IO v5 / Engine.IO v4 endpoint (`/socket.io/`, namespace `/tasks`)
// through which nodes and UIs hear about bus events at once, as vantage6's websockets do.
#pragma once

#include "kernel/auth/token_service.h"
#include "kernel/events/event_bus.h"

#include <cstddef>
#include <dq/sdk/services.h>
#include <functional>
#include <map>
#include <memory>
#include <string>

namespace Poco::Net {
class HTTPServerRequest;
class HTTPServerResponse;
} // namespace Poco::Net

namespace dq::kernel {

struct EventChannelSettings {
    std::string path = "/socket.io/";
    int pingIntervalMs = 25000;
    int pingTimeoutMs = 20000;
    /// Largest Engine.IO payload (polling body or WebSocket message) a client may send.
    std::size_t maxPayload = 1000000;
    /// Engine.IO sessions that have not joined `/tasks` by then are closed.
    int connectTimeoutMs = 45000;
    /// Beyond this many sessions new handshakes get 503.
    std::size_t maxSessions = 20000;
    /// A client that does not read its WebSocket gets disconnected past this many unsent bytes.
    std::size_t maxUnsentBytes = 4 * 1024 * 1024;
    /// This process's name in `dq_presence` (stable across restarts).
    std::string process = "local";
    /// A node connection this process stops refreshing (it died) expires after this long; the node
    /// turns offline when its last connection expired. Refreshed every third of it.
    int presenceTimeoutMs = 60000;
};

/// What the channel needs from the kernel, as functions so that this library does not link to them.
struct EventChannelEnvironment {
    EventBus* bus = nullptr;
    /// Verifies a JWT; throws (sdk::Unauthorized when expired) when it is not valid.
    std::function<VerifiedToken(const std::string& token)> verify;
    /// Who a verified user or node token stands for (the kernel's IdentityResolver, as for the HTTP
    /// API); throws (sdk::Unauthorized) when the account is gone or the token was revoked.
    std::function<sdk::Identity(const VerifiedToken& token)> identify;
    /// Runs work in one database transaction.
    std::function<void(const std::function<void(sdk::Store&)>&)> transaction;
    /// A service a plugin provides ("identity.node", "rules", ...), or nullptr.
    std::function<std::shared_ptr<sdk::Service>(const std::string& name)> service;
    /// Whether HTTP connections wait for a worker thread; a long poll then answers at once instead
    /// of holding its worker. Unset: never.
    std::function<bool()> workersScarce;
    /// The CORS headers of the answer to this request, a preflight's included (the API's policy,
    /// `cors_allowed_origins`). Unset: every origin.
    std::function<std::map<std::string, std::string>(const Poco::Net::HTTPServerRequest& request)> cors;
};

class EventChannel {
public:
    EventChannel(EventChannelEnvironment env, EventChannelSettings settings = {});
    ~EventChannel();
    EventChannel(const EventChannel&) = delete;
    EventChannel& operator=(const EventChannel&) = delete;

    /// Subscribes to the bus and starts the WebSocket thread and the worker thread (which also
    /// refreshes this process's node presence and expires other processes' stale ones).
    void start();
    /// Closes every connection, releases waiting polls and joins the threads. Idempotent.
    void stop();

    /// The ApiEnvironment::outsideApi hook: serves requests below settings.path (returns true),
    /// leaves everything else alone (returns false). Takes WebSocket connections over.
    bool handle(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response);

    /// Open Engine.IO sessions and sessions joined to `/tasks` (for tests and the log).
    std::size_t sessions() const;
    std::size_t connectedSockets() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace dq::kernel
