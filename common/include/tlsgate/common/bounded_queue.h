// A bounded, closable queue between threads: producers never wait (what does not fit is counted
// as dropped), a consumer waits with a bound. The event bus's subscriptions and the SIEM
// exporter's per-destination record queues. Thread-safe.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <vector>

namespace tlsgate {

template <class T>
class BoundedQueue {
  public:
    explicit BoundedQueue(std::size_t capacity) : capacity_(capacity) {}

    /// Appends `item` unless the queue is full or closed (then counted as dropped); wakes a
    /// waiting consumer. Whether it was taken.
    bool push(const T& item) {
        {
            std::lock_guard lock(mutex_);
            if (!roomLocked()) {
                ++dropped_;
                return false;
            }
            queue_.push_back(item);
        }
        ready_.notify_one();
        return true;
    }

    /// Moves in what fits of `items`, under one lock, and wakes the consumer once; the rest is
    /// counted as dropped.
    void pushAll(std::vector<T>& items) {
        {
            std::lock_guard lock(mutex_);
            for (auto& item : items) {
                if (roomLocked()) {
                    queue_.push_back(std::move(item));
                } else {
                    ++dropped_;
                }
            }
        }
        ready_.notify_one();
    }

    /// Waits up to `wait` for an item; empty when none arrived or the queue is closed and empty.
    std::optional<T> pop(std::chrono::milliseconds wait) {
        std::unique_lock lock(mutex_);
        ready_.wait_for(lock, wait, [this] { return closed_ || !queue_.empty(); });
        if (queue_.empty()) {
            return std::nullopt;
        }
        T item = std::move(queue_.front());
        queue_.pop_front();
        return item;
    }

    /// Waits up to `wait` for an item, then moves up to `max` of them to the end of `out` under
    /// one lock; how many it moved.
    std::size_t popBatch(std::vector<T>& out, std::size_t max, std::chrono::milliseconds wait) {
        std::unique_lock lock(mutex_);
        ready_.wait_for(lock, wait, [this] { return closed_ || !queue_.empty(); });
        const std::size_t count = std::min(max, queue_.size());
        for (std::size_t i = 0; i < count; ++i) {
            out.push_back(std::move(queue_.front()));
            queue_.pop_front();
        }
        return count;
    }

    /// Wakes a waiting consumer for good; later pushes are dropped (what is queued can still be
    /// popped).
    void close() {
        {
            std::lock_guard lock(mutex_);
            closed_ = true;
        }
        ready_.notify_all();
    }
    /// Takes items again after close().
    void reopen() {
        std::lock_guard lock(mutex_);
        closed_ = false;
    }
    bool closed() const {
        std::lock_guard lock(mutex_);
        return closed_;
    }
    /// Items not taken because the queue was full or closed.
    std::uint64_t dropped() const {
        std::lock_guard lock(mutex_);
        return dropped_;
    }

  private:
    bool roomLocked() const { return !closed_ && queue_.size() < capacity_; }

    const std::size_t capacity_;
    mutable std::mutex mutex_;
    std::condition_variable ready_;
    std::deque<T> queue_;
    bool closed_ = false;
    std::uint64_t dropped_ = 0;
};

}  // namespace tlsgate
