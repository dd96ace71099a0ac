// The clock every time-dependent decision reads (expiry, renewal, retries); tests inject a fake.
// Thread-safe; never fails.
#pragma once

#include <atomic>
#include <chrono>

namespace tlsgate {

using TimePoint = std::chrono::system_clock::time_point;

/// Source of wall-clock time. Production code takes a `const Clock&` instead of calling
/// system_clock::now(), so tests can cross certificate thresholds without waiting.
class Clock {
  public:
    virtual ~Clock() = default;
    virtual TimePoint now() const = 0;
};

/// The real clock.
class SystemClock final : public Clock {
  public:
    TimePoint now() const override { return std::chrono::system_clock::now(); }
    /// A process-wide instance, for callers that have no clock injected.
    static const SystemClock& instance();
};

/// A clock that only moves when told to; for tests.
class FakeClock final : public Clock {
  public:
    explicit FakeClock(TimePoint start) : now_(start.time_since_epoch().count()) {}
    TimePoint now() const override { return TimePoint(TimePoint::duration(now_.load())); }
    void set(TimePoint t) { now_ = t.time_since_epoch().count(); }
    void advance(std::chrono::seconds d) {
        now_ += std::chrono::duration_cast<TimePoint::duration>(d).count();
    }

  private:
    std::atomic<TimePoint::rep> now_;
};

}  // namespace tlsgate
