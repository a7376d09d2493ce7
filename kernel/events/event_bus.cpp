// Event delivery: synchronous to subscribers, after the emitting transaction commits.
#include "kernel/events/event_bus.h"

#include <Poco/Logger.h>
#include <memory>

namespace dq::kernel {

namespace {
thread_local std::vector<Event>* held = nullptr;
}

void EventBus::emit(const std::string& room, const std::string& event, const Poco::Dynamic::Var& payload) {
    Event e{room, event, payload};
    if (held) {
        held->push_back(std::move(e));
        return;
    }
    deliver(e);
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

// Holds nest: a handler's own short transaction (Services::transaction) commits, and so delivers,
// independently of the request's transaction around it.
EventBus::Hold::Hold(EventBus& bus) : bus_(bus), outer_(held) { held = new std::vector<Event>; }

EventBus::Hold::~Hold() {
    if (open_)
        discard();
}

void EventBus::Hold::commit() {
    std::unique_ptr<std::vector<Event>> events(held);
    held = outer_;
    open_ = false;
    for (const auto& e : *events)
        bus_.deliver(e);
}

void EventBus::Hold::discard() {
    delete held;
    held = outer_;
    open_ = false;
}

} // namespace dq::kernel
