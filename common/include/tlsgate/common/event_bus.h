// The in-process event bus: publishers (mail path, certificate watcher) never block; each
// subscriber has a bounded queue and counts what it had to shed. Thread-safe.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <shared_mutex>
#include <string>
#include <vector>

#include "tlsgate/common/bounded_queue.h"
#include "tlsgate/common/event.h"

namespace tlsgate {

/// Which events a subscriber takes; an empty filter takes all. Runs on the publisher's thread
/// (the mail path): it must be cheap and must not block.
using EventFilter = std::function<bool(const Event&)>;

/// One subscriber's bounded queue (pop, popBatch, close, dropped: BoundedQueue's). Obtained from
/// EventBus::subscribe; dropping the last shared_ptr unsubscribes.
class Subscription : public BoundedQueue<Event> {
  public:
    Subscription(std::string name, std::size_t capacity, EventFilter filter = {})
        : BoundedQueue<Event>(capacity), name_(std::move(name)), filter_(std::move(filter)) {}
    const std::string& name() const { return name_; }
    /// Whether the filter takes `event`.
    bool wants(const Event& event) const { return !filter_ || filter_(event); }

  private:
    const std::string name_;
    const EventFilter filter_;
};

class EventBus {
  public:
    /// A new subscriber with room for `capacity` pending events, of those `filter` takes. A
    /// subscriber that takes few events is not woken for the others: a thread that logs
    /// certificate events costs the mail path nothing per TLS session.
    std::shared_ptr<Subscription> subscribe(std::string name, std::size_t capacity,
                                            EventFilter filter = {});
    /// Hands `event` to every live subscriber that takes it, without waiting for any of them.
    void publish(const Event& event);
    std::uint64_t published() const { return published_.load(); }

  private:
    /// Publishers share it (sessions publish concurrently); subscribe() takes it alone.
    std::shared_mutex mutex_;
    std::vector<std::weak_ptr<Subscription>> subscribers_;
    std::atomic<std::uint64_t> published_{0};
};

}  // namespace tlsgate
