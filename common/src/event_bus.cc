// Bounded fan-out of events to subscribers; publish() takes each queue's lock only to push.
#include "tlsgate/common/event_bus.h"

#include <algorithm>

namespace tlsgate {

Subscription::Subscription(std::string name, std::size_t capacity)
    : name_(std::move(name)), capacity_(capacity) {}

bool Subscription::tryPush(const Event& event) {
    {
        std::lock_guard lock(mutex_);
        if (closed_ || queue_.size() >= capacity_) {
            dropped_.fetch_add(1);
            return false;
        }
        queue_.push_back(event);
    }
    ready_.notify_one();
    return true;
}

std::optional<Event> Subscription::pop(std::chrono::milliseconds wait) {
    std::unique_lock lock(mutex_);
    ready_.wait_for(lock, wait, [this] { return closed_ || !queue_.empty(); });
    if (queue_.empty()) {
        return std::nullopt;
    }
    Event event = std::move(queue_.front());
    queue_.pop_front();
    return event;
}

std::size_t Subscription::popBatch(std::vector<Event>& out, std::size_t max,
                                   std::chrono::milliseconds wait) {
    std::unique_lock lock(mutex_);
    ready_.wait_for(lock, wait, [this] { return closed_ || !queue_.empty(); });
    const std::size_t count = std::min(max, queue_.size());
    for (std::size_t i = 0; i < count; ++i) {
        out.push_back(std::move(queue_.front()));
        queue_.pop_front();
    }
    return count;
}

bool Subscription::closed() {
    std::lock_guard lock(mutex_);
    return closed_;
}

void Subscription::close() {
    {
        std::lock_guard lock(mutex_);
        closed_ = true;
    }
    ready_.notify_all();
}

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
        subscription->tryPush(event);
    }
}

}  // namespace tlsgate
