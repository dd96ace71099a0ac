// The in-process event bus: publishers (mail path, certificate watcher) never block; each
// subscriber has a bounded queue and counts what it had to shed. Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "tlsgate/common/event.h"

namespace tlsgate {

/// One subscriber's bounded queue. Obtained from EventBus::subscribe; dropping the last
/// shared_ptr unsubscribes.
class Subscription {
  public:
    Subscription(std::string name, std::size_t capacity);

    /// Waits up to `wait` for an event; empty when none arrived or the bus closed.
    std::optional<Event> pop(std::chrono::milliseconds wait);
    /// Waits up to `wait` for an event, then moves up to `max` waiting events to the end of
    /// `out` under one lock; how many it moved (0: none arrived, or the bus closed).
    std::size_t popBatch(std::vector<Event>& out, std::size_t max, std::chrono::milliseconds wait);
    /// Whether close() was called (later pushes are dropped; what is queued can still be popped).
    bool closed();
    /// Events shed because this queue was full.
    std::uint64_t dropped() const { return dropped_.load(); }
    const std::string& name() const { return name_; }
    /// Wakes a waiting pop() for good; later pushes are dropped.
    void close();

  private:
    friend class EventBus;
    bool tryPush(const Event& event);

    const std::string name_;
    const std::size_t capacity_;
    std::mutex mutex_;
    std::condition_variable ready_;
    std::deque<Event> queue_;
    bool closed_ = false;
    std::atomic<std::uint64_t> dropped_{0};
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
