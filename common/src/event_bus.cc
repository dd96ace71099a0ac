// Bounded fan-out of events to subscribers. Publishers share the subscriber list's lock (the list
// changes only when someone subscribes) and take each queue's lock only to push.
#include "tlsgate/common/event_bus.h"

#include <algorithm>
#include <mutex>

namespace tlsgate {

std::shared_ptr<Subscription> EventBus::subscribe(std::string name, std::size_t capacity,
                                                  EventFilter filter) {
    auto subscription =
        std::make_shared<Subscription>(std::move(name), capacity, std::move(filter));
    std::unique_lock lock(mutex_);
    std::erase_if(subscribers_, [](const auto& weak) { return weak.expired(); });
    subscribers_.push_back(subscription);
    return subscription;
}

void EventBus::publish(const Event& event) {
    published_.fetch_add(1, std::memory_order_relaxed);
    std::shared_lock lock(mutex_);
    for (const auto& weak : subscribers_) {
        // A subscriber dropped meanwhile is skipped here and erased by the next subscribe().
        if (const auto subscription = weak.lock(); subscription && subscription->wants(event)) {
            subscription->push(event);
        }
    }
}

}  // namespace tlsgate
