// The in-process event bus: publishers (mail path, certificate watcher) never block; each
// subscriber has a bounded queue and counts what it had to shed. Thread-safe.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "tlsgate/common/bounded_queue.h"
#include "tlsgate/common/event.h"

namespace tlsgate {

/// One subscriber's bounded queue (pop, popBatch, close, dropped: BoundedQueue's). Obtained from
/// EventBus::subscribe; dropping the last shared_ptr unsubscribes.
class Subscription : public BoundedQueue<Event> {
  public:
    Subscription(std::string name, std::size_t capacity)
        : BoundedQueue<Event>(capacity), name_(std::move(name)) {}
    const std::string& name() const { return name_; }

  private:
    const std::string name_;
};

class EventBus {
  public:
    /// A new subscriber with room for `capacity` pending events.
    std::shared_ptr<Subscription> subscribe(std::string name, std::size_t capacity);
    /// Hands `event` to every live subscriber without waiting for any of them.
    void publish(const Event& event);
    std::uint64_t published() const { return published_.load(); }

  private:
    std::mutex mutex_;
    std::vector<std::weak_ptr<Subscription>> subscribers_;
    std::atomic<std::uint64_t> published_{0};
};

}  // namespace tlsgate
