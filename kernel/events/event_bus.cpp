// Emits go to the outbox when there is one; delivery is synchronous to the subscribers.
#include "kernel/events/event_bus.h"

#include "kernel/events/outbox.h"

#include <Poco/Logger.h>

namespace dq::kernel {

void EventBus::emit(const std::string& room, const std::string& event, const Poco::Dynamic::Var& payload) {
    Outbox* outbox = nullptr;
    {
        std::lock_guard lock(mutex_);
        outbox = outbox_;
    }
    if (outbox)
        outbox->add({room, event, payload});
    else
        deliver({room, event, payload});
}

void EventBus::attach(Outbox* outbox) {
    std::lock_guard lock(mutex_);
    outbox_ = outbox;
}

void EventBus::deliver(const Event& event) {
    std::vector<Handler> targets;
    {
        std::lock_guard lock(mutex_);
        for (const auto& [id, h] : handlers_)
            targets.push_back(h);
    }
    for (const auto& h : targets) {
        try {
            h(event.room, event.name, event.payload);
        } catch (const std::exception& e) {
            Poco::Logger::get("events").error("subscriber failed on %s: %s", event.name,
                                              std::string(e.what()));
        }
    }
}

int EventBus::subscribe(Handler handler) {
    std::lock_guard lock(mutex_);
    handlers_[next_] = std::move(handler);
    return next_++;
}

void EventBus::unsubscribe(int id) {
    std::lock_guard lock(mutex_);
    handlers_.erase(id);
}

} // namespace dq::kernel
