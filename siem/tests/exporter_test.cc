// The exporter end to end against a TCP listener of the test's own: order, disk spill and replay,
// drops announced once, a publisher that never waits, and a restart that replays the disk first.
// Failures are gtest assertions; waits poll with a bounded deadline.
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <thread>

#include "listeners.h"
#include "sink_test_events.h"
#include "test_ca.h"
#include "tlsgate/siem/exporter.h"
#include "tlsgate/siem/record.h"

namespace tlsgate::siem {
namespace {

using namespace std::chrono_literals;
using siem::testing::numberedEvent;
using siem::testing::TcpListener;

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout = 30s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!condition()) {
        if (std::chrono::steady_clock::now() > deadline) {
            return false;
        }
        std::this_thread::sleep_for(10ms);
    }
    return true;
}

/// The "seq=N" numbers of the text-format messages received, in order; -1 for a notice.
std::vector<int> sequence(const std::vector<std::string>& messages) {
    std::vector<int> out;
    for (const auto& m : messages) {
        const auto at = m.rfind("seq=");
        out.push_back(at == std::string::npos ? -1 : std::stoi(m.substr(at + 4)));
    }
    return out;
}

std::vector<int> range(int from, int to) {
    std::vector<int> out;
    for (int i = from; i < to; ++i) {
        out.push_back(i);
    }
    return out;
}

/// A port nobody listens on (bound, read back, closed).
std::uint16_t freePort() {
    TcpListener probe;
    probe.start();
    const auto port = probe.port();
    probe.stop();
    return port;
}

SiemSettings settingsFor(std::uint16_t port, const std::string& bufferDir) {
    SiemSettings s;
    s.context = siem::testing::testContext();
    auto d = siem::testing::tcpDestination(port);
    d.bufferDir = bufferDir;
    s.destinations.push_back(d);
    return s;
}

void publish(EventBus& bus, int from, int to) {
    for (int i = from; i < to; ++i) {
        bus.publish(numberedEvent(i));
    }
}

TEST(SiemExporter, SendsInOrder) {
    TcpListener listener;
    listener.start();
    tlsgate::testing::TempDir dir;
    EventBus bus;
    SiemExporter exporter(settingsFor(listener.port(), dir.file("buffer")), bus);
    exporter.start();
    publish(bus, 0, 1000);
    ASSERT_TRUE(listener.waitFor(1000));
    EXPECT_EQ(sequence(listener.messages()), range(0, 1000));
    ASSERT_TRUE(eventually([&] { return exporter.stats()[0].sent == 1000; }));
    const auto stats = exporter.stats()[0];
    EXPECT_EQ(stats.name, "tcp");
    EXPECT_TRUE(stats.connected);
    EXPECT_EQ(stats.dropped, 0u);
    EXPECT_EQ(stats.buffered, 0u);
    exporter.stop(2s);
}

std::vector<std::string> lines(const std::string& path) {
    std::vector<std::string> out;
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) {
        out.push_back(line);
    }
    return out;
}

TEST(SiemExporter, EachDestinationGetsItsOwnFormat) {
    TcpListener text;
    text.start();
    TcpListener cef;
    cef.start();
    tlsgate::testing::TempDir dir;
    SiemSettings settings;
    settings.context = siem::testing::testContext();
    settings.destinations.push_back(siem::testing::tcpDestination(text.port()));
    auto c = siem::testing::tcpDestination(cef.port());
    c.name = "cef";
    c.format = RecordFormat::Cef;
    settings.destinations.push_back(c);
    for (const std::string name : {"ecs1", "ecs2"}) {  // two destinations, one rendering
        DestinationSettings f;
        f.name = name;
        f.transport = Transport::File;
        f.format = RecordFormat::Ecs;
        f.path = dir.file(name + ".json");
        settings.destinations.push_back(f);
    }
    EventBus bus;
    SiemExporter exporter(settings, bus);
    exporter.start();
    publish(bus, 0, 50);
    ASSERT_TRUE(text.waitFor(50));
    ASSERT_TRUE(cef.waitFor(50));
    ASSERT_TRUE(eventually([&] {
        const auto s = exporter.stats();
        return s[2].sent == 50 && s[3].sent == 50;
    }));
    EXPECT_EQ(sequence(text.messages()), range(0, 50));
    const auto cefMessages = cef.messages();
    for (std::size_t i = 0; i < cefMessages.size(); ++i) {
        EXPECT_NE(cefMessages[i].find("CEF:0|tlsgate|"), std::string::npos) << cefMessages[i];
        EXPECT_NE(cefMessages[i].find("seq\\=" + std::to_string(i)), std::string::npos)
            << cefMessages[i];
    }
    const auto ecs1 = lines(dir.file("ecs1.json"));
    ASSERT_EQ(ecs1.size(), 50u);
    for (std::size_t i = 0; i < ecs1.size(); ++i) {
        EXPECT_EQ(ecs1[i], makeRecord(numberedEvent(static_cast<int>(i)), Transport::File,
                                      RecordFormat::Ecs, settings.context)
                               .payload);
    }
    EXPECT_EQ(lines(dir.file("ecs2.json")), ecs1);
    exporter.stop(2s);
}

TEST(SiemExporter, SpillsWhileDownAndReplaysInOrder) {
    const auto port = freePort();
    tlsgate::testing::TempDir dir;
    EventBus bus;
    SiemExporter exporter(settingsFor(port, dir.file("buffer")), bus);
    exporter.start();
    publish(bus, 0, 300);
    ASSERT_TRUE(eventually([&] { return exporter.stats()[0].buffered == 300; }));
    auto stats = exporter.stats()[0];
    EXPECT_FALSE(stats.connected);
    EXPECT_GT(stats.errors, 0u);
    EXPECT_EQ(stats.sent, 0u);

    TcpListener listener;
    listener.start(port);
    publish(bus, 300, 400);  // published while the replay runs: behind the backlog
    ASSERT_TRUE(listener.waitFor(400));
    EXPECT_EQ(sequence(listener.messages()), range(0, 400));
    ASSERT_TRUE(eventually([&] { return exporter.stats()[0].sent == 400; }));
    EXPECT_EQ(exporter.stats()[0].buffered, 0u);
    EXPECT_TRUE(exporter.stats()[0].connected);
    exporter.stop(2s);
}

TEST(SiemExporter, ReceiverStoppedMidStreamLosesNothing) {
    TcpListener listener;
    listener.start();
    tlsgate::testing::TempDir dir;
    EventBus bus;
    SiemExporter exporter(settingsFor(listener.port(), dir.file("buffer")), bus);
    exporter.start();
    publish(bus, 0, 100);
    ASSERT_TRUE(listener.waitFor(100));
    listener.stop();
    std::this_thread::sleep_for(50ms);  // the FIN reaches the exporter's socket
    publish(bus, 100, 200);
    ASSERT_TRUE(eventually([&] { return exporter.stats()[0].buffered >= 100; }));
    listener.start(listener.port());
    ASSERT_TRUE(listener.waitFor(200));
    EXPECT_EQ(sequence(listener.messages()), range(0, 200));
    exporter.stop(2s);
}

TEST(SiemExporter, FullBufferDropsAndAnnouncesOnce) {
    const auto port = freePort();
    tlsgate::testing::TempDir dir;
    EventBus bus;
    auto settings = settingsFor(port, dir.file("buffer"));
    settings.destinations[0].bufferMaxBytes = 16 * 1024;
    SiemExporter exporter(settings, bus);
    exporter.start();
    publish(bus, 0, 200);
    ASSERT_TRUE(eventually([&] {
        const auto s = exporter.stats()[0];
        return s.buffered + s.dropped == 200;
    }));
    const auto before = exporter.stats()[0];
    ASSERT_GT(before.dropped, 0u);
    ASSERT_GT(before.buffered, 0u);

    TcpListener listener;
    listener.start(port);
    const std::size_t expected = before.buffered + 1;
    ASSERT_TRUE(listener.waitFor(expected));
    std::this_thread::sleep_for(100ms);
    const auto messages = listener.messages();
    ASSERT_EQ(messages.size(), expected);
    // The notice first, with the count; then what was kept, in order (the oldest ones).
    EXPECT_NE(messages[0].find(" events-dropped [tlsgate@32473 action=\"events-dropped\" "
                               "destination=\"tcp\" dropped=\"" +
                               std::to_string(before.dropped) + "\"]"),
              std::string::npos)
        << messages[0];
    const auto seq = sequence(messages);
    EXPECT_EQ(std::vector<int>(seq.begin() + 1, seq.end()),
              range(0, static_cast<int>(before.buffered)));
    // Once announced, not again.
    publish(bus, 200, 210);
    ASSERT_TRUE(listener.waitFor(expected + 10));
    std::size_t notices = 0;
    for (const auto& m : listener.messages()) {
        notices += m.find("events-dropped") != std::string::npos ? 1 : 0;
    }
    EXPECT_EQ(notices, 1u);
    exporter.stop(2s);
}

TEST(SiemExporter, PublisherNeverWaitsForADeadDestination) {
    const auto port = freePort();
    tlsgate::testing::TempDir dir;
    EventBus bus;
    auto settings = settingsFor(port, dir.file("buffer"));
    settings.destinations[0].queueCapacity = 1000;
    SiemExporter exporter(settings, bus);
    exporter.start();
    constexpr int kEvents = 100'000;
    publish(bus, 0, kEvents);  // returns however far the sender is: the bus sheds, never waits
    EXPECT_EQ(bus.published(), static_cast<std::uint64_t>(kEvents));
    // Every event is accounted for: on disk, or dropped (queue overflow) and counted.
    ASSERT_TRUE(eventually([&] {
        const auto s = exporter.stats()[0];
        return s.buffered + s.dropped == kEvents;
    }));
    EXPECT_EQ(exporter.stats()[0].sent, 0u);
    exporter.stop(1s);
}

TEST(SiemExporter, StopKeepsTheRestOnDiskForTheNextStart) {
    const auto port = freePort();
    tlsgate::testing::TempDir dir;
    EventBus bus;
    {
        SiemExporter exporter(settingsFor(port, dir.file("buffer")), bus);
        exporter.start();
        publish(bus, 0, 150);
        ASSERT_TRUE(eventually([&] { return exporter.stats()[0].buffered == 150; }));
        exporter.stop(200ms);
        EXPECT_EQ(exporter.stats()[0].buffered, 150u);
    }
    TcpListener listener;
    listener.start(port);
    SiemExporter again(settingsFor(port, dir.file("buffer")), bus);
    EXPECT_EQ(again.stats()[0].buffered, 150u);
    again.start();
    publish(bus, 150, 200);
    ASSERT_TRUE(listener.waitFor(200));
    EXPECT_EQ(sequence(listener.messages()), range(0, 200));  // the old ones first
    again.stop(2s);
}

TEST(SiemExporter, StopFlushesWithinTheBound) {
    TcpListener listener;
    listener.start();
    tlsgate::testing::TempDir dir;
    EventBus bus;
    SiemExporter exporter(settingsFor(listener.port(), dir.file("buffer")), bus);
    exporter.start();
    publish(bus, 0, 500);
    exporter.stop(5s);
    const auto s = exporter.stats()[0];
    EXPECT_EQ(s.sent + s.buffered, 500u);
    EXPECT_EQ(s.sent, 500u);  // the receiver is up: all of it went out before stop returned
    ASSERT_TRUE(listener.waitFor(500));
}

}  // namespace
}  // namespace tlsgate::siem
