// The [siem.NAME] keys and destination validation: good values parse, bad ones name the key.
// Failures are gtest assertions.
#include <gtest/gtest.h>

#include "sink_test_events.h"
#include "tlsgate/siem/record.h"
#include "tlsgate/siem/settings.h"

namespace tlsgate::siem {
namespace {

TEST(SiemSinkSettings, KeysParse) {
    DestinationSettings d;
    d.name = "k";
    applyDestinationKey(d, "type", "kafka");
    applyDestinationKey(d, "format", "ocsf");
    applyDestinationKey(d, "brokers", "b1:9092,b2:9092");
    applyDestinationKey(d, "topic", "tls-events");
    applyDestinationKey(d, "kafka.security.protocol", "SASL_SSL");
    applyDestinationKey(d, "buffer_max_size", "64M");
    applyDestinationKey(d, "retry_max", "2m");
    applyDestinationKey(d, "send_timeout", "750ms");
    EXPECT_EQ(d.transport, Transport::Kafka);
    EXPECT_EQ(d.format, RecordFormat::Ocsf);
    ASSERT_EQ(d.kafkaProperties.size(), 1u);
    EXPECT_EQ(d.kafkaProperties[0].first, "security.protocol");
    EXPECT_EQ(d.bufferMaxBytes, 64ULL << 20);
    EXPECT_EQ(d.retryMax, std::chrono::minutes(2));
    EXPECT_EQ(d.sendTimeout, std::chrono::milliseconds(750));
    EXPECT_NO_THROW(validateDestination(d));
}

TEST(SiemSinkSettings, BadValuesNameTheKey) {
    DestinationSettings d;
    d.name = "x";
    try {
        applyDestinationKey(d, "port", "70000");
        FAIL();
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("port = 70000"), std::string::npos) << e.what();
    }
    EXPECT_THROW(applyDestinationKey(d, "type", "syslog"), std::invalid_argument);
    EXPECT_THROW(applyDestinationKey(d, "nonsense", "1"), std::invalid_argument);
    EXPECT_THROW(applyDestinationKey(d, "buffer_max_size", "12X"), std::invalid_argument);
}

TEST(SiemSinkSettings, ValidationPerTransport) {
    DestinationSettings d = testing::tcpDestination(514);
    EXPECT_NO_THROW(validateDestination(d));
    d.transport = Transport::SyslogTls;
    EXPECT_THROW(validateDestination(d), std::invalid_argument);  // no ca_file
    d.caFile = "/etc/ssl/certs/ca-certificates.crt";
    EXPECT_NO_THROW(validateDestination(d));
    d.transport = Transport::Kafka;
    EXPECT_THROW(validateDestination(d), std::invalid_argument);  // text over kafka, no brokers
    d.format = RecordFormat::Ecs;
    d.brokers = "127.0.0.1:9092";
    d.topic = "t";
    EXPECT_NO_THROW(validateDestination(d));
    d.kafkaProperties = {{"acks", "1"}};
    EXPECT_THROW(validateDestination(d), std::invalid_argument);

    SiemSettings s;
    s.destinations = {testing::tcpDestination(1), testing::tcpDestination(2)};
    EXPECT_THROW(validateSettings(s), std::invalid_argument);  // the same name twice
}

TEST(SiemSinkRecord, KeyAndSyslogWrapping) {
    const auto event = testing::numberedEvent(7);
    const Record r =
        makeRecord(event, Transport::SyslogTcp, RecordFormat::Cef, testing::testContext());
    EXPECT_EQ(r.key, "S000007");
    EXPECT_TRUE(r.payload.starts_with("<22>1 ")) << r.payload;
    EXPECT_NE(r.payload.find("] CEF:0|tlsgate|tlsgate|0.1.0|connected|"), std::string::npos)
        << r.payload;
    const Record k = makeRecord(event, Transport::Kafka, RecordFormat::Ecs, testing::testContext());
    EXPECT_TRUE(k.payload.starts_with("{\"@timestamp\":")) << k.payload;

    CertificateEvent cert;
    cert.kind = CertificateEventKind::Expired;
    cert.certId = "c-17";
    EXPECT_EQ(
        makeRecord(Event(cert), Transport::Kafka, RecordFormat::Ocsf, testing::testContext()).key,
        "c-17");
}

TEST(SiemSinkRecord, DropNoticeInEveryFormat) {
    const auto at = std::chrono::system_clock::now();
    const auto c = testing::testContext();
    const Record syslog =
        makeDropNotice(42, "siem1", at, Transport::SyslogTcp, RecordFormat::Leef, c);
    EXPECT_TRUE(syslog.payload.starts_with("<20>1 ")) << syslog.payload;  // mail.warning
    EXPECT_NE(syslog.payload.find(" events-dropped [tlsgate@32473 action=\"events-dropped\" "
                                  "destination=\"siem1\" dropped=\"42\"] LEEF:2.0|"),
              std::string::npos)
        << syslog.payload;
    EXPECT_NE(makeDropNotice(42, "d", at, Transport::SyslogUdp, RecordFormat::Cef, c)
                  .payload.find(" cnt=42 "),
              std::string::npos);
    EXPECT_NE(makeDropNotice(42, "d", at, Transport::File, RecordFormat::Ecs, c)
                  .payload.find("\"exporter\":{\"destination\":\"d\",\"dropped\":42}"),
              std::string::npos);
    EXPECT_NE(makeDropNotice(42, "d", at, Transport::Kafka, RecordFormat::Ocsf, c)
                  .payload.find("\"count\":42"),
              std::string::npos);
}

}  // namespace
}  // namespace tlsgate::siem
