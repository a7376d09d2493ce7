// The bus without an outbox: delivery to subscribers at once (outbox_test.cpp covers transactions).
#include "kernel/events/event_bus.h"

#include <gtest/gtest.h>

using dq::kernel::EventBus;

namespace {

struct Heard {
    std::vector<std::string> events;
    int subscribe(EventBus& bus) {
        return bus.subscribe([this](const std::string& room, const std::string& event,
                                    const Poco::Dynamic::Var&) { events.push_back(room + ":" + event); });
    }
};

TEST(EventBus, DeliversToEverySubscriberUntilUnsubscribed) {
    EventBus bus;
    Heard a, b;
    a.subscribe(bus);
    int id = b.subscribe(bus);
    bus.emit("collaboration_1", "new_task", 5);
    bus.unsubscribe(id);
    bus.emit("collaboration_1", "status_update", 6);
    EXPECT_EQ(a.events,
              (std::vector<std::string>{"collaboration_1:new_task", "collaboration_1:status_update"}));
    EXPECT_EQ(b.events, (std::vector<std::string>{"collaboration_1:new_task"}));
}

TEST(EventBus, OneFailingSubscriberDoesNotStopTheOthers) {
    EventBus bus;
    bus.subscribe([](const std::string&, const std::string&, const Poco::Dynamic::Var&) {
        throw std::runtime_error("subscriber broke");
    });
    Heard heard;
    heard.subscribe(bus);
    bus.emit("all_nodes", "x", 1);
    EXPECT_EQ(heard.events.size(), 1u);
}

} // namespace
