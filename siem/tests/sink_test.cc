// The sinks against receivers started by the test on loopback: UDP datagrams, TCP octet counting
// byte for byte, TLS with a test CA (and a wrong one), file rotation, Kafka on librdkafka's mock
// cluster. Failures are gtest assertions.
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
// clang-format off: the mock header needs rdkafka.h first
#include <librdkafka/rdkafka_mock.h>
// clang-format on
#include <openssl/ssl.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "listeners.h"
#include "sink_test_events.h"
#include "test_ca.h"
#include "tlsgate/siem/sink_file.h"
#include "tlsgate/siem/sink_kafka.h"
#include "tlsgate/siem/sink_syslog.h"

namespace tlsgate::siem {
namespace {

using namespace std::chrono_literals;
using siem::testing::numberedEvent;
using siem::testing::parseOctetCounted;
using siem::testing::TcpListener;
using siem::testing::testContext;
using siem::testing::UdpListener;

Deadline soon() {
    return std::chrono::steady_clock::now() + 2s;
}

Record recordOf(int n, Transport transport) {
    return makeRecord(numberedEvent(n), transport, RecordFormat::Text, testContext());
}

TEST(SiemSinkSyslog, OctetCountingFramesExactly) {
    EXPECT_EQ(SyslogStreamSink::frame("<14>1 - - - - - - hi"), "20 <14>1 - - - - - - hi");
    EXPECT_EQ(SyslogStreamSink::frame(""), "0 ");
    // Octets, not characters: "é" is two.
    EXPECT_EQ(SyslogStreamSink::frame("\xc3\xa9"), "2 \xc3\xa9");
}

TEST(SiemSinkSyslog, TcpStreamIsOctetCountedInOrder) {
    TcpListener listener;
    listener.start();
    SyslogStreamSink sink(siem::testing::tcpDestination(listener.port()));
    ASSERT_TRUE(sink.open()) << sink.lastError();
    std::string expected;
    for (int i = 0; i < 200; ++i) {
        const Record r = recordOf(i, Transport::SyslogTcp);
        expected += std::to_string(r.payload.size()) + " " + r.payload;
        ASSERT_EQ(sink.send(r), SendResult::Sent);
    }
    ASSERT_TRUE(listener.waitFor(200));
    const auto streams = listener.streams();
    ASSERT_EQ(streams.size(), 1u);
    EXPECT_EQ(streams[0], expected);  // byte for byte: "LEN SP MSG", nothing between frames
    sink.close(soon());
}

TEST(SiemSinkSyslog, TcpBatchIsTheSameStreamInFewerWrites) {
    TcpListener listener;
    listener.start();
    auto d = siem::testing::tcpDestination(listener.port());
    d.format = RecordFormat::Ecs;
    SyslogStreamSink sink(d);
    ASSERT_TRUE(sink.open()) << sink.lastError();
    // About 300 KiB of ECS records: several 64 KiB writes, frames cut across none of them.
    std::vector<Record> batch;
    std::string expected;
    for (int i = 0; i < 300; ++i) {
        batch.push_back(
            makeRecord(numberedEvent(i), Transport::SyslogTcp, RecordFormat::Ecs, testContext()));
        expected += std::to_string(batch.back().payload.size()) + " " + batch.back().payload;
    }
    ASSERT_GT(expected.size(), 4u * 64 * 1024);
    const BatchResult result = sink.sendBatch(batch);
    EXPECT_EQ(result.sent, 300u);
    EXPECT_EQ(result.queued, 0u);
    ASSERT_TRUE(listener.waitFor(300));
    const auto streams = listener.streams();
    ASSERT_EQ(streams.size(), 1u);
    EXPECT_EQ(streams[0], expected);
    sink.close(soon());
}

TEST(SiemSinkSyslog, TcpBatchToAStoppedReceiverTakesNothing) {
    TcpListener listener;
    listener.start();
    SyslogStreamSink sink(siem::testing::tcpDestination(listener.port()));
    ASSERT_TRUE(sink.open());
    listener.stop();
    std::this_thread::sleep_for(100ms);  // the FIN reaches the sink's socket
    const std::vector<Record> batch{recordOf(1, Transport::SyslogTcp),
                                    recordOf(2, Transport::SyslogTcp)};
    const BatchResult result = sink.sendBatch(batch);
    EXPECT_EQ(result.taken(), 0u);
    EXPECT_EQ(result.stop, SendResult::Failed);
    EXPECT_FALSE(sink.isOpen());
}

TEST(SiemSinkSyslog, TcpNoticesAStoppedReceiver) {
    TcpListener listener;
    listener.start();
    SyslogStreamSink sink(siem::testing::tcpDestination(listener.port()));
    ASSERT_TRUE(sink.open());
    ASSERT_EQ(sink.send(recordOf(1, Transport::SyslogTcp)), SendResult::Sent);
    ASSERT_TRUE(listener.waitFor(1));
    listener.stop();
    // The FIN arrives shortly; the next send must report the failure rather than write into it.
    SendResult result = SendResult::Sent;
    for (int i = 0; i < 100 && result == SendResult::Sent; ++i) {
        std::this_thread::sleep_for(10ms);
        result = sink.send(recordOf(2, Transport::SyslogTcp));
        if (result == SendResult::Sent) {
            break;  // written before the FIN came: acceptable only on the first try
        }
    }
    std::this_thread::sleep_for(50ms);
    EXPECT_EQ(sink.send(recordOf(3, Transport::SyslogTcp)), SendResult::Failed);
    EXPECT_FALSE(sink.isOpen());
    EXPECT_FALSE(sink.open());  // nobody listens
}

TEST(SiemSinkSyslog, UdpOneDatagramPerRecordOneByOneOrBatched) {
    UdpListener listener;
    auto d = siem::testing::tcpDestination(listener.port());
    d.transport = Transport::SyslogUdp;
    SyslogUdpSink sink(d);
    ASSERT_TRUE(sink.open()) << sink.lastError();
    std::vector<Record> records;
    for (int i = 0; i < 170; ++i) {
        records.push_back(recordOf(i, Transport::SyslogUdp));
    }
    for (std::size_t i = 0; i < 20; ++i) {
        ASSERT_EQ(sink.send(records[i]), SendResult::Sent);
    }
    // The rest as one batch: more than one sendmmsg call's worth.
    EXPECT_EQ(sink.sendBatch(std::span(records).subspan(20)).sent, 150u);
    ASSERT_TRUE(listener.waitFor(170));
    const auto datagrams = listener.datagrams();
    ASSERT_EQ(datagrams.size(), 170u);
    for (std::size_t i = 0; i < 170; ++i) {
        EXPECT_EQ(datagrams[i], records[i].payload);
    }
}

class TlsReceiver {
  public:
    TlsReceiver() {
        ca = tlsgate::testing::makeCa("SIEM Test CA");
        tlsgate::testing::CertOptions options;
        options.commonName = "siem.test";
        options.dnsNames = {"siem.test", "localhost"};
        options.extendedKeyUsages = {"serverAuth"};
        leaf = tlsgate::testing::makeLeaf(&ca, options);
        caFile = dir.file("ca.pem");
        tlsgate::testing::writeFile(caFile, tlsgate::testing::toPem(*ca.cert));
        otherCa = tlsgate::testing::makeCa("Other CA");
        otherCaFile = dir.file("other.pem");
        tlsgate::testing::writeFile(otherCaFile, tlsgate::testing::toPem(*otherCa.cert));
        context.reset(SSL_CTX_new(TLS_server_method()));
        SSL_CTX_use_certificate(context.get(), leaf.cert.get());
        SSL_CTX_use_PrivateKey(context.get(), leaf.key.get());
    }
    DestinationSettings destination(std::uint16_t port, const std::string& ca_,
                                    const std::string& name) {
        auto d = siem::testing::tcpDestination(port);
        d.transport = Transport::SyslogTls;
        d.caFile = ca_;
        d.host = "127.0.0.1";
        d.serverName = name;
        return d;
    }

    tlsgate::testing::TempDir dir;
    tlsgate::testing::TestCert ca, leaf, otherCa;
    std::string caFile, otherCaFile;
    SslCtxPtr context;
};

TEST(SiemSinkSyslog, TlsVerifiesTheReceiver) {
    TlsReceiver receiver;
    TcpListener listener(receiver.context.get());
    listener.start();

    SyslogStreamSink good(receiver.destination(listener.port(), receiver.caFile, "siem.test"));
    ASSERT_TRUE(good.open()) << good.lastError();
    for (int i = 0; i < 50; ++i) {
        ASSERT_EQ(good.send(recordOf(i, Transport::SyslogTls)), SendResult::Sent);
    }
    ASSERT_TRUE(listener.waitFor(50));
    EXPECT_EQ(listener.messages()[49], recordOf(49, Transport::SyslogTls).payload);
    good.close(soon());

    SyslogStreamSink wrongCa(
        receiver.destination(listener.port(), receiver.otherCaFile, "siem.test"));
    EXPECT_FALSE(wrongCa.open());
    EXPECT_NE(wrongCa.lastError().find("verif"), std::string::npos) << wrongCa.lastError();

    SyslogStreamSink wrongName(
        receiver.destination(listener.port(), receiver.caFile, "other.test"));
    EXPECT_FALSE(wrongName.open());
    EXPECT_NE(wrongName.lastError().find("verif"), std::string::npos) << wrongName.lastError();
}

// Rotation by size, with records sent one by one or as one batch: whole lines, no file over the
// size, the newest records in the live file.
class SiemSinkFileRotation : public ::testing::TestWithParam<bool> {};

TEST_P(SiemSinkFileRotation, JsonLinesRotatedBySize) {
    const bool batched = GetParam();
    tlsgate::testing::TempDir dir;
    DestinationSettings d;
    d.name = "file";
    d.transport = Transport::File;
    d.path = dir.file("events.json");
    d.rotateBytes = 8192;
    d.keepFiles = 2;
    FileSink sink(d);
    ASSERT_TRUE(sink.open()) << sink.lastError();
    std::size_t total = 0;
    std::vector<Record> records;
    for (int i = 0; i < 100; ++i) {
        records.push_back(
            makeRecord(numberedEvent(i), Transport::File, RecordFormat::Ecs, testContext()));
        total += records.back().payload.size() + 1;
        if (!batched) {
            ASSERT_EQ(sink.send(records.back()), SendResult::Sent);
        }
    }
    if (batched) {
        EXPECT_EQ(sink.sendBatch(records).sent, 100u);
    }
    sink.close(soon());
    ASSERT_GT(total, 3 * 8192u);  // enough to rotate more than keepFiles times
    EXPECT_TRUE(std::filesystem::exists(d.path + ".1"));
    EXPECT_TRUE(std::filesystem::exists(d.path + ".2"));
    EXPECT_FALSE(std::filesystem::exists(d.path + ".3"));
    for (const std::string& path : std::vector<std::string>{d.path, d.path + ".1", d.path + ".2"}) {
        EXPECT_LE(std::filesystem::file_size(path), 8192u) << path;
        std::ifstream in(path);
        std::string line;
        while (std::getline(in, line)) {
            EXPECT_TRUE(line.starts_with("{\"@timestamp\":") && line.ends_with("}")) << line;
        }
    }
    // The newest records are in the live file, the last one last.
    std::ifstream live(d.path);
    std::string line, last;
    while (std::getline(live, line)) {
        last = line;
    }
    EXPECT_NE(last.find("\"seq=99\""), std::string::npos) << last;
}

INSTANTIATE_TEST_SUITE_P(OneByOneAndBatched, SiemSinkFileRotation, ::testing::Bool());

struct CountingListener : SinkListener {
    std::atomic<std::uint64_t> ok{0};
    std::atomic<std::uint64_t> failed{0};
    void delivered(std::uint64_t count) override { ok += count; }
    void undelivered(Record /*record*/) override { ++failed; }
};

/// librdkafka's mock cluster, in process.
struct MockCluster {
    MockCluster() {
        char error[256];
        rd_kafka_conf_t* conf = rd_kafka_conf_new();
        handle.reset(rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error));
        cluster = rd_kafka_mock_cluster_new(handle.get(), 1);
        rd_kafka_mock_topic_create(cluster, "tls-events", 3, 1);
    }
    ~MockCluster() { rd_kafka_mock_cluster_destroy(cluster); }
    std::string bootstraps() const { return rd_kafka_mock_cluster_bootstraps(cluster); }

    KafkaPtr handle;
    rd_kafka_mock_cluster_t* cluster = nullptr;
};

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout = 20s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!condition()) {
        if (std::chrono::steady_clock::now() > deadline) {
            return false;
        }
        std::this_thread::sleep_for(10ms);
    }
    return true;
}

TEST(SiemSinkKafka, DeliveryReportsCountOnOurThread) {
    MockCluster mock;
    DestinationSettings d;
    d.name = "kafka";
    d.transport = Transport::Kafka;
    d.brokers = mock.bootstraps();
    d.topic = "tls-events";
    CountingListener listener;
    KafkaSink sink(d, listener);
    ASSERT_TRUE(sink.open()) << sink.lastError();
    for (int i = 0; i < 100; ++i) {
        ASSERT_EQ(sink.send(makeRecord(numberedEvent(i), Transport::Kafka, RecordFormat::Ecs,
                                       testContext())),
                  SendResult::Queued);
    }
    EXPECT_TRUE(eventually([&] { return listener.ok.load() == 100; })) << listener.ok.load();
    EXPECT_EQ(listener.failed.load(), 0u);
    sink.close(soon());
}

TEST(SiemSinkKafka, UndeliveredComesBackAtClose) {
    MockCluster mock;
    rd_kafka_mock_broker_set_down(mock.cluster, 1);
    DestinationSettings d;
    d.name = "kafka";
    d.transport = Transport::Kafka;
    d.brokers = mock.bootstraps();
    d.topic = "tls-events";
    CountingListener listener;
    KafkaSink sink(d, listener);
    ASSERT_TRUE(sink.open()) << sink.lastError();
    for (int i = 0; i < 10; ++i) {
        ASSERT_EQ(sink.send(makeRecord(numberedEvent(i), Transport::Kafka, RecordFormat::Ecs,
                                       testContext())),
                  SendResult::Queued);
    }
    sink.close(std::chrono::steady_clock::now() + 300ms);
    EXPECT_EQ(listener.ok.load(), 0u);
    EXPECT_EQ(listener.failed.load(), 10u);  // purged: handed back for the disk buffer
}

}  // namespace
}  // namespace tlsgate::siem
