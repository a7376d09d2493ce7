// The request path: HTTP → router → auth → transaction → handler → JSON, and the one place where
// errors become {"msg": ...}. An unexpected exception is a 500 whose details go to the log only.
#include "kernel/http/api_server.h"

#include "kernel/http/api_context.h"
#include "kernel/http/content_encoding.h"
#include "kernel/http/json_text.h"

#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>
#include <Poco/Logger.h>
#include <Poco/Net/HTTPBufferAllocator.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Net/TCPServer.h>
#include <Poco/Stopwatch.h>
#include <Poco/StreamCopier.h>
#include <Poco/String.h>
#include <Poco/Thread.h>
#include <Poco/ThreadPool.h>
#include <Poco/URI.h>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <limits>
#include <malloc.h>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

namespace dq::kernel {

namespace {

Poco::Logger& accessLog() {
    return Poco::Logger::get("access");
}
Poco::Logger& serverLog() {
    return Poco::Logger::get("http");
}

std::optional<sdk::Method> parseMethod(const std::string& m) {
    for (auto method :
         {sdk::Method::Get, sdk::Method::Post, sdk::Method::Put, sdk::Method::Patch, sdk::Method::Delete})
        if (sdk::toString(method) == m)
            return method;
    return std::nullopt;
}

thread_local bool inRequest = false;

std::string joinMethods(const std::vector<std::string>& methods) {
    std::string out;
    for (const auto& m : methods)
        out += (out.empty() ? "" : ", ") + m;
    return out;
}

/// The response's body as text: RawJson and kept bodies as they are, objects and arrays condensed
/// into `rendered`.
const std::string& bodyText(const sdk::Response& response, std::string& rendered) {
    if (response.body.type() == typeid(sdk::RawJson))
        return response.body.extract<sdk::RawJson>().text;
    if (const auto* kept = keptBodyOf(response))
        return kept->json();
    if (!response.body.isEmpty())
        appendJson(rendered, response.body);
    return rendered;
}

} // namespace

sdk::Response errorResponse(int status, const std::string& message,
                            const std::map<std::string, std::string>& errors) {
    Poco::JSON::Object::Ptr body = new Poco::JSON::Object;
    body->set("msg", message);
    if (!errors.empty()) {
        Poco::JSON::Object::Ptr e = new Poco::JSON::Object;
        for (const auto& [field, reason] : errors)
            e->set(field, reason);
        body->set("errors", e);
    }
    auto response = sdk::Response::json(body, status);
    // Every 503 is temporary (busy database, full password queue, throttle): say when to retry.
    if (status == 503)
        response.headers["Retry-After"] = "2";
    return response;
}

// ---- The Poco side ----

/// `GET /health` and `GET /version` beside the worker pool. When every worker is busy, the acceptor
/// peeks at each new connection's first bytes; one that asks for these two is handed to a thread
/// of its own instead of queueing behind the others, so a load balancer's health check is answered
/// at once however busy the server is.
class ApiServer::FastLane : public Poco::Net::TCPServerConnectionFilter {
public:
    explicit FastLane(ApiServer& api) : api_(api), thread_([this] { serve(); }) {}
    ~FastLane() override { stop(); }

    void stop() {
        {
            std::lock_guard lock(mutex_);
            if (stopping_)
                return;
            stopping_ = true;
        }
        wake_.notify_all();
        if (thread_.joinable())
            thread_.join();
    }

    bool accept(const Poco::Net::StreamSocket& socket) override {
        if (!api_.workersBusy())
            return true;
        char head[64];
        int n = 0;
        try {
            auto& s = const_cast<Poco::Net::StreamSocket&>(socket);
            // Clients send the request right after connecting; wait a little for it (the acceptor
            // waits only while every worker is busy anyway).
            if (s.available() <= 0 && !s.poll(Poco::Timespan(0, 5000), Poco::Net::Socket::SELECT_READ))
                return true;
            n = s.receiveBytes(head, sizeof head, MSG_PEEK);
        } catch (const Poco::Exception&) {
            return true;
        }
        std::string start(head, static_cast<std::size_t>(std::max(n, 0)));
        const auto& api = api_.env_.apiPath;
        bool quick = false;
        for (const char* path : {"/health", "/version"}) {
            auto target = "GET " + api + path;
            if (start.size() > target.size() && start.compare(0, target.size(), target) == 0 &&
                (start[target.size()] == ' ' || start[target.size()] == '?'))
                quick = true;
        }
        if (!quick)
            return true;
        std::lock_guard lock(mutex_);
        if (waiting_.size() >= 64)
            return true;
        // A copy keeps the connection open after Poco drops its own.
        waiting_.push_back(socket);
        wake_.notify_one();
        return false;
    }

private:
    void serve() {
        for (;;) {
            Poco::Net::StreamSocket socket;
            {
                std::unique_lock lock(mutex_);
                if (!wake_.wait_for(lock, std::chrono::seconds(10),
                                    [&] { return stopping_ || !waiting_.empty(); })) {
                    lock.unlock();
                    api_.releaseMemoryWhenIdle();
                    continue;
                }
                if (stopping_)
                    return;
                socket = waiting_.front();
                waiting_.pop_front();
            }
            try {
                answer(socket);
            } catch (const std::exception& e) {
                serverLog().debug("fast lane: %s", std::string(e.what()));
            }
            try {
                socket.close();
            } catch (...) {
            }
        }
    }

    void answer(Poco::Net::StreamSocket& socket) {
        socket.setReceiveTimeout(Poco::Timespan(1, 0));
        std::string head;
        char buffer[1024];
        while (head.find("\r\n\r\n") == std::string::npos && head.size() < 8192) {
            int n = socket.receiveBytes(buffer, sizeof buffer);
            if (n <= 0)
                return;
            head.append(buffer, static_cast<std::size_t>(n));
        }
        auto lineEnd = head.find("\r\n");
        auto firstSpace = head.find(' ');
        auto secondSpace = head.find(' ', firstSpace + 1);
        if (lineEnd == std::string::npos || secondSpace == std::string::npos || secondSpace > lineEnd)
            return;
        Poco::Stopwatch watch;
        watch.start();
        sdk::Request request;
        request.method = sdk::Method::Get;
        Poco::URI uri(head.substr(firstSpace + 1, secondSpace - firstSpace - 1));
        request.fullPath = uri.getPath();
        request.clientAddress = socket.peerAddress().host().toString();
        auto response = api_.handle(request);
        std::string rendered;
        const auto& body = bodyText(response, rendered);
        std::ostringstream out;
        out << "HTTP/1.1 " << response.status << " "
            << Poco::Net::HTTPResponse::getReasonForStatus(
                   static_cast<Poco::Net::HTTPResponse::HTTPStatus>(response.status))
            << "\r\nContent-Type: application/json\r\nContent-Length: " << body.size()
            << "\r\nConnection: close\r\n";
        for (const auto& [name, value] :
             api_.env_.cors.headers(originOf(head.substr(0, head.find("\r\n\r\n")))))
            out << name << ": " << value << "\r\n";
        for (const auto& [name, value] : response.headers)
            out << name << ": " << value << "\r\n";
        out << "\r\n" << body;
        auto text = out.str();
        socket.sendBytes(text.data(), static_cast<int>(text.size()));
        accessLog().information("%s GET %s %d %z %Ldms (fast lane)", request.clientAddress, uri.toString(),
                                response.status, body.size(),
                                static_cast<Poco::Int64>(watch.elapsed() / 1000));
    }

    /// The Origin header of a request head (names are case-insensitive), or "".
    static std::string originOf(const std::string& head) {
        std::istringstream lines(head);
        std::string line;
        while (std::getline(lines, line)) {
            auto colon = line.find(':');
            if (colon != std::string::npos && Poco::icompare(line.substr(0, colon), "origin") == 0)
                return Poco::trim(line.substr(colon + 1));
        }
        return "";
    }

    ApiServer& api_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<Poco::Net::StreamSocket> waiting_;
    bool stopping_ = false;
    std::thread thread_;
};

struct ApiServer::Running {
    std::unique_ptr<Poco::ThreadPool> pool; ///< outlives the server, which runs on it
    std::unique_ptr<Poco::Net::HTTPServer> server;
    Poco::AutoPtr<FastLane> fastLane;
    int port = 0;
    int threads = 0;
};

class ApiServer::Connection : public Poco::Net::HTTPRequestHandler {
public:
    explicit Connection(ApiServer& api) : api_(api) {}

    void handleRequest(Poco::Net::HTTPServerRequest& httpRequest,
                       Poco::Net::HTTPServerResponse& httpResponse) override {
        const auto& api = api_.env_.apiPath;
        if (api_.env_.outsideApi && httpRequest.getURI().compare(0, api.size() + 1, api + "/") != 0 &&
            api_.env_.outsideApi(httpRequest, httpResponse))
            return;
        Poco::Stopwatch watch;
        watch.start();
        Admission::lowerThisWorkerThread();
        sdk::Response response;
        sdk::Request request;
        try {
            response = read(httpRequest, request);
            if (response.status == 0)
                response = api_.handle(request);
        } catch (const sdk::HttpError& e) {
            response = errorResponse(e.status(), e.what(), e.errors());
        } catch (const std::exception& e) {
            serverLog().error("reading request %s %s failed: %s", httpRequest.getMethod(),
                              httpRequest.getURI(), std::string(e.what()));
            response = errorResponse(400, "The request could not be read: malformed HTTP");
        }
        std::string rendered;
        const auto& body = bodyText(response, rendered);
        httpResponse.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(response.status));
        httpResponse.setContentType("application/json");
        for (const auto& [name, value] : api_.env_.cors.forRequest(httpRequest))
            httpResponse.set(name, value);
        for (const auto& [name, value] : response.headers)
            httpResponse.set(name, value);
        const std::string* payload = &body;
        std::string compressed;
        if (body.size() >= kCompressFrom) {
            httpResponse.set("Vary", "Accept-Encoding");
            if (acceptsGzip(httpRequest.get("Accept-Encoding", ""))) {
                // Kept answers are compressed once; others at zlib's fastest level, which still
                // shrinks a JSON list five- to tenfold.
                const auto* kept = keptBodyOf(response);
                payload = kept ? &kept->gzipped() : &(compressed = gzipped(body, 1));
                httpResponse.set("Content-Encoding", "gzip");
            }
        }
        httpResponse.setContentLength(static_cast<std::streamsize>(payload->size()));
        // Poco gives each connection a worker thread for as long as it stays open. When connections
        // wait for a worker, this one closes after its answer instead of keeping its worker, so a
        // few busy keep-alive clients cannot starve everybody else.
        if (api_.connectionsWaiting())
            httpResponse.setKeepAlive(false);
        try {
            // Header, then the body in one write: through send()'s stream a 100 kB list leaves in
            // a dozen buffer-sized writes.
            httpResponse.sendBuffer(payload->data(), payload->size());
        } catch (const Poco::Exception&) {
            // The client went away; nothing to answer.
        }
        const auto client =
            request.clientAddress.empty() ? httpRequest.clientAddress().host().toString() : request.clientAddress;
        accessLog().information("%s %s %s %d %z %Ldms", client,
                                httpRequest.getMethod(), httpRequest.getURI(), response.status, payload->size(),
                                static_cast<Poco::Int64>(watch.elapsed() / 1000));
    }

private:
    /// Fills `request`; returns a response with status 0 when the request should be dispatched.
    sdk::Response read(Poco::Net::HTTPServerRequest& http, sdk::Request& request) {
        Poco::URI uri(http.getURI());
        request.fullPath = uri.getPath();
        for (const auto& [key, value] : uri.getQueryParameters())
            request.queryParams.emplace(key, value);
        std::string forwardedFor;
        for (const auto& [name, value] : http) {
            std::string lower = Poco::toLower(name);
            request.headers[lower] = value;
            // Several X-Forwarded-For lines are one list, in order.
            if (lower == "x-forwarded-for")
                forwardedFor += (forwardedFor.empty() ? "" : ",") + value;
        }
        request.contentType = http.getContentType();
        request.clientAddress = api_.env_.proxies.clientOf(http.clientAddress().host().toString(), forwardedFor);

        if (http.getMethod() == "OPTIONS") {
            // A CORS preflight: answered with the policy's headers, set for every answer.
            return sdk::Response{200, {}, {}};
        }
        auto method = parseMethod(http.getMethod());
        if (!method)
            return errorResponse(405,
                                 "The method " + http.getMethod() + " is not allowed for the requested URL.");
        request.method = *method;

        const auto& limit = api_.env_.maxBodyBytes;
        if (http.hasContentLength() && http.getContentLength64() > static_cast<Poco::Int64>(limit)) {
            auto r = errorResponse(
                413, "Request body too large: " + std::to_string(http.getContentLength64()) +
                         " bytes, the limit is " + std::to_string(limit) + " bytes (max_body_size)");
            // A client still sending would see a reset instead of this answer: take in (and drop) a
            // moderately large body, close the connection after an absurd one.
            if (http.getContentLength64() <= static_cast<Poco::Int64>(limit) * 16)
                http.stream().ignore(std::numeric_limits<std::streamsize>::max());
            else
                r.headers["Connection"] = "close";
            return r;
        }
        std::string body;
        // Without a length or chunking there is no body; reading would wait for the client.
        if (!http.hasContentLength() && !http.getChunkedTransferEncoding()) {
            request.body.clear();
            return sdk::Response{0, {}, {}};
        }
        auto& in = http.stream();
        char buffer[8192];
        while (in.good()) {
            in.read(buffer, sizeof buffer);
            body.append(buffer, static_cast<std::size_t>(in.gcount()));
            if (body.size() > limit) {
                auto r = errorResponse(413, "Request body too large: the limit is " + std::to_string(limit) +
                                                " bytes (max_body_size)");
                r.headers["Connection"] = "close";
                return r;
            }
        }
        request.body = std::move(body);
        return sdk::Response{0, {}, {}};
    }

    ApiServer& api_;
};

class ApiServer::ConnectionFactory : public Poco::Net::HTTPRequestHandlerFactory {
public:
    explicit ConnectionFactory(ApiServer& api) : api_(api) {}
    Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
        return new Connection(api_);
    }

private:
    ApiServer& api_;
};

// ---- The request path ----

namespace {

/// The store of a route that answers without the database: any use is a programming error.
class NoDatabase : public sdk::Store {
public:
    std::optional<sdk::Record> find(const std::string&, sdk::Id) override { refuse(); }
    std::vector<sdk::Record> select(const std::string&, const sdk::Query&) override { refuse(); }
    std::int64_t count(const std::string&, const sdk::Query&) override { refuse(); }
    sdk::Id insert(const std::string&, const sdk::Record&) override { refuse(); }
    void update(const std::string&, sdk::Id, const sdk::Record&) override { refuse(); }
    void remove(const std::string&, sdk::Id) override { refuse(); }
    std::vector<sdk::Id> associated(const std::string&, sdk::Id, const std::string&) override { refuse(); }
    void setAssociated(const std::string&, sdk::Id, const std::string&,
                       const std::vector<sdk::Id>&) override {
        refuse();
    }
    sdk::Rows query(const std::string&, const std::vector<sdk::Value>&) override { refuse(); }
    void execute(const std::string&, const std::vector<sdk::Value>&) override { refuse(); }
    std::string dialect() const override { refuse(); }

private:
    [[noreturn]] static void refuse() {
        throw std::logic_error("this route is served without the database and cannot use the store");
    }
};

/// Fills Poco's HTTP buffer pool (shared by the whole process) with `count` buffers, once.
void prefillHttpBuffers(int count) {
    static std::once_flag once;
    std::call_once(once, [count] {
        using Poco::Net::HTTPBufferAllocator;
        std::vector<char*> buffers;
        for (int i = 0; i < count; ++i)
            buffers.push_back(HTTPBufferAllocator::allocate(HTTPBufferAllocator::BUFFER_SIZE));
        for (auto* buffer : buffers)
            HTTPBufferAllocator::deallocate(buffer, HTTPBufferAllocator::BUFFER_SIZE);
    });
}

} // namespace

ApiServer::ApiServer(ApiEnvironment env, Router router)
    : env_(std::move(env)), router_(std::move(router)), serializer_(*env_.catalog, router_, env_.apiPath),
      memo_(env_.listCacheBytes) {}

ApiServer::~ApiServer() {
    stop(0);
}

void ApiServer::start(const ListenSettings& listen) {
    // glibc gives threads arenas of their own (up to eight per core); with dozens of workers the
    // memory freed after a burst stays scattered over them. A few shared arenas keep it reusable.
    ::mallopt(M_ARENA_MAX, 2);
    // Blocks of 64 kB and more (long answers, their JSON, compression windows) are mapped and
    // unmapped on their own rather than carved from the heap, where a few small blocks that live on
    // would keep their pages after a burst. (Setting it also stops glibc from raising the limit
    // to the largest block freed, which would put them all back in the heap.)
    ::mallopt(M_MMAP_THRESHOLD, 64 * 1024);
    // Poco keeps every HTTP buffer it ever allocated (4 kB each, in a pool without a limit) and
    // allocates more when a burst needs them; a worker uses up to three at once (its connection's,
    // the request's and the answer's). Allocated up front, they lie together and are there before
    // the load, instead of being carved out during a burst and pinning pages all over the heap.
    prefillHttpBuffers(3 * listen.threads);
    auto params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(listen.threads);
    params->setMaxQueued(1024);
    params->setKeepAlive(true);
    params->setMaxKeepAliveRequests(1000);
    // An idle keep-alive connection holds a worker thread until this timeout: keep it short.
    params->setKeepAliveTimeout(Poco::Timespan(5, 0));
    params->setTimeout(Poco::Timespan(60, 0));
    Poco::Net::ServerSocket socket;
    try {
        // SO_REUSEADDR for quick restarts, but never SO_REUSEPORT: two servers must not share a port.
        socket.bind(Poco::Net::SocketAddress(listen.ip, static_cast<Poco::UInt16>(listen.port)), true, false);
        socket.listen(256);
        // Inherited by every accepted connection (Linux). Without it, a response larger than Poco's
        // 4 kB send buffer leaves in two writes and the second waits for the client's delayed ACK
        // (Nagle): 40 ms added to a POST /api/task for 100 organizations.
        socket.setNoDelay(true);
    } catch (const Poco::Exception& e) {
        throw std::runtime_error("cannot listen on " + listen.ip + ":" + std::to_string(listen.port) + ": " +
                                 e.displayText() +
                                 " (is another server using the port? change `port` in the config)");
    }
    running_ = std::make_unique<Running>();
    running_->port = socket.address().port();
    // The server's own pool: Poco's default pool is shared with everything else in the process.
    // Threads idle for 10 s may end (collected when the server is idle, see releaseMemoryWhenIdle):
    // each keeps its stack and its allocator cache otherwise, megabytes after a burst.
    running_->pool = std::make_unique<Poco::ThreadPool>("http", 2, listen.threads, 10);
    running_->server = std::make_unique<Poco::Net::HTTPServer>(new ConnectionFactory(*this), *running_->pool,
                                                               socket, params);
    running_->threads = listen.threads;
    running_->fastLane = new FastLane(*this);
    running_->server->setConnectionFilter(
        Poco::Net::TCPServerConnectionFilter::Ptr(running_->fastLane, true));
    running_->server->start();
}

void ApiServer::stop(int graceSeconds) {
    if (!running_)
        return;
    running_->server->stop();
    for (int waited = 0; waited < graceSeconds * 10 && running_->server->currentConnections() > 0; ++waited)
        Poco::Thread::sleep(100);
    running_->server->stopAll(true);
    running_->fastLane->stop();
    running_.reset();
}

int ApiServer::port() const {
    return running_ ? running_->port : 0;
}

bool ApiServer::connectionsWaiting() const {
    return running_ && running_->server->queuedConnections() > 0;
}

bool ApiServer::workersBusy() const {
    return running_ && (running_->server->queuedConnections() > 0 ||
                        running_->server->currentThreads() >= running_->threads);
}

void ApiServer::releaseMemoryWhenIdle() {
    // After a burst, the worker threads stay and the allocator keeps what was freed; once all is
    // quiet, end the threads idle for long and hand the free memory back, so that the server's
    // memory returns to its resting size. At every quiet tick, not once: memory is also freed later,
    // by the database pool closing idle connections (their page caches) and by the threads ended.
    // (Open connections do not count: a node's event socket stays open all day.)
    auto served = requestsServed_.load();
    bool quiet = served == requestsAtLastTick_;
    requestsAtLastTick_ = served;
    if (!quiet || !running_)
        return;
    running_->pool->collect();
    if (env_.database)
        env_.database->closeIdleConnections();
    memo_.clear();
    env_.tokens->forgetVerified();
    ::malloc_trim(0);
}

sdk::Response ApiServer::handle(sdk::Request& request) {
    const auto& api = env_.apiPath;
    const std::string& full = request.fullPath;
    bool underApi = full == api || (full.size() > api.size() && full.compare(0, api.size(), api) == 0 &&
                                    full[api.size()] == '/');
    if (!underApi)
        return errorResponse(404, "The requested URL " + full + " was not found on this server.");
    request.path = full.substr(api.size());
    if (request.path.empty())
        request.path = "/";
    auto match = router_.match(request.method, request.path);
    if (!match)
        return errorResponse(404, "The requested URL " + full + " was not found on this server.");
    if (!match->route) {
        auto r = errorResponse(405, "The method " + sdk::toString(request.method) + " is not allowed for " +
                                        full + "; allowed: " + joinMethods(match->allowedMethods));
        r.headers["Allow"] = joinMethods(match->allowedMethods);
        return r;
    }
    request.pathParams = match->params;
    // What a request may spend waiting (for its turn, sessions, locks, a password hash), all waits
    // together, so that it is answered within about five seconds however busy the server is.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(4);
    try {
        // Health and version pass by the gate: a load balancer must see a busy server as alive.
        if (request.method == sdk::Method::Get && (request.path == "/health" || request.path == "/version"))
            return dispatch(request, *match->route, deadline);
        // Health probes every few seconds do not keep the server from counting as idle
        // (releaseMemoryWhenIdle); other requests do.
        ++requestsServed_;
        // Kept answers cost less than waiting for a turn at the gate would.
        if (auto kept = keptAnswer(request, *match->route, deadline))
            return std::move(*kept);
        Admission::Pass pass(admission_, deadline);
        if (!pass)
            return errorResponse(503, "The server is busy at the moment; please try again in a few seconds.");
        return dispatch(request, *match->route, deadline);
    } catch (const sdk::HttpError& e) {
        return errorResponse(e.status(), e.what(), e.errors());
    } catch (const DatabaseBusy& e) {
        serverLog().warning("%s %s: %s", sdk::toString(request.method), full, std::string(e.what()));
        return errorResponse(503, "The database is busy at the moment; please try again in a few seconds.");
    } catch (const DatabaseUnavailable& e) {
        serverLog().error("%s %s: %s", sdk::toString(request.method), full, std::string(e.what()));
        auto response =
            errorResponse(503, "The database is not available at the moment; please try again later.");
        response.headers["Retry-After"] = "5";
        return response;
    } catch (const std::exception& e) {
        serverLog().error("%s %s (plugin %s) failed: %s", sdk::toString(request.method), full,
                          match->route->plugin, std::string(e.what()));
        return errorResponse(500,
                             "An unexpected error occurred on the server; the server log has the details.");
    } catch (...) {
        serverLog().error("%s %s (plugin %s) failed with an unknown exception", sdk::toString(request.method),
                          full, match->route->plugin);
        return errorResponse(500,
                             "An unexpected error occurred on the server; the server log has the details.");
    }
}

ResolvedIdentity ApiServer::authenticate(const sdk::Request& request, const Route& route) {
    if (route.decl.allowed.empty() && !route.decl.refreshToken)
        return {};
    auto header = request.header("authorization");
    if (!header)
        throw sdk::Unauthorized("Missing Authorization Header");
    const std::string prefix = "Bearer ";
    if (header->compare(0, prefix.size(), prefix) != 0)
        throw sdk::Unprocessable("Bad Authorization header. Expected 'Authorization: Bearer <JWT>'");
    auto token = env_.tokens->verify(header->substr(prefix.size()));
    if (route.decl.refreshToken && token.type != "refresh")
        throw sdk::Unprocessable("Only refresh tokens are allowed");
    if (!route.decl.refreshToken && token.type != "access")
        throw sdk::Unprocessable("Only non-refresh tokens are allowed");
    auto resolved = env_.identities->resolve(token);
    const auto& identity = resolved.identity;
    bool allowed = route.decl.refreshToken;
    for (auto k : route.decl.allowed)
        allowed = allowed || identity.is(k);
    if (!allowed) {
        std::string who;
        for (auto k : route.decl.allowed)
            who += (who.empty() ? "" : ", ") + sdk::toString(k) + "s";
        throw sdk::BadRequest("This endpoint is only for " + who + ", not for " + token.clientType + "s");
    }
    return resolved;
}

bool ApiServer::memoizes(const sdk::Request& request, const Route& route) const {
    if (!memo_.enabled() || request.method != sdk::Method::Get || !route.usesDatabase)
        return false;
    std::shared_lock lock(listRoutesMutex_);
    return listRoutes_.count(&route) > 0;
}

void ApiServer::learnListRoute(const Route& route) {
    {
        std::shared_lock lock(listRoutesMutex_);
        if (listRoutes_.count(&route))
            return;
    }
    std::unique_lock lock(listRoutesMutex_);
    listRoutes_.insert(&route);
}

namespace {

/// What a GET list answer depends on besides the data: the caller (kind, id, and the serial of
/// the identity and rules it was answered with) and the request (path and query).
std::string memoKeyOf(const sdk::Request& request, const ResolvedIdentity& caller) {
    std::string key = std::to_string(caller.identity.kind ? static_cast<int>(*caller.identity.kind) : -1);
    key += ' ';
    key += std::to_string(caller.identity.id);
    key += ' ';
    key += std::to_string(caller.serial);
    key += ' ';
    key += request.fullPath;
    for (const auto& [name, value] : request.queryParams) {
        // Lengths first: no two different queries give the same key.
        key += ' ';
        key += std::to_string(name.size());
        key += ':';
        key += name;
        key += std::to_string(value.size());
        key += ':';
        key += value;
    }
    return key;
}

} // namespace

void ApiServer::touchIfDue(const sdk::Identity& identity) {
    if (!(identity.is(sdk::ClientKind::User) || identity.is(sdk::ClientKind::Node)) ||
        !touches_.due(*identity.kind, identity.id))
        return;
    auto provider = std::static_pointer_cast<sdk::IdentityProvider>(env_.catalog->service(
        identity.is(sdk::ClientKind::User) ? sdk::kUserIdentityService : sdk::kNodeIdentityService));
    try {
        env_.database->transaction([&](sdk::Store& store) { provider->touch(store, identity.id); },
                                   Database::Access::Write, Database::Wait::Bounded);
    } catch (const DatabaseBusy&) {
        // `last_seen` can wait for the next request; the request itself need not.
    }
}

std::optional<sdk::Response> ApiServer::keptAnswer(const sdk::Request& request, const Route& route,
                                                   std::chrono::steady_clock::time_point until) {
    if (!memoizes(request, route))
        return std::nullopt;
    try {
        Database::Deadline deadline(until);
        const auto caller = authenticate(request, route);
        if (caller.serial == 0)
            return std::nullopt;
        auto now = env_.database->dataVersion();
        if (!now)
            return std::nullopt;
        auto kept = memo_.find(memoKeyOf(request, caller), *now);
        if (kept)
            touchIfDue(caller.identity);
        return kept;
    } catch (const std::exception&) {
        // Whatever went wrong, the request's own path says it properly.
        return std::nullopt;
    }
}

bool ApiServer::servingRequest() {
    return inRequest;
}

sdk::Response ApiServer::dispatch(sdk::Request& request, const Route& route,
                                  std::chrono::steady_clock::time_point until) {
    struct Serving {
        Serving() { inRequest = true; }
        ~Serving() { inRequest = false; }
    } serving;
    Database::Deadline deadline(until);
    auto access = request.method == sdk::Method::Get || route.decl.readOnly ? Database::Access::Read
                                                                            : Database::Access::Write;
    const auto caller = authenticate(request, route);
    const auto& identity = caller.identity;
    const auto& rules = caller.rules;
    touchIfDue(identity);
    if (!route.usesDatabase) {
        NoDatabase store;
        ApiContext context(
            request, identity, rules, [&]() -> sdk::Store& { return store; }, [] {}, env_.servicesOf(route.plugin),
            *env_.catalog, serializer_);
        return route.decl.handler(context);
    }
    // Events the handler emits are written with its transaction (the outbox): none when it fails.
    // Opened on the handler's first use of the store, and again after each RequestContext::commit().
    std::optional<Database::Transaction> transaction;
    int opened = 0;
    auto store = [&]() -> sdk::Store& {
        if (!transaction) {
            transaction.emplace(*env_.database, access, Database::Wait::Bounded);
            ++opened;
        }
        return transaction->store();
    };
    auto commit = [&] {
        if (transaction) {
            transaction->commit();
            transaction.reset();
        }
    };
    // A GET list of a signed-in user or node is kept (ListMemo) at the version its transaction saw
    // first thing; keptAnswer() answers it again while the database is unchanged.
    std::string memoKey;
    std::optional<std::string> version;
    if (caller.serial != 0 && memoizes(request, route))
        memoKey = memoKeyOf(request, caller);
    sdk::Response response;
    try {
        if (!memoKey.empty()) {
            store();
            version = transaction->dataVersion();
        }
        ApiContext context(request, identity, rules, store, commit, env_.servicesOf(route.plugin), *env_.catalog,
                           serializer_);
        response = route.decl.handler(context);
        commit();
        if (memo_.enabled() && request.method == sdk::Method::Get && context.listed() && response.status == 200) {
            learnListRoute(route);
            if (version && opened == 1)
                response = memo_.keep(memoKey, *version, std::move(response));
        }
    } catch (...) {
        if (transaction)
            transaction->fail();
        throw;
    }
    return response;
}

} // namespace dq::kernel
