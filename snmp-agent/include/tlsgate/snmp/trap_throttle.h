// The notification rate limit: at most `limit` notifications of one type per interval; the rest
// are counted and summarized once per type and interval. Used by the "snmp" thread only; pure
// logic on an injected time, never throws.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <vector>

#include "tlsgate/snmp/notification.h"

namespace tlsgate::snmp {

class TrapThrottle {
  public:
    TrapThrottle(int limit, std::chrono::seconds interval);

    /// True when a notification of `type` may be sent at `now` (and counts it); false when it
    /// is over the limit (it is counted as suppressed). Call closeIntervals(now) first: an
    /// interval that is over is otherwise restarted here without its summary.
    bool admit(NotificationType type, TimePoint now);

    struct Summary {
        NotificationType type;
        std::uint32_t suppressed = 0;
    };
    /// Ends every interval that is over at `now`; returns the types that had notifications
    /// suppressed in the interval that ended, with how many.
    std::vector<Summary> closeIntervals(TimePoint now);

    std::chrono::seconds interval() const { return interval_; }
    std::uint64_t suppressedTotal() const { return suppressedTotal_; }

  private:
    struct Window {
        bool open = false;
        TimePoint start;
        std::uint32_t sent = 0;
        std::uint32_t suppressed = 0;
    };
    const std::uint32_t limit_;
    const std::chrono::seconds interval_;
    std::array<Window, kNotificationTypeCount + 1> windows_{};  // by NotificationType value
    std::uint64_t suppressedTotal_ = 0;
};

}  // namespace tlsgate::snmp
