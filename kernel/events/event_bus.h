// The event bus: sdk::Events for plugins and the kernel. With an outbox attached (every kernel with a
// database), an emitted event becomes a row of the transaction it was emitted in and reaches the
// subscribers when the outbox reader delivers that row, in this process and in every other one on
// the same database. Without one (unit tests of the channel) events reach the subscribers at once.
#pragma once

#include <dq/sdk/services.h>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace dq::kernel {

class Outbox;

struct Event {
    std::string room;
    std::string name;
    Poco::Dynamic::Var payload;
};

class EventBus : public sdk::Events {
public:
    void emit(const std::string& room, const std::string& event, const Poco::Dynamic::Var& payload) override;
    int subscribe(Handler handler) override;
    void unsubscribe(int id) override;

    /// Sends every later emit through `outbox` (nullptr: deliver at once again).
    void attach(Outbox* outbox);
    /// Hands one event to every subscriber now, in subscription order; a subscriber that throws is
    /// logged and skipped. The outbox reader calls this for each row it delivers.
    void deliver(const Event& event);

private:
    std::mutex mutex_;
    std::map<int, Handler> handlers_;
    int next_ = 1;
    Outbox* outbox_ = nullptr;
};

} // namespace dq::kernel
