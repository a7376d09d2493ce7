// The transactional outbox: every event is a row of `dq_outbox`, written in the transaction whose
// change it announces, so an event exists if and only if its change committed. Every server process
// reads the new rows in id order and hands each to its bus once (its Socket.IO clients, kernel
// subscribers), woken by LISTEN/NOTIFY on PostgreSQL or polling on SQLite. Its position is a row of
// `dq_outbox_reader`, so a restarted process goes on where it stopped. Old rows are pruned.
#pragma once

#include "kernel/db/database.h"
#include "kernel/events/event_bus.h"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace dq::kernel {

struct OutboxSettings {
    /// This process's name in `dq_outbox_reader`: stable across restarts (the kernel uses
    /// `<host>/<config name>:<port>`).
    std::string reader = "local";
    /// SQLite: how often a process looks for rows others wrote. PostgreSQL: how often it looks while
    /// its LISTEN connection is down.
    std::chrono::milliseconds poll{100};
    /// Rows older than this are deleted; a process down for longer misses what it did not read.
    std::chrono::minutes retention{60};
    /// libpq connection string for the LISTEN connection; empty on SQLite.
    std::string listenConnection;
};

class Outbox : public TransactionListener {
public:
    /// Attaches itself to `bus` (emits become rows) and to `database` (transactions carry them).
    Outbox(Database& database, EventBus& bus, OutboxSettings settings);
    ~Outbox() override;
    Outbox(const Outbox&) = delete;
    Outbox& operator=(const Outbox&) = delete;

    /// An event emitted on this thread: kept with the innermost transaction on this thread and
    /// written when it commits, dropped when it rolls back. Outside any transaction it is written
    /// in a transaction of its own at once.
    void add(Event event);

    // TransactionListener
    void begun(bool write) override;
    void committing(sdk::Store& store) override;
    void ended(bool committed) override;
    sdk::Events& events() override;

    /// Starts the reader thread that delivers new rows to the bus (servers do; the shell, import and
    /// commands only write). Reads its position first; a reader new to this database starts after
    /// the newest row.
    void startDelivery();
    /// Stops and joins the reader thread. Idempotent.
    void stopDelivery();
    /// The commits of the calling thread leave their rows to the reader thread instead of delivering
    /// them themselves (the event channel's worker: a burst of connects is not held up by its own
    /// announcements to thousands of sockets).
    static void leaveDeliveryToReaderOnThisThread();
    /// Waits until every row committed before the call has been delivered; false on timeout.
    bool settle(std::chrono::milliseconds timeout);
    /// The id of the last row delivered (0 before startDelivery()).
    std::int64_t position() const;
    /// Deletes rows older than the retention window (and positions of readers gone that long) now;
    /// the reader also does this every minute. Returns the rows deleted.
    std::int64_t prune();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace dq::kernel
