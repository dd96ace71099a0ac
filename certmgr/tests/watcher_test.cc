// Unit tests: the certificate watcher publishes the store's journal on the bus, once, and reports
// changes made by another process (another Store instance here).
#include <gtest/gtest.h>

#include <atomic>

#include "test_ca.h"
#include "tlsgate/certmgr/watcher.h"

namespace tlsgate::certmgr {
namespace {

using namespace std::chrono_literals;

class WatcherTest : public ::testing::Test {
  protected:
    StoreOptions options() const {
        StoreOptions o;
        o.directory = dir_.file("store");
        o.hostname = "mx.example.com";
        o.useSystemCa = false;
        return o;
    }
    std::vector<CertificateEvent> drain(Subscription& subscription) {
        std::vector<CertificateEvent> out;
        while (auto event = subscription.pop(0ms)) {
            out.push_back(std::get<CertificateEvent>(*event));
        }
        return out;
    }

    testing::TempDir dir_;
    FakeClock clock_{parseTime("2026-06-01T00:00:00Z")};
    EventBus bus_;
};

TEST_F(WatcherTest, PublishesStoreChangesOnceAndNotifiesTheOwner) {
    Store daemonStore(options(), clock_);
    daemonStore.ensureDefault();
    auto subscription = bus_.subscribe("test", 100);
    int changes = 0;
    CertificateWatcher watcher(daemonStore, bus_, 50ms, 3600s, [&] { ++changes; });

    watcher.tick(false);
    auto events = drain(*subscription);
    ASSERT_GE(events.size(), 2u);
    EXPECT_EQ(events[0].kind, CertificateEventKind::Created);
    EXPECT_EQ(changes, 0);  // nothing changed since the watcher started
    EXPECT_EQ(watcher.tick(false), 0u);

    Store cliStore(options(), clock_);  // as the certmgr CLI would
    cliStore.remove("2");
    EXPECT_EQ(watcher.tick(false), 1u);
    events = drain(*subscription);
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].kind, CertificateEventKind::Removed);
    EXPECT_EQ(events[0].certId, "2");
    EXPECT_EQ(changes, 1);
    EXPECT_TRUE(watcher.lastError().empty());
}

TEST_F(WatcherTest, ExpiryCrossingBecomesOneEventWithItsThreshold) {
    Store store(options(), clock_);
    store.ensureDefault();
    CertificateWatcher watcher(store, bus_, 50ms, 3600s);
    watcher.tick(true);
    auto subscription = bus_.subscribe("test", 100);
    clock_.advance(std::chrono::days(825 - 10));  // renewal off below: 10 days left
    StoreOptions noRenew = options();
    noRenew.autoRenew = false;
    Store quiet(noRenew, clock_);
    CertificateWatcher quietWatcher(quiet, bus_, 50ms, 3600s);
    quietWatcher.tick(true);
    auto events = drain(*subscription);
    ASSERT_EQ(events.size(), 2u);  // both default certificates, threshold 14
    for (const auto& e : events) {
        EXPECT_EQ(e.kind, CertificateEventKind::Expiring);
        EXPECT_EQ(e.thresholdDays, 14);
        EXPECT_EQ(e.daysLeft, 10);
    }
    quietWatcher.tick(true);
    EXPECT_TRUE(drain(*subscription).empty());
}

TEST_F(WatcherTest, ThreadPicksUpAnotherProcessChangeWithinItsPollInterval) {
    Store store(options(), clock_);
    store.ensureDefault();
    auto subscription = bus_.subscribe("test", 100);
    std::atomic<int> changes{0};
    CertificateWatcher watcher(store, bus_, 20ms, 3600s, [&] { ++changes; });
    watcher.start();
    Store(options(), clock_).remove("1");
    auto deadline = std::chrono::steady_clock::now() + 10s;
    bool removedSeen = false;
    while (!removedSeen && std::chrono::steady_clock::now() < deadline) {
        if (auto event = subscription->pop(100ms)) {
            removedSeen = std::get<CertificateEvent>(*event).kind == CertificateEventKind::Removed;
        }
    }
    watcher.stop();
    EXPECT_TRUE(removedSeen);
    EXPECT_GE(changes.load(), 1);
}

}  // namespace
}  // namespace tlsgate::certmgr
