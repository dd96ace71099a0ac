// The event bus: what each subscriber receives, in which order, and what it is spared.
#include "tlsgate/common/event_bus.h"

#include <gtest/gtest.h>

#include <thread>

namespace tlsgate {
namespace {

TlsSessionEvent session(TlsSessionEventKind kind, std::string id) {
    TlsSessionEvent e;
    e.kind = kind;
    e.sessionId = std::move(id);
    return e;
}

CertificateEvent certificate(CertificateEventKind kind, std::string id) {
    CertificateEvent e;
    e.kind = kind;
    e.certId = std::move(id);
    return e;
}

std::vector<Event> drain(Subscription& subscription) {
    std::vector<Event> events;
    subscription.popBatch(events, 100000, std::chrono::milliseconds(0));
    return events;
}

TEST(EventBus, FilteredSubscriberGetsOnlyWhatItTakesAndIsNotWokenForTheRest) {
    EventBus bus;
    auto all = bus.subscribe("all", 16);
    auto certificates = bus.subscribe("certificates", 16, [](const Event& e) {
        return std::holds_alternative<CertificateEvent>(e);
    });
    bus.publish(session(TlsSessionEventKind::Connected, "s1"));
    bus.publish(certificate(CertificateEventKind::Imported, "c1"));
    bus.publish(session(TlsSessionEventKind::Closed, "s1"));
    bus.publish(certificate(CertificateEventKind::Removed, "c1"));

    const auto got = drain(*certificates);
    ASSERT_EQ(got.size(), 2U);
    EXPECT_EQ(std::get<CertificateEvent>(got[0]).kind, CertificateEventKind::Imported);
    EXPECT_EQ(std::get<CertificateEvent>(got[1]).kind, CertificateEventKind::Removed);
    // Events it does not take neither fill its queue nor count as dropped.
    EXPECT_EQ(certificates->dropped(), 0U);

    const auto everything = drain(*all);
    ASSERT_EQ(everything.size(), 4U);
    EXPECT_EQ(std::get<TlsSessionEvent>(everything[0]).kind, TlsSessionEventKind::Connected);
    EXPECT_EQ(std::get<CertificateEvent>(everything[1]).kind, CertificateEventKind::Imported);
    EXPECT_EQ(std::get<TlsSessionEvent>(everything[2]).kind, TlsSessionEventKind::Closed);
    EXPECT_EQ(std::get<CertificateEvent>(everything[3]).kind, CertificateEventKind::Removed);
    EXPECT_EQ(bus.published(), 4U);
}

TEST(EventBus, AFullSubscriberShedsWithoutHoldingBackTheOthers) {
    EventBus bus;
    auto small = bus.subscribe("small", 2);
    auto large = bus.subscribe("large", 10);
    for (int i = 0; i < 5; ++i) {
        bus.publish(session(TlsSessionEventKind::Connected, std::to_string(i)));
    }
    EXPECT_EQ(drain(*small).size(), 2U);
    EXPECT_EQ(small->dropped(), 3U);
    EXPECT_EQ(drain(*large).size(), 5U);
    EXPECT_EQ(large->dropped(), 0U);
}

TEST(EventBus, DroppingTheLastReferenceUnsubscribes) {
    EventBus bus;
    auto kept = bus.subscribe("kept", 8);
    std::weak_ptr<Subscription> gone = bus.subscribe("gone", 8);
    EXPECT_TRUE(gone.expired());
    bus.publish(session(TlsSessionEventKind::Connected, "s1"));
    auto later = bus.subscribe("later", 8);  // sees only what is published from now on
    bus.publish(session(TlsSessionEventKind::Closed, "s1"));
    EXPECT_EQ(drain(*kept).size(), 2U);
    const auto got = drain(*later);
    ASSERT_EQ(got.size(), 1U);
    EXPECT_EQ(std::get<TlsSessionEvent>(got[0]).kind, TlsSessionEventKind::Closed);
}

TEST(EventBus, ConcurrentPublishersLoseNothingAndKeepEachOnesOrder) {
    EventBus bus;
    constexpr int kThreads = 4;
    constexpr int kEach = 2000;
    auto all = bus.subscribe("all", kThreads * kEach);
    std::vector<std::thread> publishers;
    for (int t = 0; t < kThreads; ++t) {
        publishers.emplace_back([&bus, t] {
            for (int i = 0; i < kEach; ++i) {
                auto e = session(TlsSessionEventKind::Connected, std::to_string(t));
                e.commands = i;
                bus.publish(e);
            }
        });
    }
    for (auto& p : publishers) {
        p.join();
    }
    const auto got = drain(*all);
    ASSERT_EQ(got.size(), static_cast<std::size_t>(kThreads * kEach));
    std::vector<int> next(kThreads, 0);
    for (const auto& event : got) {
        const auto& e = std::get<TlsSessionEvent>(event);
        const int t = std::stoi(e.sessionId);
        EXPECT_EQ(e.commands, next[t]) << "publisher " << t;
        next[t] = e.commands + 1;
    }
    EXPECT_EQ(all->dropped(), 0U);
}

}  // namespace
}  // namespace tlsgate
