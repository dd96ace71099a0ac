// Bounded fan-out of events to subscribers; publish() takes each queue's lock only to push.
#include "tlsgate/common/event_bus.h"

#include <algorithm>

namespace tlsgate {

std::shared_ptr<Subscription> EventBus::subscribe(std::string name, std::size_t capacity) {
    auto subscription = std::make_shared<Subscription>(std::move(name), capacity);
    std::lock_guard lock(mutex_);
    subscribers_.push_back(subscription);
    return subscription;
}

void EventBus::publish(const Event& event) {
    published_.fetch_add(1);
    std::vector<std::shared_ptr<Subscription>> live;
    {
        std::lock_guard lock(mutex_);
        std::erase_if(subscribers_, [](const auto& weak) { return weak.expired(); });
        for (const auto& weak : subscribers_) {
            if (auto subscription = weak.lock()) {
                live.push_back(std::move(subscription));
            }
        }
    }
    for (const auto& subscription : live) {
        subscription->push(event);
    }
}

}  // namespace tlsgate
