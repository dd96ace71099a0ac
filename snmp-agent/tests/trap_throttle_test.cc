// Unit tests of the notification rate limit on an injected time. Single-threaded.
#include "tlsgate/snmp/trap_throttle.h"

#include <gtest/gtest.h>

namespace tlsgate::snmp {
namespace {

using std::chrono::seconds;

TEST(TrapThrottle, LimitPerTypeAndIntervalThenOneSummary) {
    TrapThrottle throttle(3, seconds(60));
    const TimePoint t0{seconds(1'000'000)};
    int sent = 0;
    for (int i = 0; i < 10; ++i) {
        sent += throttle.admit(NotificationType::InboundTlsRequired, t0 + seconds(i)) ? 1 : 0;
    }
    EXPECT_EQ(sent, 3);
    EXPECT_EQ(throttle.suppressedTotal(), 7u);
    // Another type has its own budget.
    EXPECT_TRUE(throttle.admit(NotificationType::CertChanged, t0 + seconds(10)));
    EXPECT_TRUE(throttle.closeIntervals(t0 + seconds(59)).empty());

    const auto summaries = throttle.closeIntervals(t0 + seconds(60));
    ASSERT_EQ(summaries.size(), 1u);
    EXPECT_EQ(summaries[0].type, NotificationType::InboundTlsRequired);
    EXPECT_EQ(summaries[0].suppressed, 7u);
    EXPECT_TRUE(throttle.closeIntervals(t0 + seconds(61)).empty());  // once per interval

    // A new interval: the budget is back.
    EXPECT_TRUE(throttle.admit(NotificationType::InboundTlsRequired, t0 + seconds(61)));
}

TEST(TrapThrottle, NothingSuppressedNoSummary) {
    TrapThrottle throttle(10, seconds(5));
    const TimePoint t0{seconds(1000)};
    EXPECT_TRUE(throttle.admit(NotificationType::CertExpired, t0));
    EXPECT_TRUE(throttle.closeIntervals(t0 + seconds(10)).empty());
    EXPECT_EQ(throttle.suppressedTotal(), 0u);
}

}  // namespace
}  // namespace tlsgate::snmp
