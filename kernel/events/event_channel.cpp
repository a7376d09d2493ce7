// Threads: HTTP workers serve long-polling (a GET waits at most one ping interval) and the WebSocket
// handshakes; one reactor thread (epoll) reads every WebSocket and sends pings; one worker thread does
// the database work of Socket.IO (authentication, node status), in the order the packets came.
#include "kernel/events/event_channel.h"

#include "kernel/events/outbox.h"
#include "kernel/events/socketio/packet.h"
#include "kernel/events/socketio/websocket_codec.h"

#include <Poco/Base64Encoder.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/Logger.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/WebSocket.h>
#include <Poco/RandomStream.h>
#include <Poco/String.h>
#include <Poco/Timespan.h>
#include <Poco/Timestamp.h>
#include <Poco/URI.h>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <dq/sdk/http.h>
#include <dq/sdk/permission.h>
#include <fcntl.h>
#include <map>
#include <mutex>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <optional>
#include <set>
#include <sstream>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace dq::kernel {

using namespace socketio;
using Clock = std::chrono::steady_clock;
/// How often a waiting poll looks whether HTTP workers have become scarce.
constexpr auto kScarcityCheck = std::chrono::milliseconds(200);
/// Rooms up to this many sockets get an event's frame at once from the delivering thread (one send
/// each). Larger broadcasts (`all_nodes` of thousands of nodes) are queued per connection and
/// written by the reactor thread: the delivering thread (an HTTP worker finishing its request, the
/// channel's worker) is not held for thousands of sends, and a burst of broadcasts (every node
/// announcing itself after a restart) leaves in one send per connection, not one per event.
constexpr std::size_t kDirectFanOut = 1000;

namespace {

const std::string kNamespace = "/tasks";
/// pg_advisory_xact_lock key of the presence sweep ("dq" "pr").
constexpr std::int64_t kPresenceLock = 0x6471'7072;

Poco::Logger& channelLog() {
    return Poco::Logger::get("events");
}

std::string randomId() {
    Poco::RandomInputStream random;
    char bytes[15];
    random.read(bytes, sizeof(bytes));
    std::ostringstream out;
    Poco::Base64Encoder encoder(out, Poco::BASE64_URL_ENCODING | Poco::BASE64_NO_PADDING);
    encoder.write(bytes, sizeof(bytes));
    encoder.close();
    return out.str();
}

std::string bearer(const std::string& value) {
    auto v = Poco::trim(value);
    if (Poco::icompare(v.substr(0, 7), "bearer ") == 0)
        return Poco::trim(v.substr(7));
    return v;
}

std::string engineError(int code, const std::string& message) {
    Poco::JSON::Object body;
    body.set("code", code);
    body.set("message", message);
    return toJson(Poco::Dynamic::Var(body));
}

void answer(Poco::Net::HTTPServerResponse& response, int status, const std::string& body,
            const std::string& contentType = "text/plain; charset=UTF-8") {
    response.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
    response.setContentType(contentType);
    response.set("Cache-Control", "no-store");
    response.sendBuffer(body.data(), body.size());
}

std::string scalarText(const Poco::Dynamic::Var& value) {
    if (value.isEmpty())
        return "";
    if (value.isString())
        return value.convert<std::string>();
    if (value.type() == typeid(Poco::JSON::Object::Ptr) || value.type() == typeid(Poco::JSON::Array::Ptr))
        return toJson(value);
    return value.convert<std::string>();
}

} // namespace

// ---- State ----

namespace {

struct Session;

/// One WebSocket, owned by the reactor thread; other threads only append to `out`.
struct Connection {
    Poco::Net::WebSocket socket;
    int fd = -1;
    WebSocketDecoder decoder;
    std::mutex outMutex;
    std::string out;
    bool wantWrite = false;
    bool scheduled = false; ///< in the reactor's list of connections to write
    bool closing = false;
    std::atomic<bool> probe{false};
    std::weak_ptr<Session> session;

    Connection(Poco::Net::WebSocket ws, std::size_t maxPayload)
        : socket(std::move(ws)), fd(static_cast<int>(socket.impl()->sockfd())), decoder(maxPayload) {}
};

/// One Engine.IO session (one client), carrying at most one Socket.IO socket on `/tasks`.
struct Session {
    std::string sid;
    std::string socketSid;
    std::mutex m;
    std::condition_variable cv;
    bool open = true;
    bool upgraded = false; ///< the transport is `ws`
    bool wakePoll = false; ///< a probe arrived: release the waiting GET once
    bool pollWaiting = false;
    std::shared_ptr<Connection> ws;
    std::deque<std::string> queue; ///< packets for the next poll
    Clock::time_point created = Clock::now();
    Clock::time_point lastPing = Clock::now();
    Clock::time_point lastPollEnd = Clock::now();
    std::optional<Clock::time_point> pongDeadline;
    std::string handshakeToken;
    bool joined = false; ///< under m; the rest of the Socket.IO state belongs to the worker thread
    std::optional<sdk::Identity> who;
    std::vector<std::string> rooms;
};

} // namespace

struct EventChannel::Impl {
    EventChannelEnvironment env;
    EventChannelSettings settings;

    mutable std::mutex mutex; // sessions, connections, rooms
    std::map<std::string, std::shared_ptr<Session>> sessions;
    std::map<int, std::shared_ptr<Connection>> connections;
    std::map<std::string, std::set<std::shared_ptr<Session>>> rooms;
    std::size_t joinedCount = 0;

    bool workersScarce() const { return env.workersScarce && env.workersScarce(); }

    std::atomic<bool> running{false};
    int epollFd = -1;
    int wakeFd = -1;
    std::thread reactor;
    std::mutex scheduledMutex;
    std::vector<std::shared_ptr<Connection>> toWrite; ///< for the reactor (queueFrame)
    int subscription = 0;

    std::mutex workMutex;
    std::condition_variable workCv;
    std::deque<std::function<void()>> work;
    std::thread worker;
    std::map<sdk::Id, int> nodeSockets; ///< worker thread only: live sockets per node
    bool firstHeartbeat = true;         ///< worker thread only

    Impl(EventChannelEnvironment e, EventChannelSettings s) : env(std::move(e)), settings(std::move(s)) {}

    // -- sending --

    /// Disconnects a client that does not read. Caller holds c.outMutex; true when it did.
    bool overflowing(Connection& c) {
        if (c.out.size() <= settings.maxUnsentBytes)
            return false;
        channelLog().warning("event channel: a client does not read its WebSocket (%z bytes unsent); "
                             "disconnecting it",
                             c.out.size());
        c.closing = true;
        c.out.clear();
        ::shutdown(c.fd, SHUT_RDWR);
        return true;
    }

    /// Appends a frame for the reactor thread to write (see kDirectFanOut).
    void queueFrame(const std::shared_ptr<Connection>& c, const std::string& bytes) {
        {
            std::lock_guard lock(c->outMutex);
            if (c->closing)
                return;
            c->out += bytes;
            if (overflowing(*c) || c->scheduled || c->wantWrite)
                return; // already on its way: the reactor writes it, or EPOLLOUT does
            c->scheduled = true;
        }
        bool first = false;
        {
            std::lock_guard lock(scheduledMutex);
            first = toWrite.empty();
            toWrite.push_back(c);
        }
        if (first) {
            std::uint64_t one = 1;
            (void)!::write(wakeFd, &one, sizeof(one));
        }
    }

    void sendFrame(const std::shared_ptr<Connection>& c, const std::string& bytes) {
        std::lock_guard lock(c->outMutex);
        if (c->closing)
            return;
        if (c->out.empty()) {
            auto n = ::send(c->fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n == static_cast<ssize_t>(bytes.size()))
                return;
            c->out.assign(bytes, n > 0 ? n : 0, std::string::npos);
        } else {
            c->out += bytes;
        }
        if (overflowing(*c))
            return;
        if (!c->wantWrite) {
            c->wantWrite = true;
            epoll_event ev{};
            ev.events = EPOLLIN | EPOLLOUT;
            ev.data.fd = c->fd;
            epoll_ctl(epollFd, EPOLL_CTL_MOD, c->fd, &ev);
        }
    }

    void sendText(const std::shared_ptr<Connection>& c, const std::string& packet) {
        sendFrame(c, encodeWebSocketFrame(WebSocketOpcode::Text, packet));
    }

    /// Sends one Engine.IO packet over the session's current transport (`frame`: the packet as a
    /// WebSocket frame already, when it goes to many; `queued`: written by the reactor thread).
    /// Caller holds s.m.
    void sendLocked(Session& s, const std::string& packet, const std::string* frame = nullptr,
                    bool queued = false) {
        if (!s.open)
            return;
        if (s.upgraded && s.ws) {
            if (frame && queued)
                queueFrame(s.ws, *frame);
            else if (frame)
                sendFrame(s.ws, *frame);
            else
                sendText(s.ws, packet);
        } else {
            s.queue.push_back(packet);
            s.cv.notify_all();
        }
    }

    void send(const std::shared_ptr<Session>& s, const std::string& packet) {
        std::lock_guard lock(s->m);
        sendLocked(*s, packet);
    }

    /// Starts closing a WebSocket; the reactor thread releases it when it sees the hang-up.
    void closeConnection(const std::shared_ptr<Connection>& c, std::uint16_t code,
                         const std::string& reason) {
        std::lock_guard lock(c->outMutex);
        if (c->closing)
            return;
        std::string bytes = encodeWebSocketClose(code, reason);
        if (c->out.empty())
            ::send(c->fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        c->closing = true;
        c->out.clear();
        ::shutdown(c->fd, SHUT_RDWR);
    }

    // -- sessions --

    std::size_t sessionCount() {
        std::lock_guard lock(mutex);
        return sessions.size();
    }

    void emit(const std::string& room, const std::string& event, const Poco::Dynamic::Var& payload) {
        if (env.bus)
            env.bus->emit(room, event, payload);
    }

    std::shared_ptr<Session> find(const std::string& sid) {
        std::lock_guard lock(mutex);
        auto it = sessions.find(sid);
        return it == sessions.end() ? nullptr : it->second;
    }

    std::shared_ptr<Session> newSession(const std::string& token) {
        auto s = std::make_shared<Session>();
        s->sid = randomId();
        s->socketSid = randomId();
        s->handshakeToken = token;
        std::lock_guard lock(mutex);
        sessions[s->sid] = s;
        return s;
    }

    std::string openPacket(const Session& s, bool canUpgrade) const {
        Poco::JSON::Object open(Poco::JSON_PRESERVE_KEY_ORDER);
        open.set("sid", s.sid);
        Poco::JSON::Array upgrades;
        if (canUpgrade)
            upgrades.add(std::string("websocket"));
        open.set("upgrades", upgrades);
        open.set("pingInterval", settings.pingIntervalMs);
        open.set("pingTimeout", settings.pingTimeoutMs);
        open.set("maxPayload", static_cast<Poco::UInt64>(settings.maxPayload));
        return std::string(1, static_cast<char>(EngineType::Open)) + toJson(Poco::Dynamic::Var(open));
    }

    void closeSession(const std::shared_ptr<Session>& s, const std::string& why) {
        std::shared_ptr<Connection> ws;
        {
            std::lock_guard lock(s->m);
            if (!s->open)
                return;
            s->open = false;
            ws = s->ws;
            s->cv.notify_all();
        }
        channelLog().debug("event channel: session %s closed: %s", s->sid, why);
        {
            std::lock_guard lock(mutex);
            sessions.erase(s->sid);
        }
        if (ws)
            closeConnection(ws, 1000, why);
        post([this, s] { leave(s); });
    }

    // -- the worker thread --

    void post(std::function<void()> job) {
        std::lock_guard lock(workMutex);
        work.push_back(std::move(job));
        workCv.notify_one();
    }

    void runWorker() {
        Outbox::leaveDeliveryToReaderOnThisThread();
        for (;;) {
            std::function<void()> job;
            {
                std::unique_lock lock(workMutex);
                workCv.wait(lock, [&] { return !work.empty() || !running; });
                if (work.empty())
                    return;
                job = std::move(work.front());
                work.pop_front();
            }
            try {
                job();
            } catch (const std::exception& e) {
                channelLog().error("event channel: handling a client failed: %s", std::string(e.what()));
            }
        }
    }

    template <typename T> std::shared_ptr<T> service(const char* name) {
        return env.service ? std::dynamic_pointer_cast<T>(env.service(name)) : nullptr;
    }

    void transaction(const std::function<void(sdk::Store&)>& job) {
        if (env.transaction)
            env.transaction(job);
    }

    // -- Engine.IO packets (any thread) --

    void onEnginePacket(const std::shared_ptr<Session>& s, const std::string& text) {
        if (text.empty()) {
            closeSession(s, "empty packet");
            return;
        }
        switch (static_cast<EngineType>(text[0])) {
        case EngineType::Pong: {
            std::lock_guard lock(s->m);
            s->pongDeadline.reset();
            return;
        }
        case EngineType::Ping:
            send(s, std::string(1, static_cast<char>(EngineType::Pong)) + text.substr(1));
            return;
        case EngineType::Message:
            onSocketPacket(s, text.substr(1));
            return;
        case EngineType::Close:
            closeSession(s, "client closed");
            return;
        case EngineType::Noop:
            return;
        default:
            closeSession(s, "unexpected Engine.IO packet type '" + text.substr(0, 1) + "'");
            return;
        }
    }

    void onSocketPacket(const std::shared_ptr<Session>& s, const std::string& text) {
        auto packet = parseSocketPacket(text);
        if (!packet) {
            closeSession(s, "malformed Socket.IO packet");
            return;
        }
        switch (packet->type) {
        case SocketType::Connect: {
            if (packet->nsp != kNamespace) {
                Poco::JSON::Object error;
                error.set("message", "Invalid namespace");
                send(s, encodeSocketPacket(SocketType::ConnectError, packet->nsp,
                                           toJson(Poco::Dynamic::Var(error))));
                return;
            }
            std::string token;
            if (packet->data.type() == typeid(Poco::JSON::Object::Ptr)) {
                auto auth = packet->data.extract<Poco::JSON::Object::Ptr>();
                if (auth->has("token"))
                    token = bearer(auth->getValue<std::string>("token"));
                else if (auth->has("Authorization"))
                    token = bearer(auth->getValue<std::string>("Authorization"));
            }
            if (token.empty())
                token = s->handshakeToken;
            post([this, s, token] { authenticate(s, token); });
            return;
        }
        case SocketType::Disconnect:
            if (packet->nsp == kNamespace)
                post([this, s] { leave(s); });
            return;
        case SocketType::Event: {
            if (packet->nsp != kNamespace)
                return;
            if (packet->data.type() != typeid(Poco::JSON::Array::Ptr)) {
                closeSession(s, "event without a name");
                return;
            }
            auto args = packet->data.extract<Poco::JSON::Array::Ptr>();
            if (args->size() == 0 || !args->get(0).isString()) {
                closeSession(s, "event without a name");
                return;
            }
            auto name = args->getElement<std::string>(0);
            Poco::Dynamic::Var arg = args->size() > 1 ? args->get(1) : Poco::Dynamic::Var();
            auto ack = packet->ackId;
            post([this, s, name, arg, ack] { onClientEvent(s, name, arg, ack); });
            return;
        }
        case SocketType::Ack:
            return;
        default:
            closeSession(s, "unexpected Socket.IO packet type");
            return;
        }
    }

    // -- Socket.IO (worker thread) --

    void refuse(const std::shared_ptr<Session>& s, const std::string& why) {
        channelLog().information("event channel: refused a connection: %s", why);
        Poco::JSON::Object ok;
        ok.set("sid", s->socketSid);
        // vantage6 clients react to `expired_token` by refreshing their token and reconnecting, so
        // the socket is accepted just long enough to hear it.
        std::lock_guard lock(s->m);
        sendLocked(*s, encodeSocketPacket(SocketType::Connect, kNamespace, toJson(Poco::Dynamic::Var(ok))));
        sendLocked(*s, encodeEvent(kNamespace, "expired_token", Poco::Dynamic::Var()));
        sendLocked(*s, encodeSocketPacket(SocketType::Disconnect, kNamespace));
    }

    void authenticate(const std::shared_ptr<Session>& s, const std::string& token) {
        {
            std::lock_guard lock(s->m);
            if (!s->open || s->joined)
                return;
        }
        if (token.empty()) {
            Poco::JSON::Object error;
            error.set("message", "Authentication required: send the access token as 'Authorization: Bearer "
                                 "<token>' in the handshake or as {\"token\": ...} in the CONNECT packet");
            send(s,
                 encodeSocketPacket(SocketType::ConnectError, kNamespace, toJson(Poco::Dynamic::Var(error))));
            return;
        }
        VerifiedToken verified;
        try {
            verified = env.verify(token);
        } catch (const std::exception& e) {
            refuse(s, std::string("token not valid: ") + e.what());
            return;
        }
        if (verified.type != "access" || !verified.claims || !verified.claims->has("sub")) {
            refuse(s, "not an access token");
            return;
        }
        bool isNode = verified.clientType == "node";
        if (!isNode && verified.clientType != "user") {
            refuse(s, "only users and nodes connect, not a " + verified.clientType);
            return;
        }
        std::optional<sdk::Identity> who;
        try {
            who = env.identify(verified);
        } catch (const std::exception& e) {
            refuse(s, e.what());
            return;
        }
        std::vector<std::string> rooms;
        if (isNode) {
            auto cid = std::to_string(who->collaborationId.value_or(0));
            rooms = {"all_nodes", "collaboration_" + cid,
                     "collaboration_" + cid + "_organization_" + std::to_string(who->organizationId)};
        } else {
            transaction([&](sdk::Store& store) { rooms = userRooms(store, *who); });
        }
        {
            std::lock_guard lock(s->m);
            if (!s->open)
                return;
            s->joined = true;
            Poco::JSON::Object ok;
            ok.set("sid", s->socketSid);
            sendLocked(*s,
                       encodeSocketPacket(SocketType::Connect, kNamespace, toJson(Poco::Dynamic::Var(ok))));
        }
        s->who = who;
        s->rooms = rooms;
        {
            std::lock_guard lock(mutex);
            ++joinedCount;
            for (const auto& room : rooms)
                this->rooms[room].insert(s);
        }
        // After the socket is in its rooms, so that it hears these too. The events are rows of the
        // transaction that marks the node online: every process's clients hear them.
        const std::string kind = isNode ? "Node" : "User";
        if (isNode)
            ++nodeSockets[who->id];
        transaction([&](sdk::Store& store) {
            if (isNode) {
                store.update(
                    "node", who->id,
                    sdk::Record().set("status", std::string("online")).set("last_seen", sdk::nowUtc()));
                refreshPresence(store, {who->id});
            }
            for (const auto& room : rooms)
                if (room != "all_nodes")
                    emit(room, "message",
                         Poco::Dynamic::Var(kind + " " + who->name + " joined room " + room));
            if (isNode)
                for (const auto& room : rooms)
                    emit(room, "node-online", nodeSummary(*who));
        });
        channelLog().information("event channel: %s %s (id %?d) connected, rooms: %z", kind, who->name,
                                 who->id, rooms.size());
    }

    std::vector<std::string> userRooms(sdk::Store& store, const sdk::Identity& who) {
        std::vector<std::string> rooms;
        auto rules = service<sdk::RuleSource>(sdk::kRuleSourceService);
        if (!rules)
            return rooms;
        std::optional<sdk::Scope> scope;
        for (const auto& rule : rules->rulesOf(store, who))
            if (rule.resource == "event" && rule.operation == sdk::Operation::View &&
                (!scope || rule.scope > *scope))
                scope = rule.scope;
        if (!scope)
            return rooms;
        std::vector<sdk::Id> collaborations;
        if (*scope == sdk::Scope::Global) {
            for (const auto& row : store.query("SELECT id FROM collaboration").rows)
                collaborations.push_back(row.at(0).convert<sdk::Id>());
        } else if (auto membership = service<sdk::Membership>(sdk::kMembershipService)) {
            collaborations = membership->collaborationsOf(store, who.organizationId);
        }
        for (auto cid : collaborations) {
            if (*scope == sdk::Scope::Organization || *scope == sdk::Scope::Own)
                rooms.push_back("collaboration_" + std::to_string(cid) + "_organization_" +
                                std::to_string(who.organizationId));
            else
                rooms.push_back("collaboration_" + std::to_string(cid));
        }
        return rooms;
    }

    static Poco::Dynamic::Var nodeSummary(const sdk::Identity& who) {
        Poco::JSON::Object::Ptr body = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
        body->set("id", who.id);
        body->set("name", who.name);
        body->set("org_id", who.organizationId);
        return body;
    }

    void leave(const std::shared_ptr<Session>& s) {
        {
            std::lock_guard lock(s->m);
            if (!s->joined)
                return;
            s->joined = false;
        }
        {
            std::lock_guard lock(mutex);
            --joinedCount;
            for (const auto& room : s->rooms) {
                auto it = rooms.find(room);
                if (it == rooms.end())
                    continue;
                it->second.erase(s);
                if (it->second.empty())
                    rooms.erase(it);
            }
        }
        const auto& who = *s->who;
        bool lastHere = who.is(sdk::ClientKind::Node) && --nodeSockets[who.id] <= 0;
        if (lastHere)
            nodeSockets.erase(who.id);
        transaction([&](sdk::Store& store) {
            for (const auto& room : s->rooms)
                if (room != "all_nodes")
                    emit(room, "message", Poco::Dynamic::Var(who.name + " left room " + room));
            if (!lastHere)
                return;
            store.execute("DELETE FROM dq_presence WHERE node_id = ? AND process = ?",
                          {who.id, settings.process});
            // Connected to another server process as well (it reconnected there first): still online.
            if (!store
                     .query("SELECT 1 FROM dq_presence WHERE node_id = ? AND expires_at >= ?",
                            {who.id, sdk::nowUtc()})
                     .rows.empty())
                return;
            goOffline(store, who.id, &s->rooms);
        });
        channelLog().information("event channel: %s (id %?d) disconnected", who.name, who.id);
        s->rooms.clear();
    }

    // -- presence: which process holds a connection of which node, until when --

    std::string presenceExpiry() const {
        Poco::Timestamp until;
        until += Poco::Timestamp::TimeDiff(settings.presenceTimeoutMs) * 1000;
        return sdk::storedDateTime(until);
    }

    /// Extends this process's presence rows of `nodes`, creating the missing ones.
    void refreshPresence(sdk::Store& store, const std::vector<sdk::Id>& nodes) {
        const auto until = presenceExpiry();
        for (auto id : nodes)
            store.execute(
                "INSERT INTO dq_presence (node_id, process, expires_at) VALUES (?, ?, ?) ON CONFLICT "
                "(node_id, process) DO UPDATE SET expires_at = excluded.expires_at",
                {id, settings.process, until});
    }

    /// The rooms a node joins, from its row.
    static std::vector<std::string> nodeRooms(const sdk::Record& node) {
        auto cid = std::to_string(node.integer("collaboration_id").value_or(0));
        return {"all_nodes", "collaboration_" + cid,
                "collaboration_" + cid + "_organization_" +
                    std::to_string(node.integer("organization_id").value_or(0))};
    }

    /// Marks the node offline (when it was online), drops its node configuration and announces
    /// `node-offline` to `rooms` (default: the rooms a node of its collaboration joins).
    void goOffline(sdk::Store& store, sdk::Id nodeId, const std::vector<std::string>* rooms = nullptr) {
        auto node = store.find("node", nodeId);
        if (!node)
            return;
        for (const auto& row :
             store.select("nodeconfig", sdk::Query().add(sdk::Condition::equal("node_id", nodeId))))
            store.remove("nodeconfig", row.id);
        if (node->text("status") == "offline")
            return;
        store.update("node", nodeId, sdk::Record().set("status", std::string("offline")));
        sdk::Identity who;
        who.id = nodeId;
        who.name = node->text("name");
        who.organizationId = node->integer("organization_id").value_or(0);
        std::vector<std::string> defaults;
        if (!rooms) {
            defaults = nodeRooms(*node);
            rooms = &defaults;
        }
        for (const auto& room : *rooms)
            emit(room, "node-offline", nodeSummary(who));
    }

    /// Every third of the presence timeout (worker thread): this process's connections are extended,
    /// and nodes whose every connection expired (their process died or lost the database) go offline,
    /// whichever process notices first.
    void heartbeat() {
        std::vector<sdk::Id> mine;
        for (const auto& [id, count] : nodeSockets)
            mine.push_back(id);
        transaction([&](sdk::Store& store) {
            if (firstHeartbeat)
                // Connections this process held before it restarted are gone.
                store.execute("UPDATE dq_presence SET expires_at = '' WHERE process = ?", {settings.process});
            firstHeartbeat = false;
            refreshPresence(store, mine);
            if (!mine.empty()) {
                // Swept while this process could not refresh (it lost the database for longer than
                // the timeout) although its sockets stayed: online again.
                std::vector<sdk::Value> ids(mine.begin(), mine.end());
                for (const auto& node : store.select(
                         "node", sdk::Query()
                                     .add(sdk::Condition::in("id", ids))
                                     .add(sdk::Condition::equal("status", std::string("offline"))))) {
                    store.update("node", node.id, sdk::Record().set("status", std::string("online")));
                    sdk::Identity who;
                    who.id = node.id;
                    who.name = node.text("name");
                    who.organizationId = node.integer("organization_id").value_or(0);
                    for (const auto& room : nodeRooms(node))
                        emit(room, "node-online", nodeSummary(who));
                }
            }
            if (store.dialect() == "postgresql")
                // One sweeper at a time, so each node-offline is announced once.
                store.query("SELECT 1 FROM pg_advisory_xact_lock(?)", {kPresenceLock});
            const auto now = sdk::nowUtc();
            std::vector<sdk::Id> expired;
            for (const auto& row :
                 store.query("SELECT DISTINCT node_id FROM dq_presence WHERE expires_at < ?", {now}).rows)
                expired.push_back(row.at(0).convert<sdk::Id>());
            if (expired.empty())
                return;
            store.execute("DELETE FROM dq_presence WHERE expires_at < ?", {now});
            for (auto id : expired)
                if (store.query("SELECT 1 FROM dq_presence WHERE node_id = ?", {id}).rows.empty()) {
                    channelLog().information("event channel: node %?d: its connection expired; offline", id);
                    goOffline(store, id);
                }
        });
    }

    void onClientEvent(const std::shared_ptr<Session>& s, const std::string& name,
                       const Poco::Dynamic::Var& arg, std::optional<long long> ack) {
        {
            std::lock_guard lock(s->m);
            if (!s->joined)
                return;
        }
        const auto& who = *s->who;
        const bool isNode = who.is(sdk::ClientKind::Node);
        if (name == "ping") {
            if (isNode)
                transaction([&](sdk::Store& store) {
                    store.update(
                        "node", who.id,
                        sdk::Record().set("status", std::string("online")).set("last_seen", sdk::nowUtc()));
                });
        } else if (name == "node_info_update" && isNode) {
            if (arg.type() == typeid(Poco::JSON::Object::Ptr))
                storeNodeInfo(who.id, arg.extract<Poco::JSON::Object::Ptr>());
        } else if (name == "algorithm_status_change" && isNode) {
            if (arg.type() == typeid(Poco::JSON::Object::Ptr)) {
                auto in = arg.extract<Poco::JSON::Object::Ptr>();
                Poco::JSON::Object::Ptr out = new Poco::JSON::Object(*in);
                if (in->has("result_id"))
                    out->set("run_id", in->get("result_id"));
                // The node's own collaboration, not the payload's: a node speaks only to its own.
                emit("collaboration_" + std::to_string(who.collaborationId.value_or(0)),
                     "algorithm_status_change", out);
            }
        } else if (name == "message" || name == "error") {
            channelLog().information("event channel: %s from %s: %s", name, who.name, scalarText(arg));
        } else {
            channelLog().debug("event channel: ignored event '%s' from %s", name, who.name);
        }
        if (ack)
            send(s, encodeSocketPacket(SocketType::Ack, kNamespace, "[]", ack));
    }

    void storeNodeInfo(sdk::Id nodeId, const Poco::JSON::Object::Ptr& info) {
        transaction([&](sdk::Store& store) {
            for (const auto& [key, value] : *info) {
                for (const auto& row :
                     store.select("nodeconfig", sdk::Query()
                                                    .add(sdk::Condition::equal("node_id", nodeId))
                                                    .add(sdk::Condition::equal("key", key))))
                    store.remove("nodeconfig", row.id);
                std::vector<std::string> values;
                if (value.type() == typeid(Poco::JSON::Array::Ptr)) {
                    for (const auto& item : *value.extract<Poco::JSON::Array::Ptr>())
                        values.push_back(scalarText(item));
                } else {
                    values.push_back(scalarText(value));
                }
                for (const auto& v : values)
                    store.insert("nodeconfig",
                                 sdk::Record().set("node_id", nodeId).set("key", key).set("value", v));
            }
        });
    }

    // -- the bus --

    void onBusEvent(const std::string& room, const std::string& event, const Poco::Dynamic::Var& payload) {
        std::vector<std::shared_ptr<Session>> targets;
        {
            std::lock_guard lock(mutex);
            auto it = rooms.find(room);
            if (it == rooms.end())
                return;
            targets.assign(it->second.begin(), it->second.end());
        }
        const auto packet = encodeEvent(kNamespace, event, payload);
        const auto frame = encodeWebSocketFrame(WebSocketOpcode::Text, packet);
        const bool queued = targets.size() > kDirectFanOut;
        for (const auto& s : targets) {
            std::lock_guard lock(s->m);
            sendLocked(*s, packet, &frame, queued);
        }
    }

    // -- HTTP side (HTTP worker threads) --

    void servePolling(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response,
                      const std::string& sid) {
        const auto& method = request.getMethod();
        if (method == "OPTIONS") {
            if (!env.cors) {
                response.set("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
                response.set("Access-Control-Allow-Headers", "Authorization, Content-Type");
            }
            answer(response, 204, "");
            return;
        }
        if (sid.empty()) {
            if (method != "GET") {
                answer(response, 400, engineError(3, "Bad request"), "application/json");
                return;
            }
            if (sessionCount() >= settings.maxSessions) {
                answer(response, 503, engineError(3, "Too many connections"), "application/json");
                return;
            }
            auto s = newSession(bearer(request.get("Authorization", "")));
            answer(response, 200, openPacket(*s, true));
            return;
        }
        auto s = find(sid);
        if (!s) {
            answer(response, 400, engineError(1, "Session ID unknown"), "application/json");
            return;
        }
        if (method == "GET") {
            std::string body;
            bool overlapping = false;
            {
                std::unique_lock lock(s->m);
                if (s->pollWaiting) {
                    overlapping = true;
                } else {
                    s->pollWaiting = true;
                    auto ready = [&] { return !s->queue.empty() || !s->open || s->wakePoll || s->upgraded; };
                    // A waiting poll holds an HTTP worker thread. While other connections queue for
                    // one, it answers a noop at once and the client polls again behind them.
                    const auto deadline = Clock::now() + std::chrono::milliseconds(settings.pingIntervalMs);
                    while (!ready() && Clock::now() < deadline && !workersScarce())
                        s->cv.wait_until(lock, std::min(deadline, Clock::now() + kScarcityCheck), ready);
                    for (const auto& packet : s->queue)
                        body += (body.empty() ? "" : std::string(1, kRecordSeparator)) + packet;
                    s->queue.clear();
                    s->wakePoll = false;
                    if (body.empty())
                        body =
                            std::string(1, static_cast<char>(s->open ? EngineType::Noop : EngineType::Close));
                    s->pollWaiting = false;
                    s->lastPollEnd = Clock::now();
                }
            }
            if (overlapping) {
                closeSession(s, "two polls at once");
                answer(response, 400, engineError(3, "Bad request"), "application/json");
                return;
            }
            if (workersScarce())
                response.setKeepAlive(false);
            answer(response, 200, body);
            return;
        }
        if (method == "POST") {
            std::string body;
            auto& in = request.stream();
            char buffer[8192];
            while (in.read(buffer, sizeof(buffer)) || in.gcount() > 0) {
                body.append(buffer, static_cast<std::size_t>(in.gcount()));
                if (body.size() > settings.maxPayload) {
                    closeSession(s, "payload too large");
                    answer(response, 413, engineError(3, "Payload too large"), "application/json");
                    return;
                }
            }
            for (const auto& packet : splitPayload(body))
                onEnginePacket(s, packet);
            answer(response, 200, "ok", "text/html");
            return;
        }
        answer(response, 400, engineError(2, "Bad handshake method"), "application/json");
    }

    void serveWebSocket(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response,
                        const std::string& sid) {
        std::shared_ptr<Session> s;
        if (!sid.empty()) {
            s = find(sid);
            bool usable = false;
            if (s) {
                std::lock_guard lock(s->m);
                usable = s->open && !s->upgraded;
            }
            if (!usable) {
                answer(response, 400, engineError(1, "Session ID unknown"), "application/json");
                return;
            }
        } else if (sessionCount() >= settings.maxSessions) {
            answer(response, 503, engineError(3, "Too many connections"), "application/json");
            return;
        }
        std::shared_ptr<Connection> c;
        try {
            // Poco::Net::WebSocket answers 101 and detaches the socket from the HTTP connection
            // (HTTPServerRequestImpl::detachSocket), so this HTTP thread is free when we return.
            c = std::make_shared<Connection>(Poco::Net::WebSocket(request, response), settings.maxPayload);
        } catch (const Poco::Net::WebSocketException& e) {
            if (e.code() == Poco::Net::WebSocket::WS_ERR_HANDSHAKE_UNSUPPORTED_VERSION)
                response.set("Sec-WebSocket-Version", Poco::Net::WebSocket::WEBSOCKET_VERSION);
            answer(response, 400, engineError(3, "Bad WebSocket handshake: " + e.message()),
                   "application/json");
            return;
        }
        ::fcntl(c->fd, F_SETFL, ::fcntl(c->fd, F_GETFL) | O_NONBLOCK);
        int one = 1;
        ::setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (s) {
            c->probe = true;
            c->session = s;
        } else {
            s = newSession(bearer(request.get("Authorization", "")));
            std::lock_guard lock(s->m);
            s->upgraded = true;
            s->ws = c;
            c->session = s;
        }
        {
            std::lock_guard lock(mutex);
            connections[c->fd] = c;
        }
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.fd = c->fd;
        epoll_ctl(epollFd, EPOLL_CTL_ADD, c->fd, &ev);
        if (!c->probe)
            sendText(c, openPacket(*s, false));
    }

    // -- the reactor thread --

    void runReactor() {
        epoll_event events[256];
        auto lastSweep = Clock::now();
        // The first heartbeat at once: it expires what this process held before a restart.
        auto lastHeartbeat = Clock::now() - std::chrono::hours(1);
        while (running) {
            int n = epoll_wait(epollFd, events, 256, 200);
            for (int i = 0; i < n; ++i) {
                int fd = events[i].data.fd;
                if (fd == wakeFd) {
                    std::uint64_t value;
                    (void)!::read(wakeFd, &value, sizeof(value));
                    writeQueued();
                    continue;
                }
                std::shared_ptr<Connection> c;
                {
                    std::lock_guard lock(mutex);
                    auto it = connections.find(fd);
                    if (it != connections.end())
                        c = it->second;
                }
                if (!c)
                    continue;
                if (events[i].events & EPOLLOUT)
                    flush(c);
                if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                    readFrom(c);
            }
            if (Clock::now() - lastSweep >= std::chrono::milliseconds(200)) {
                lastSweep = Clock::now();
                sweep();
            }
            if (Clock::now() - lastHeartbeat >= std::chrono::milliseconds(settings.presenceTimeoutMs / 3)) {
                lastHeartbeat = Clock::now();
                post([this] { heartbeat(); });
            }
        }
    }

    /// Writes what queueFrame() queued, one send per connection however many frames it holds.
    void writeQueued() {
        std::vector<std::shared_ptr<Connection>> batch;
        {
            std::lock_guard lock(scheduledMutex);
            batch.swap(toWrite);
        }
        for (const auto& c : batch)
            flush(c);
    }

    void flush(const std::shared_ptr<Connection>& c) {
        std::lock_guard lock(c->outMutex);
        c->scheduled = false;
        if (c->closing)
            return;
        while (!c->out.empty()) {
            auto n = ::send(c->fd, c->out.data(), c->out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n <= 0)
                break;
            c->out.erase(0, static_cast<std::size_t>(n));
        }
        // An idle connection keeps no buffer from a burst (10,000 of them would hold megabytes).
        if (c->out.empty() && c->out.capacity() > 1024)
            std::string().swap(c->out);
        // The rest when the client reads again.
        if (c->out.empty() == c->wantWrite) {
            c->wantWrite = !c->out.empty();
            epoll_event ev{};
            ev.events = c->wantWrite ? EPOLLIN | EPOLLOUT : EPOLLIN;
            ev.data.fd = c->fd;
            epoll_ctl(epollFd, EPOLL_CTL_MOD, c->fd, &ev);
        }
    }

    /// The connection is gone: forget it, close the socket and, when it carried a session, that too.
    void release(const std::shared_ptr<Connection>& c) {
        {
            std::lock_guard lock(c->outMutex);
            c->closing = true;
            c->out.clear();
        }
        epoll_ctl(epollFd, EPOLL_CTL_DEL, c->fd, nullptr);
        {
            std::lock_guard lock(mutex);
            connections.erase(c->fd);
        }
        if (auto s = c->session.lock()) {
            bool carried = false;
            {
                std::lock_guard lock(s->m);
                carried = s->ws == c;
            }
            if (carried)
                closeSession(s, "WebSocket closed");
        }
        try {
            c->socket.close();
        } catch (const std::exception&) {
        }
    }

    void readFrom(const std::shared_ptr<Connection>& c) {
        char buffer[65536];
        std::size_t total = 0;
        for (;;) {
            auto n = ::recv(c->fd, buffer, sizeof(buffer), MSG_DONTWAIT);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
                release(c);
                return;
            }
            if (n < 0)
                break;
            c->decoder.feed(buffer, static_cast<std::size_t>(n));
            total += static_cast<std::size_t>(n);
            try {
                while (auto message = c->decoder.next())
                    onMessage(c, *message);
            } catch (const WebSocketViolation& v) {
                channelLog().information("event channel: closing a WebSocket: %s", v.reason);
                closeConnection(c, v.closeCode, v.reason);
                release(c);
                return;
            }
            // Fairness: level-triggered epoll brings us back for the rest.
            if (total >= 4 * sizeof(buffer))
                break;
        }
    }

    void onMessage(const std::shared_ptr<Connection>& c, const WebSocketMessage& message) {
        switch (message.opcode) {
        case WebSocketOpcode::Ping:
            sendFrame(c, encodeWebSocketFrame(WebSocketOpcode::Pong, message.payload));
            return;
        case WebSocketOpcode::Pong:
            return;
        case WebSocketOpcode::Close:
            throw WebSocketViolation{1000, "client closed the WebSocket"};
        case WebSocketOpcode::Binary:
            throw WebSocketViolation{1003, "binary messages are not supported"};
        default:
            break;
        }
        auto s = c->session.lock();
        if (!s)
            throw WebSocketViolation{1000, "session closed"};
        if (c->probe) {
            if (message.payload == "2probe") {
                sendText(c, "3probe");
                std::lock_guard lock(s->m);
                s->wakePoll = true;
                s->cv.notify_all();
            } else if (message.payload == "5") {
                std::lock_guard lock(s->m);
                if (!s->open)
                    throw WebSocketViolation{1000, "session closed"};
                c->probe = false;
                s->ws = c;
                s->upgraded = true;
                for (const auto& packet : s->queue)
                    sendText(c, packet);
                s->queue.clear();
                s->cv.notify_all();
            } else {
                throw WebSocketViolation{1002, "expected the upgrade probe"};
            }
            return;
        }
        onEnginePacket(s, message.payload);
    }

    void sweep() {
        std::vector<std::shared_ptr<Session>> all;
        {
            std::lock_guard lock(mutex);
            all.reserve(sessions.size());
            for (const auto& [sid, s] : sessions)
                all.push_back(s);
        }
        const auto now = Clock::now();
        const auto interval = std::chrono::milliseconds(settings.pingIntervalMs);
        const auto timeout = std::chrono::milliseconds(settings.pingTimeoutMs);
        for (const auto& s : all) {
            std::string why;
            {
                std::lock_guard lock(s->m);
                if (!s->open)
                    continue;
                if (s->pongDeadline && now > *s->pongDeadline)
                    why = "ping timeout";
                else if (!s->joined &&
                         now - s->created > std::chrono::milliseconds(settings.connectTimeoutMs))
                    why = "did not join " + kNamespace + " in time";
                else if (!s->upgraded && !s->pollWaiting && now - s->lastPollEnd > interval + timeout)
                    why = "stopped polling";
                else if (!s->pongDeadline && now - s->lastPing >= interval) {
                    s->lastPing = now;
                    s->pongDeadline = now + timeout;
                    sendLocked(*s, std::string(1, static_cast<char>(EngineType::Ping)));
                }
            }
            if (!why.empty())
                closeSession(s, why);
        }
    }
};

// ---- EventChannel ----

EventChannel::EventChannel(EventChannelEnvironment env, EventChannelSettings settings)
    : impl_(std::make_unique<Impl>(std::move(env), std::move(settings))) {}

EventChannel::~EventChannel() {
    stop();
}

void EventChannel::start() {
    auto& d = *impl_;
    if (d.running)
        return;
    d.epollFd = epoll_create1(EPOLL_CLOEXEC);
    d.wakeFd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (d.epollFd < 0 || d.wakeFd < 0)
        throw std::runtime_error("event channel: cannot create epoll/eventfd (out of file descriptors?)");
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = d.wakeFd;
    epoll_ctl(d.epollFd, EPOLL_CTL_ADD, d.wakeFd, &ev);
    d.running = true;
    d.reactor = std::thread([&d] { d.runReactor(); });
    d.worker = std::thread([&d] { d.runWorker(); });
    if (d.env.bus)
        d.subscription = d.env.bus->subscribe(
            [&d](const std::string& room, const std::string& event, const Poco::Dynamic::Var& payload) {
                d.onBusEvent(room, event, payload);
            });
}

void EventChannel::stop() {
    auto& d = *impl_;
    if (!d.running.exchange(false))
        return;
    if (d.env.bus)
        d.env.bus->unsubscribe(d.subscription);
    std::uint64_t one = 1;
    (void)!::write(d.wakeFd, &one, sizeof(one));
    d.reactor.join();
    {
        std::lock_guard lock(d.workMutex);
        d.work.clear();
        d.workCv.notify_all();
    }
    d.worker.join();
    std::map<std::string, std::shared_ptr<Session>> sessions;
    std::map<int, std::shared_ptr<Connection>> connections;
    {
        std::lock_guard lock(d.mutex);
        sessions.swap(d.sessions);
        connections.swap(d.connections);
        d.rooms.clear();
    }
    for (const auto& [sid, s] : sessions) {
        std::lock_guard lock(s->m);
        s->open = false;
        s->cv.notify_all();
    }
    for (const auto& [fd, c] : connections) {
        d.closeConnection(c, 1001, "server shutting down");
        try {
            c->socket.close();
        } catch (const std::exception&) {
        }
    }
    ::close(d.epollFd);
    ::close(d.wakeFd);
}

bool EventChannel::handle(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) {
    auto& d = *impl_;
    Poco::URI uri;
    try {
        uri = Poco::URI(request.getURI());
    } catch (const Poco::Exception&) {
        return false; // not ours to judge; the API answers malformed requests
    }
    const auto& path = uri.getPath();
    const auto base = d.settings.path.substr(0, d.settings.path.size() - 1);
    if (path != base && path.compare(0, d.settings.path.size(), d.settings.path) != 0)
        return false;
    if (d.env.cors)
        for (const auto& [name, value] : d.env.cors(request))
            response.set(name, value);
    else
        response.set("Access-Control-Allow-Origin", "*");
    if (!d.running) {
        answer(response, 503, engineError(3, "The server is shutting down"), "application/json");
        return true;
    }
    std::string eio, transport, sid;
    for (const auto& [key, value] : uri.getQueryParameters()) {
        if (key == "EIO")
            eio = value;
        else if (key == "transport")
            transport = value;
        else if (key == "sid")
            sid = value;
    }
    if (eio != "4") {
        answer(response, 400, engineError(5, "Unsupported protocol version (this server speaks EIO=4)"),
               "application/json");
        return true;
    }
    if (transport == "polling")
        d.servePolling(request, response, sid);
    else if (transport == "websocket")
        d.serveWebSocket(request, response, sid);
    else
        answer(response, 400, engineError(0, "Transport unknown"), "application/json");
    return true;
}

std::size_t EventChannel::sessions() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->sessions.size();
}

std::size_t EventChannel::connectedSockets() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->joinedCount;
}

} // namespace dq::kernel
