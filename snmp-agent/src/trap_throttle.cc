// Fixed windows per notification type, opened by the first notification (see trap_throttle.h).
// "snmp" thread only; never throws.
#include "tlsgate/snmp/trap_throttle.h"

namespace tlsgate::snmp {

TrapThrottle::TrapThrottle(int limit, std::chrono::seconds interval)
    : limit_(limit < 1 ? 1U : static_cast<std::uint32_t>(limit)),
      interval_(interval.count() < 1 ? std::chrono::seconds(1) : interval) {}

bool TrapThrottle::admit(NotificationType type, TimePoint now) {
    Window& w = windows_[static_cast<std::size_t>(type) % windows_.size()];
    if (!w.open || now >= w.start + interval_ || now < w.start) {
        w = Window{true, now, 0, 0};  // callers run closeIntervals() first to get the summary
    }
    if (w.sent < limit_) {
        ++w.sent;
        return true;
    }
    ++w.suppressed;
    ++suppressedTotal_;
    return false;
}

std::vector<TrapThrottle::Summary> TrapThrottle::closeIntervals(TimePoint now) {
    std::vector<Summary> out;
    for (std::uint32_t i = 1; i <= kNotificationTypeCount; ++i) {
        Window& w = windows_[i];
        if (w.open && (now >= w.start + interval_ || now < w.start)) {
            if (w.suppressed > 0) {
                out.push_back(Summary{static_cast<NotificationType>(i), w.suppressed});
            }
            w = Window{};
        }
    }
    return out;
}

}  // namespace tlsgate::snmp
