// Unit tests: the queue manager's retry, lifetime and bounce rules, with a fake clock and a next
// hop that refuses connections (nothing listens on the port), and the DSN's RFC 3464 shape.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>

#include "test_ca.h"
#include "tlsgate/certmgr/certificate.h"
#include "tlsgate/gateway/queue_manager.h"

namespace tlsgate::gateway {
namespace {

using namespace std::chrono_literals;

/// A loopback port nothing listens on (bound, then closed).
std::uint16_t closedPort() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
    socklen_t length = sizeof address;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    ::close(fd);
    return ntohs(address.sin_port);
}

class QueueManagerTest : public ::testing::Test {
  protected:
    QueueManagerTest() : spool_(std::filesystem::path(dir_.path()) / "spool", clock_) {
        config_ = defaultConfig();
        config_.gateway.hostname = "mx.example.test";
        config_.send.routes = {{"down.example", "[127.0.0.1]:" + std::to_string(closedPort())}};
        config_.send.retryMin = 60s;
        config_.send.retryMax = 200s;
        config_.send.maxQueueLifetime = 1000s;
        config_.send.connectTimeout = 2s;
    }

    std::string queue(const std::string& sender, std::vector<std::string> recipients) {
        Envelope e;
        e.sender = sender;
        e.recipients = std::move(recipients);
        e.received = clock_.now();
        auto writer = spool_.begin(e);
        writer.append("Subject: test\r\nMessage-ID: <m1@client.example>\r\n\r\nbody\r\n");
        return writer.commit();
    }

    QueueManager manager() {
        auto snapshot = std::make_shared<const GatewayConfig>(config_);
        return QueueManager(snapshot, spool_, makeRouter(*snapshot), tls_, bus_, clock_);
    }

    testing::TempDir dir_;
    FakeClock clock_{certmgr::parseTime("2026-06-01T00:00:00Z")};
    Spool spool_;
    GatewayConfig config_;
    ClientTlsContextHolder tls_;
    EventBus bus_;
};

TEST_F(QueueManagerTest, TemporaryFailureBacksOffExponentiallyUpToTheMaximum) {
    const std::string id = queue("a@sender.example", {"x@down.example"});
    QueueManager m = manager();
    m.runOnce();
    DeliveryState st = spool_.state(id);
    EXPECT_EQ(st.attempts, 1);
    EXPECT_EQ(st.nextAttempt, clock_.now() + 60s);
    EXPECT_NE(st.lastError.find("4.4.1"), std::string::npos) << st.lastError;

    m.runOnce();  // not due yet: nothing happens
    EXPECT_EQ(spool_.state(id).attempts, 1);

    const std::pair<int, std::chrono::seconds> expected[] = {{2, 120s}, {3, 200s}, {4, 200s}};
    for (const auto& [attempts, delay] : expected) {
        clock_.set(spool_.state(id).nextAttempt);
        m.runOnce();
        st = spool_.state(id);
        EXPECT_EQ(st.attempts, attempts);
        EXPECT_EQ(st.nextAttempt, clock_.now() + delay);
    }
    EXPECT_TRUE(spool_.contains(id));
}

TEST_F(QueueManagerTest, LifetimeEndBouncesOnceToTheSenderWithADsn) {
    const std::string id = queue("a@sender.example", {"x@down.example"});
    QueueManager m = manager();
    m.runOnce();
    clock_.advance(1001s);
    m.runOnce();
    EXPECT_FALSE(spool_.contains(id));
    const auto left = spool_.list();
    ASSERT_EQ(left.size(), 1u);  // the DSN, and only one
    EXPECT_EQ(left[0].envelope.sender, "");
    EXPECT_EQ(left[0].envelope.recipients, std::vector<std::string>{"a@sender.example"});
    const std::string dsn = spool_.content(left[0].queueId);
    EXPECT_NE(dsn.find("Content-Type: multipart/report; report-type=delivery-status"),
              std::string::npos);
    EXPECT_NE(dsn.find("Final-Recipient: rfc822; x@down.example\r\nAction: failed\r\n"
                       "Status: 4.4.7\r\n"),
              std::string::npos)
        << dsn;
    EXPECT_NE(dsn.find("Message-ID: <m1@client.example>"), std::string::npos);  // headers back
    EXPECT_EQ(dsn.find("\r\nbody\r\n"), std::string::npos);                     // not the body
}

TEST_F(QueueManagerTest, NullSenderIsNeverBounced) {
    const std::string id = queue("", {"x@down.example"});
    QueueManager m = manager();
    m.runOnce();
    clock_.advance(1001s);
    m.runOnce();
    EXPECT_FALSE(spool_.contains(id));
    EXPECT_TRUE(spool_.list().empty());
}

TEST_F(QueueManagerTest, FlushMakesEveryMessageDueNow) {
    const std::string id = queue("a@sender.example", {"x@down.example"});
    QueueManager m = manager();
    m.runOnce();
    ASSERT_GT(spool_.state(id).nextAttempt, clock_.now());
    m.flush();
    EXPECT_LE(spool_.state(id).nextAttempt, clock_.now());
    m.runOnce();
    EXPECT_EQ(spool_.state(id).attempts, 2);
}

TEST_F(QueueManagerTest, DeferralAndBounceArePublishedAndCounted) {
    Counters counters;
    auto snapshot = std::make_shared<const GatewayConfig>(config_);
    QueueManager m(snapshot, spool_, makeRouter(*snapshot), tls_, bus_, clock_, &counters);
    auto subscription = bus_.subscribe("test", 100);
    const std::string id = queue("a@sender.example", {"x@down.example"});
    m.runOnce();
    clock_.advance(1001s);
    m.runOnce();
    std::vector<TlsSessionEventKind> kinds;
    while (auto e = subscription->pop(std::chrono::milliseconds(0))) {
        const auto& s = std::get<TlsSessionEvent>(*e);
        EXPECT_EQ(s.direction, Direction::Outbound);
        EXPECT_EQ(s.queueId, id);
        kinds.push_back(s.kind);
    }
    // A refused connection is no "connected" event: the deferral carries the connect error.
    EXPECT_EQ(kinds, (std::vector<TlsSessionEventKind>{TlsSessionEventKind::Deferred,
                                                       TlsSessionEventKind::Deferred,
                                                       TlsSessionEventKind::Bounced}));
    EXPECT_EQ(counters.messagesDeferredOther.load(), 1u);
    EXPECT_EQ(counters.messagesBounced.load(), 1u);
    EXPECT_EQ(counters.outboundConnections.load(), 0u);
}

TEST_F(QueueManagerTest, BadRouteIsAConfigurationError) {
    config_.send.routes = {{"example.com", "[unclosed:25"}};
    try {
        makeRouter(config_);
        FAIL() << "accepted a bad route";
    } catch (const ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find("send.routes = example.com=[unclosed:25"),
                  std::string::npos)
            << e.what();
    }
}

}  // namespace
}  // namespace tlsgate::gateway
