// The in-process event bus. Events emitted during a request are held until its transaction
// commits (and dropped when it rolls back), so nobody hears about work that did not happen.
#pragma once

#include <dq/sdk/services.h>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace dq::kernel {

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

    /// Holds this thread's emits until commit() or discard(). Used by the kernel around requests.
    class Hold {
    public:
        explicit Hold(EventBus& bus);
        ~Hold(); ///< discards when neither commit() nor discard() ran
        void commit();
        void discard();

    private:
        EventBus& bus_;
        std::vector<Event>* outer_;
        bool open_ = true;
    };

private:
    void deliver(const Event& event);

    std::mutex mutex_;
    std::map<int, Handler> handlers_;
    int next_ = 1;
};

} // namespace dq::kernel
