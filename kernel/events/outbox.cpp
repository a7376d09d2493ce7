// Writing: a stack of transaction frames per thread; a frame's events become rows just before its
// transaction commits. Reading: one thread per server process, in id order, position persisted
// before the rows are handed on (a process that dies after persisting had no clients left to hand
// them to), so nothing is delivered twice and nothing committed later is skipped. A commit whose
// rows directly follow the position persists the position itself and delivers its rows on its own
// thread right after COMMIT (a claim), sparing the reader's wake-up, read and position write.
#include "kernel/events/outbox.h"

#include "kernel/events/socketio/packet.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/ParseHandler.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Logger.h>
#include <Poco/Timespan.h>
#include <Poco/Timestamp.h>
#include <atomic>
#include <condition_variable>
#include <dq/sdk/http.h>
#include <libpq-fe.h>
#include <mutex>
#include <poll.h>
#include <set>
#include <sys/eventfd.h>
#include <thread>
#include <tuple>
#include <unistd.h>

namespace dq::kernel {

namespace {

/// pg_advisory_xact_lock key held from the first outbox insert to COMMIT ("dq" "ob"). Writers take
/// turns at that point, so ids are handed out in commit order: once a reader sees row n, every row
/// below n has committed or never will, and "id > position" misses nothing.
constexpr std::int64_t kOutboxLock = 0x6471'6f62;
constexpr const char* kChannel = "dq_outbox";
constexpr std::int64_t kBatch = 500;
constexpr auto kPruneEvery = std::chrono::seconds(60);

/// An outbox row as written.
struct Written {
    std::int64_t id;
    std::string room;
    std::string event;
    std::string payload; ///< JSON
};

struct Frame {
    const void* owner;
    bool write;
    std::vector<Event> events;
    bool wrote = false;
    /// The rows, when this transaction also moved the reader's position past them (a claim): this
    /// thread delivers them from memory once it commits, without a read of the table.
    std::vector<Written> claimed;
};

/// The open transactions of this thread, innermost last (several Outboxes may share a thread in
/// tests, hence the owner).
thread_local std::vector<Frame> frames;
/// Whether this thread's commits may claim their rows (Outbox::leaveDeliveryToReaderOnThisThread).
thread_local bool claimsHere = true;

Frame* innermost(const void* owner) {
    for (auto it = frames.rbegin(); it != frames.rend(); ++it)
        if (it->owner == owner)
            return &*it;
    return nullptr;
}

Poco::Logger& log() {
    return Poco::Logger::get("events");
}

/// A stored time `age` ago, comparable as text with sdk::nowUtc().
std::string utcBefore(std::chrono::seconds age) {
    Poco::Timestamp then;
    then -= Poco::Timespan(static_cast<long>(age.count()), 0);
    return sdk::storedDateTime(then);
}

Poco::Dynamic::Var parsePayload(const std::string& json) {
    // Poco's handler keeps only objects and arrays as its result: wrap, so scalars (a task id) survive.
    Poco::JSON::Parser parser(new Poco::JSON::ParseHandler(true));
    auto wrapped = parser.parse("[" + json + "]").extract<Poco::JSON::Array::Ptr>();
    return wrapped->get(0);
}

} // namespace

struct Outbox::Impl {
    Database& database;
    EventBus& bus;
    OutboxSettings settings;
    bool postgres;

    std::thread reader;
    std::atomic<bool> running{false};
    int wakeFd = -1;
    PGconn* listen = nullptr;
    std::chrono::steady_clock::time_point listenRetry{};

    mutable std::mutex mutex;
    std::condition_variable delivered;
    std::int64_t position = 0;
    // Delivery at commit (under mutex). A committing transaction of this process whose rows directly
    // follow this reader's position claims them: it stores the position past them in the same
    // transaction and, once committed, delivers them on its own thread, as the reader would have.
    // One claim at a time, never during the reader's pass over the table (nor a pass during a
    // claim), so no row is delivered twice or out of order.
    bool claimed = false;                ///< a transaction between committing() and ended() holds it
    bool reading = false;                ///< the reader delivers rows it read from the table
    bool lookNeeded = true;              ///< rows may have been written that no claim delivered
    std::condition_variable released;    ///< a claim ended
    std::chrono::steady_clock::time_point lastPrune{};
    bool warnedFailure = false;
    bool positioned = false; ///< under mutex

    Impl(Database& d, EventBus& b, OutboxSettings s)
        : database(d), bus(b), settings(std::move(s)), postgres(d.dialect() == "postgresql") {}

    /// Wakes the reader to read the table.
    void wake() {
        {
            std::lock_guard lock(mutex);
            lookNeeded = true;
        }
        if (wakeFd < 0)
            return;
        std::uint64_t one = 1;
        (void)!::write(wakeFd, &one, sizeof(one));
    }

    // -- position --

    std::int64_t newestId(sdk::Store& store) {
        auto rows = store.query("SELECT MAX(id) FROM dq_outbox").rows;
        return rows.empty() || rows[0][0].isEmpty() ? 0 : rows[0][0].convert<std::int64_t>();
    }

    void loadPosition() {
        database.transaction([&](sdk::Store& store) {
            auto rows =
                store.query("SELECT last_id FROM dq_outbox_reader WHERE reader = ?", {settings.reader}).rows;
            std::int64_t at = 0;
            if (rows.empty()) {
                at = newestId(store);
                store.execute("INSERT INTO dq_outbox_reader (reader, last_id, updated_at) VALUES (?, ?, ?)",
                              {settings.reader, at, sdk::nowUtc()});
                log().information("events: reader %s starts after outbox row %?d", settings.reader, at);
            } else {
                at = rows[0][0].convert<std::int64_t>();
                auto oldest = store.query("SELECT MIN(id) FROM dq_outbox").rows;
                if (!oldest.empty() && !oldest[0][0].isEmpty() &&
                    oldest[0][0].convert<std::int64_t>() > at + 1)
                    log().warning("events: reader %s was away longer than the retention window; the events "
                                  "after row %?d up to row %?d were pruned before it could deliver them",
                                  settings.reader, at, oldest[0][0].convert<std::int64_t>() - 1);
                else
                    log().information("events: reader %s resumes after outbox row %?d", settings.reader, at);
            }
            std::lock_guard lock(mutex);
            position = at;
            positioned = true;
        });
        delivered.notify_all();
    }

    bool isPositioned() {
        std::lock_guard lock(mutex);
        return positioned;
    }

    // -- LISTEN --

    void closeListen() {
        if (listen)
            PQfinish(listen);
        listen = nullptr;
    }

    void openListen() {
        if (!postgres || listen || std::chrono::steady_clock::now() < listenRetry)
            return;
        listen = PQconnectdb(settings.listenConnection.c_str());
        PGresult* result = nullptr;
        if (PQstatus(listen) == CONNECTION_OK)
            result = PQexec(listen, (std::string("LISTEN ") + kChannel).c_str());
        bool ok = result && PQresultStatus(result) == PGRES_COMMAND_OK;
        if (result)
            PQclear(result);
        if (!ok) {
            log().warning("events: cannot LISTEN on the database (%s); polling every %?d ms until it works",
                          std::string(PQerrorMessage(listen)), static_cast<long long>(settings.poll.count()));
            closeListen();
            listenRetry = std::chrono::steady_clock::now() + std::chrono::seconds(5);
            return;
        }
        PQsetnonblocking(listen, 1);
        // Rows written while nobody listened are read by the next pass anyway.
        wake();
    }

    /// Sleeps until a NOTIFY, a local commit, or the poll interval (a second when LISTEN works, as
    /// a safety net).
    void waitForWork() {
        openListen();
        pollfd fds[2] = {{wakeFd, POLLIN, 0}, {listen ? PQsocket(listen) : -1, POLLIN, 0}};
        int timeout = listen ? 1000 : static_cast<int>(settings.poll.count());
        if (::poll(fds, listen ? 2 : 1, timeout) <= 0 || (fds[1].revents & POLLIN)) {
            // Rows of other processes (or LISTEN is down): read the table.
            std::lock_guard lock(mutex);
            lookNeeded = true;
        }
        std::uint64_t count = 0;
        (void)!::read(wakeFd, &count, sizeof(count));
        if (listen) {
            if (!PQconsumeInput(listen)) {
                log().warning("events: lost the LISTEN connection (%s); reconnecting",
                              std::string(PQerrorMessage(listen)));
                closeListen();
                return;
            }
            while (PGnotify* n = PQnotifies(listen))
                PQfreemem(n);
        }
    }

    // -- delivery --

    /// Hands one row to the bus, as every process reads it.
    void handOut(const Written& row) {
        Event event{row.room, row.event, {}};
        try {
            event.payload = parsePayload(row.payload);
        } catch (const std::exception& e) {
            log().error("events: outbox row %?d has a payload that is no JSON (%s); delivered without", row.id,
                        std::string(e.what()));
        }
        bus.deliver(event);
    }

    /// When asked to look: every row after `position` in the table.
    void deliverNew() {
        {
            std::lock_guard lock(mutex);
            if (!lookNeeded)
                return;
            lookNeeded = false;
        }
        readTable();
    }

    /// Claims delivery of this transaction's rows [first, last] (see `claimed`): true when nothing
    /// this reader has not delivered precedes them, with its position moved past them in `store`.
    bool claim(sdk::Store& store, std::int64_t first, std::int64_t last) {
        std::int64_t expected = 0;
        {
            std::lock_guard lock(mutex);
            if (!running || !positioned || claimed || reading)
                return false;
            claimed = true;
            expected = position;
        }
        bool ok = false;
        try {
            // Rows of other processes (or of writers that did not claim) this reader has not read yet?
            auto before = store.query("SELECT MAX(id) FROM dq_outbox WHERE id < ?", {first}).rows;
            ok = before.empty() || before[0][0].isEmpty() || before[0][0].convert<std::int64_t>() <= expected;
            if (ok)
                store.execute("UPDATE dq_outbox_reader SET last_id = ?, updated_at = ? WHERE reader = ?",
                              {last, sdk::nowUtc(), settings.reader});
        } catch (...) {
            unclaim(0);
            throw;
        }
        if (!ok)
            unclaim(0);
        return ok;
    }

    /// Ends a claim: its rows up to `last` were delivered (0: rolled back or given up).
    void unclaim(std::int64_t last) {
        {
            std::lock_guard lock(mutex);
            claimed = false;
            if (last)
                position = last;
        }
        released.notify_all();
        if (last)
            delivered.notify_all();
    }

    /// Delivers every row after `position` in the table, in batches.
    void readTable() {
        for (;;) {
            std::int64_t from;
            {
                std::unique_lock lock(mutex);
                // A claim is a commit in flight whose rows follow the position: wait for it.
                released.wait(lock, [&] { return !claimed || !running; });
                from = position;
            }
            sdk::Rows rows;
            database.transaction(
                [&](sdk::Store& store) {
                    rows =
                        store.query("SELECT id, room, event, payload FROM dq_outbox WHERE id > ? ORDER BY id "
                                    "LIMIT " +
                                        std::to_string(kBatch),
                                    {from});
                },
                Database::Access::Read);
            if (rows.rows.empty())
                return;
            {
                std::lock_guard lock(mutex);
                // A claim since the read may have delivered some of these rows: read again. From here
                // on claims are refused (they would find these rows before theirs anyway).
                if (claimed || position != from)
                    continue;
                reading = true;
            }
            struct Done {
                Impl& d;
                ~Done() {
                    std::lock_guard lock(d.mutex);
                    d.reading = false;
                }
            } done{*this};
            auto last = rows.rows.back()[0].convert<std::int64_t>();
            database.transaction([&](sdk::Store& store) {
                store.execute("UPDATE dq_outbox_reader SET last_id = ?, updated_at = ? WHERE reader = ?",
                              {last, sdk::nowUtc(), settings.reader});
            });
            for (const auto& row : rows.rows)
                handOut({row[0].convert<std::int64_t>(), row[1].convert<std::string>(),
                         row[2].convert<std::string>(), row[3].convert<std::string>()});
            {
                std::lock_guard lock(mutex);
                position = last;
            }
            delivered.notify_all();
            if (static_cast<std::int64_t>(rows.rows.size()) < kBatch)
                return;
        }
    }

    std::int64_t prune() {
        const auto cutoff = utcBefore(std::chrono::duration_cast<std::chrono::seconds>(settings.retention));
        std::int64_t before = 0, after = 0;
        database.transaction([&](sdk::Store& store) {
            before = store.query("SELECT COUNT(*) FROM dq_outbox").rows[0][0].convert<std::int64_t>();
            store.execute("DELETE FROM dq_outbox WHERE created_at < ?", {cutoff});
            store.execute("DELETE FROM dq_outbox_reader WHERE updated_at < ? AND reader <> ?",
                          {cutoff, settings.reader});
            // Keeps this reader's row fresh while nothing happens.
            store.execute("UPDATE dq_outbox_reader SET updated_at = ? WHERE reader = ?",
                          {sdk::nowUtc(), settings.reader});
            after = store.query("SELECT COUNT(*) FROM dq_outbox").rows[0][0].convert<std::int64_t>();
        });
        if (before != after)
            log().information("events: pruned %?d outbox rows older than %?d minutes", before - after,
                              static_cast<long long>(settings.retention.count()));
        return before - after;
    }

    void run() {
        while (running) {
            try {
                if (!isPositioned())
                    loadPosition();
                deliverNew();
                if (std::chrono::steady_clock::now() - lastPrune > kPruneEvery) {
                    lastPrune = std::chrono::steady_clock::now();
                    prune();
                }
                if (warnedFailure)
                    log().information("events: the outbox reader works again");
                warnedFailure = false;
            } catch (const std::exception& e) {
                // The database is away: nothing is lost, the rows wait in the outbox.
                {
                    std::lock_guard lock(mutex);
                    lookNeeded = true;
                }
                if (!warnedFailure)
                    log().error("events: cannot read the outbox (%s); retrying", std::string(e.what()));
                warnedFailure = true;
                std::this_thread::sleep_for(settings.poll);
            }
            if (running)
                waitForWork();
        }
        closeListen();
    }
};

Outbox::Outbox(Database& database, EventBus& bus, OutboxSettings settings)
    : impl_(std::make_unique<Impl>(database, bus, std::move(settings))) {
    database.listen(this);
    bus.attach(this);
}

Outbox::~Outbox() {
    stopDelivery();
    impl_->bus.attach(nullptr);
    impl_->database.listen(nullptr);
}

void Outbox::add(Event event) {
    if (auto* frame = innermost(this)) {
        frame->events.push_back(std::move(event));
        return;
    }
    impl_->database.transaction([&](sdk::Store&) { innermost(this)->events.push_back(std::move(event)); });
}

void Outbox::begun(bool write) {
    frames.push_back({this, write, {}});
}

void Outbox::committing(sdk::Store& store) {
    auto* frame = innermost(this);
    if (!frame || frame->events.empty())
        return;
    const auto now = sdk::nowUtc();
    std::set<std::tuple<std::string, std::string, std::string>> seen;
    std::vector<Written> rows;
    for (const auto& e : frame->events) {
        auto payload = socketio::toJson(e.payload);
        // An insert hook may announce the same thing for several rows of one transaction (a task's
        // results): one row says it.
        if (!seen.insert({e.room, e.name, payload}).second)
            continue;
        if (rows.empty() && impl_->postgres)
            store.query("SELECT 1 FROM pg_advisory_xact_lock(?)", {kOutboxLock});
        auto id = store
                      .query("INSERT INTO dq_outbox (room, event, payload, created_at) VALUES (?, ?, ?, ?) "
                             "RETURNING id",
                             {e.room, e.name, payload, now})
                      .rows.at(0)
                      .at(0)
                      .convert<std::int64_t>();
        rows.push_back({id, e.room, e.name, std::move(payload)});
    }
    if (impl_->postgres)
        // Delivered to the listeners when (and only if) this transaction commits.
        store.execute(std::string("NOTIFY ") + kChannel);
    frame->wrote = true;
    if (claimsHere && impl_->claim(store, rows.front().id, rows.back().id))
        frame->claimed = std::move(rows);
}

void Outbox::ended(bool committed) {
    if (frames.empty() || frames.back().owner != this)
        return;
    Frame frame = std::move(frames.back());
    frames.pop_back();
    if (!frame.claimed.empty()) {
        // Delivered at commit, here: no thread to wake, no read of the table. The position was
        // stored with the rows; the claim keeps the reader and other claims waiting meanwhile.
        const auto last = committed ? frame.claimed.back().id : 0;
        try {
            if (committed)
                for (const auto& row : frame.claimed)
                    impl_->handOut(row);
        } catch (...) {
            impl_->unclaim(last);
            throw;
        }
        impl_->unclaim(last);
        return;
    }
    if (!committed)
        return;
    if (frame.wrote) {
        impl_->wake();
        return;
    }
    if (frame.write || frame.events.empty())
        return;
    // A read-only transaction (a login, a GET) emitted: its events go with the enclosing transaction,
    // or into one of their own now that it succeeded.
    if (auto* outer = innermost(this)) {
        for (auto& e : frame.events)
            outer->events.push_back(std::move(e));
        return;
    }
    impl_->database.transaction([&](sdk::Store&) { innermost(this)->events = std::move(frame.events); });
}

sdk::Events& Outbox::events() {
    return impl_->bus;
}

void Outbox::startDelivery() {
    auto& d = *impl_;
    if (d.running)
        return;
    d.wakeFd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (d.wakeFd < 0)
        throw std::runtime_error("events: cannot create an eventfd (out of file descriptors?)");
    // Before returning: rows committed after startDelivery() are this reader's to deliver.
    try {
        d.loadPosition();
    } catch (const std::exception& e) {
        log().error("events: cannot read the outbox position (%s); retrying", std::string(e.what()));
    }
    d.running = true;
    d.reader = std::thread([&d] { d.run(); });
}

void Outbox::stopDelivery() {
    auto& d = *impl_;
    if (!d.running.exchange(false))
        return;
    d.wake();
    d.released.notify_all();
    d.reader.join();
    ::close(d.wakeFd);
    d.wakeFd = -1;
}

void Outbox::leaveDeliveryToReaderOnThisThread() {
    claimsHere = false;
}

bool Outbox::settle(std::chrono::milliseconds timeout) {
    auto& d = *impl_;
    std::int64_t target = 0;
    d.database.transaction([&](sdk::Store& store) { target = d.newestId(store); }, Database::Access::Read);
    d.wake();
    std::unique_lock lock(d.mutex);
    return d.delivered.wait_for(lock, timeout, [&] { return d.positioned && d.position >= target; });
}

std::int64_t Outbox::position() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->position;
}

std::int64_t Outbox::prune() {
    return impl_->prune();
}

} // namespace dq::kernel
