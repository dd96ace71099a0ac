// Unit tests of the event-to-notification mapping, DateAndTime and text limits, and of the
// standard MTA tables' columns (mta_mib.h). No Net-SNMP, single-threaded; failures are gtest
// assertions.
#include "tlsgate/snmp/notification.h"
#include "tlsgate/snmp/mta_mib.h"
#include "tlsgate/snmp/snmp_agent.h"

#include <gtest/gtest.h>

#include <string>

namespace tlsgate::snmp {
namespace {

const std::string kFp =
    "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:"
    "67:89";

const NotifyValue* find(const Notification& n, NotifyObject object) {
    for (const auto& v : n.values) {
        if (v.object == object) {
            return &v;
        }
    }
    return nullptr;
}

std::vector<NotifyObject> objects(const Notification& n) {
    std::vector<NotifyObject> out;
    for (const auto& v : n.values) {
        out.push_back(v.object);
    }
    return out;
}

TlsSessionEvent inbound(TlsSessionEventKind kind) {
    TlsSessionEvent e;
    e.kind = kind;
    e.direction = Direction::Inbound;
    e.peerAddress = "192.0.2.1";
    e.peerPort = 40000;
    e.peerName = "client.example";
    return e;
}

TEST(Notification, NamesRoundTrip) {
    for (std::uint32_t i = 1; i <= kNotificationTypeCount; ++i) {
        const auto type = static_cast<NotificationType>(i);
        EXPECT_EQ(notificationTypeNamed(mibName(type)), type);
    }
    EXPECT_EQ(mibName(NotificationType::CertChanged), "tlsgateCertChanged");
    EXPECT_FALSE(notificationTypeNamed("coldStart"));
}

TEST(Notification, InboundHandshakeFailedCarriesPeerAndReason) {
    auto e = inbound(TlsSessionEventKind::HandshakeFailed);
    e.reason = "no shared cipher";
    const auto n = notificationFor(Event{e});
    ASSERT_TRUE(n);
    EXPECT_EQ(n->type, NotificationType::InboundHandshakeFailed);
    EXPECT_EQ(objects(*n),
              (std::vector<NotifyObject>{NotifyObject::PeerAddress, NotifyObject::PeerPort,
                                         NotifyObject::PeerName, NotifyObject::Reason}));
    EXPECT_EQ(find(*n, NotifyObject::PeerAddress)->text, "192.0.2.1");
    EXPECT_EQ(find(*n, NotifyObject::PeerPort)->number, 40000);
    EXPECT_EQ(find(*n, NotifyObject::PeerPort)->kind, NotifyValue::Kind::Unsigned);
    EXPECT_EQ(find(*n, NotifyObject::Reason)->text, "no shared cipher");
}

TEST(Notification, InboundPolicyDecisions) {
    auto e = inbound(TlsSessionEventKind::PolicyDecision);
    e.rule = "tls-required";
    e.reason = "Must issue a STARTTLS command first";
    auto n = notificationFor(Event{e});
    ASSERT_TRUE(n);
    EXPECT_EQ(n->type, NotificationType::InboundTlsRequired);
    EXPECT_EQ(find(*n, NotifyObject::PolicyRule)->text, "tls-required");

    e.rule = "client-certificate-required";
    e.peerCertSha256 = kFp;
    n = notificationFor(Event{e});
    ASSERT_TRUE(n);
    EXPECT_EQ(n->type, NotificationType::ClientCertRejected);
    EXPECT_EQ(find(*n, NotifyObject::CertSha256)->text, kFp);

    e.rule = "relay-denied";
    EXPECT_FALSE(notificationFor(Event{e}));
    EXPECT_FALSE(notificationFor(Event{inbound(TlsSessionEventKind::Connected)}));
    EXPECT_FALSE(notificationFor(Event{inbound(TlsSessionEventKind::TlsRequired)}));
}

TEST(Notification, OutboundVerifyFailedAndDeferred) {
    TlsSessionEvent e;
    e.direction = Direction::Outbound;
    e.kind = TlsSessionEventKind::PolicyDecision;
    e.rule = "tls-policy";
    e.peerName = "mx.partner.example";
    e.peerCertSubject = "CN=mx.partner.example";
    e.peerCertSha256 = "not a fingerprint";
    e.peerCertVerified = false;
    auto n = notificationFor(Event{e});
    ASSERT_TRUE(n);
    EXPECT_EQ(n->type, NotificationType::OutboundVerifyFailed);
    EXPECT_EQ(find(*n, NotifyObject::CertSha256)->text, "");  // only 95-character fingerprints

    e.peerCertVerified.reset();  // no certificate: STARTTLS not offered; the Deferred follows
    EXPECT_FALSE(notificationFor(Event{e}));

    e.kind = TlsSessionEventKind::Deferred;
    e.queueId = "0123456789abcdef0123";
    n = notificationFor(Event{e});
    ASSERT_TRUE(n);
    EXPECT_EQ(n->type, NotificationType::OutboundTlsDeferred);
    EXPECT_EQ(find(*n, NotifyObject::QueueId)->text, "0123456789abcdef0123");
    e.rule.clear();
    EXPECT_FALSE(notificationFor(Event{e}));  // deferred for another reason
}

TEST(Notification, CertificateEvents) {
    CertificateEvent e;
    e.kind = CertificateEventKind::Activated;
    e.certId = "c-1";
    e.role = "server";
    e.subject = "CN=mx.example.com";
    e.sha256Fingerprint = kFp;
    e.daysLeft = 824;
    e.notAfter = std::chrono::sys_days{std::chrono::year{2028} / 3 / 1} + std::chrono::hours(12);
    auto n = notificationFor(Event{e});
    ASSERT_TRUE(n);
    EXPECT_EQ(n->type, NotificationType::CertChanged);
    EXPECT_EQ(find(*n, NotifyObject::CertChange)->number, 5);
    EXPECT_EQ(find(*n, NotifyObject::CertRole)->number, 2);
    EXPECT_EQ(find(*n, NotifyObject::CertDaysLeft)->number, 824);
    EXPECT_EQ(find(*n, NotifyObject::CertNotAfter)->text.size(), 11u);
    EXPECT_EQ(find(*n, NotifyObject::Reason)->text, "activated");

    e.kind = CertificateEventKind::CaRemoved;
    e.role.clear();
    e.detail = "removed by certmgr";
    n = notificationFor(Event{e});
    EXPECT_EQ(find(*n, NotifyObject::CertChange)->number, 9);
    EXPECT_EQ(find(*n, NotifyObject::CertRole)->number, 1);
    EXPECT_EQ(find(*n, NotifyObject::Reason)->text, "removed by certmgr");

    e.kind = CertificateEventKind::Expiring;
    e.thresholdDays = 14;
    n = notificationFor(Event{e});
    EXPECT_EQ(n->type, NotificationType::CertExpiring);
    EXPECT_EQ(find(*n, NotifyObject::ThresholdDays)->number, 14);

    e.kind = CertificateEventKind::Expired;
    e.daysLeft = -3;
    n = notificationFor(Event{e});
    EXPECT_EQ(n->type, NotificationType::CertExpired);
    EXPECT_EQ(find(*n, NotifyObject::CertDaysLeft)->number, -3);
    EXPECT_EQ(find(*n, NotifyObject::ThresholdDays), nullptr);
}

// The agent's bus subscription takes only what SnmpAgent::takes() says: every session event that
// makes a trap must pass it, or the trap is lost; a session that went well must not wake it.
TEST(Notification, TheAgentsEventFilterTakesEverySessionEventThatMakesATrap) {
    const std::vector<std::string> rules = {
        "",           "tls-required", "client-certificate-required",
        "tls-policy", "relay-denied", "limit:connections"};
    int trapping = 0;
    for (int kind = 0; kind <= static_cast<int>(TlsSessionEventKind::Closed); ++kind) {
        for (const auto direction : {Direction::Inbound, Direction::Outbound}) {
            for (const auto& rule : rules) {
                for (const auto verified : {std::optional<bool>(), std::optional<bool>(false)}) {
                    TlsSessionEvent e;
                    e.kind = static_cast<TlsSessionEventKind>(kind);
                    e.direction = direction;
                    e.rule = rule;
                    e.peerCertVerified = verified;
                    if (notificationFor(Event{e})) {
                        ++trapping;
                        EXPECT_TRUE(SnmpAgent::takes(Event{e}))
                            << toString(e.kind) << " " << toString(direction) << " " << rule;
                    }
                }
            }
        }
    }
    EXPECT_GT(trapping, 4);  // the loop reached the trapping cases
    for (const auto kind : {TlsSessionEventKind::Connected, TlsSessionEventKind::StartTlsOffered,
                            TlsSessionEventKind::HandshakeSucceeded,
                            TlsSessionEventKind::MessageAccepted, TlsSessionEventKind::Closed}) {
        TlsSessionEvent e;
        e.kind = kind;
        e.direction = Direction::Inbound;
        EXPECT_FALSE(SnmpAgent::takes(Event{e})) << toString(kind);
    }
    // The last delivery's outcome (mtaGroupOutboundConnectFailureReason) and every certificate
    // event.
    TlsSessionEvent delivered;
    delivered.kind = TlsSessionEventKind::Delivered;
    delivered.direction = Direction::Outbound;
    EXPECT_TRUE(SnmpAgent::takes(Event{delivered}));
    EXPECT_TRUE(SnmpAgent::takes(Event{CertificateEvent{}}));
}

TEST(Notification, SummaryAndSiem) {
    const auto s =
        suppressedSummary(NotificationType::InboundTlsRequired, 7, std::chrono::seconds(60));
    EXPECT_EQ(s.type, NotificationType::NotificationsSuppressed);
    EXPECT_EQ(find(s, NotifyObject::SuppressedType)->kind, NotifyValue::Kind::Oid);
    EXPECT_EQ(find(s, NotifyObject::SuppressedType)->number, 2);
    EXPECT_EQ(find(s, NotifyObject::SuppressedCount)->number, 7);
    EXPECT_EQ(find(s, NotifyObject::IntervalSeconds)->number, 60);
    EXPECT_EQ(siemDestinationChange("kafka", false, "refused").type,
              NotificationType::SiemDestinationDown);
    EXPECT_EQ(siemDestinationChange("kafka", true, "").values.size(), 1u);
}

TEST(Notification, DateAndTimeIsUtcWithElevenOctets) {
    const TimePoint t = std::chrono::sys_days{std::chrono::year{2026} / 11 / 25} +
                        std::chrono::hours(14) + std::chrono::minutes(35) +
                        std::chrono::seconds(50) + std::chrono::milliseconds(730);
    const std::string d = dateAndTime(t);
    ASSERT_EQ(d.size(), 11u);
    EXPECT_EQ(static_cast<unsigned char>(d[0]) * 256 + static_cast<unsigned char>(d[1]), 2026);
    EXPECT_EQ(d[2], 11);
    EXPECT_EQ(d[3], 25);
    EXPECT_EQ(d[4], 14);
    EXPECT_EQ(d[5], 35);
    EXPECT_EQ(d[6], 50);
    EXPECT_EQ(d[7], 7);
    EXPECT_EQ(d[8], '+');
    EXPECT_EQ(d[9], 0);
    EXPECT_EQ(d[10], 0);
}

TEST(Notification, TruncateUtf8KeepsWholeCharacters) {
    EXPECT_EQ(truncateUtf8("abc", 5), "abc");
    EXPECT_EQ(truncateUtf8("abcdef", 3), "abc");
    EXPECT_EQ(truncateUtf8("a\xc3\xbc", 2), "a");  // ü is two octets
    EXPECT_EQ(truncateUtf8("a\xc3\xbc", 3), "a\xc3\xbc");
    EXPECT_EQ(truncateUtf8(std::string(2000, 'x'), 1024).size(), 1024u);
}

// --- the standard MTA tables (mta_mib.h)

mta::Snapshot busySnapshot() {
    mta::Snapshot s;
    s.version = "1.2.3";
    s.inboundConnections = 7;
    s.connectionsRefusedByLimit = 2;
    s.messagesAccepted = 5;
    s.bytesAccepted = 3000;
    s.messagesRejected = 1;
    s.rejectedTlsRequired = 2;
    s.relayDenied = 3;
    s.openSessions = 4;
    s.outboundConnections = 6;
    s.messagesDelivered = 3;
    s.bytesDelivered = 2048;
    s.messagesBounced = 1;
    s.queue.length = 2;
    s.queue.oldestAgeSeconds = 90;
    s.queue.bytes = 1025;
    s.queue.recipients = 3;
    s.lastInboundStamp = 1234;
    s.lastOutboundStamp = 567;
    s.sinceStart = 100000;
    s.sinceInbound = 0;
    s.sinceOutbound = 500;
    s.sinceOutboundAttempt = 200;
    s.lastDeliveryFailure = "4.4.1 connection refused";
    return s;
}

std::int64_t number(const std::optional<mta::Value>& v, mta::Value::Type type) {
    EXPECT_TRUE(v.has_value());
    if (!v) {
        return -1;
    }
    EXPECT_EQ(v->type, type);
    return v->number;
}

std::string text(const std::optional<mta::Value>& v) {
    EXPECT_TRUE(v.has_value());
    if (!v) {
        return "<none>";
    }
    EXPECT_EQ(v->type, mta::Value::Type::Text);
    return v->text;
}

using T = mta::Value::Type;

TEST(MtaMib, EveryColumnOfEveryRowHasAValue) {
    const auto s = busySnapshot();
    for (unsigned c = mta::kApplMinColumn; c <= mta::kApplMaxColumn; ++c) {
        EXPECT_TRUE(mta::applColumn(s, c).has_value()) << "applTable column " << c;
    }
    for (unsigned c = mta::kMtaMinColumn; c <= mta::kMtaMaxColumn; ++c) {
        EXPECT_TRUE(mta::mtaColumn(s, c).has_value()) << "mtaTable column " << c;
    }
    for (const auto group : {mta::kReceivingGroup, mta::kSendingGroup}) {
        for (unsigned c = mta::kGroupMinColumn; c <= mta::kGroupMaxColumn; ++c) {
            EXPECT_TRUE(mta::mtaGroupColumn(s, group, c).has_value())
                << "mtaGroupTable group " << group << " column " << c;
        }
    }
    EXPECT_FALSE(mta::applColumn(s, 1).has_value());  // applIndex: not-accessible
    EXPECT_FALSE(mta::applColumn(s, 18).has_value());
    EXPECT_FALSE(mta::mtaColumn(s, 13).has_value());
    EXPECT_FALSE(mta::mtaGroupColumn(s, mta::kReceivingGroup, 1).has_value());
    EXPECT_FALSE(mta::mtaGroupColumn(s, mta::kReceivingGroup, 35).has_value());
    EXPECT_FALSE(mta::mtaGroupColumn(s, 3, 2).has_value());
}

TEST(MtaMib, ApplTableRow) {
    const auto s = busySnapshot();
    EXPECT_EQ(text(mta::applColumn(s, 2)), "tlsgate");
    EXPECT_EQ(text(mta::applColumn(s, 4)), "1.2.3");
    EXPECT_EQ(number(mta::applColumn(s, 5), T::TimeTicks), 0);  // applUptime
    EXPECT_EQ(number(mta::applColumn(s, 6), T::Integer32), 1);  // up(1)
    EXPECT_EQ(number(mta::applColumn(s, 8), T::Gauge32), 4);    // open sessions
    EXPECT_EQ(number(mta::applColumn(s, 9), T::Gauge32), 0);
    EXPECT_EQ(number(mta::applColumn(s, 10), T::Counter32), 7);
    EXPECT_EQ(number(mta::applColumn(s, 11), T::Counter32), 6);
    EXPECT_EQ(number(mta::applColumn(s, 12), T::TimeTicks), 1234);
    EXPECT_EQ(number(mta::applColumn(s, 13), T::TimeTicks), 567);
    EXPECT_EQ(number(mta::applColumn(s, 14), T::Counter32), 2);
}

TEST(MtaMib, MtaTableRow) {
    const auto s = busySnapshot();
    EXPECT_EQ(number(mta::mtaColumn(s, 1), T::Counter32), 5);
    EXPECT_EQ(number(mta::mtaColumn(s, 2), T::Gauge32), 2);
    EXPECT_EQ(number(mta::mtaColumn(s, 3), T::Counter32), 3);
    EXPECT_EQ(number(mta::mtaColumn(s, 4), T::Counter32), 3);  // 3000 octets: 3 K-octets
    EXPECT_EQ(number(mta::mtaColumn(s, 5), T::Gauge32), 2);    // 1025 octets: 2 K-octets
    EXPECT_EQ(number(mta::mtaColumn(s, 6), T::Counter32), 2);
    EXPECT_EQ(number(mta::mtaColumn(s, 8), T::Gauge32), 3);
}

TEST(MtaMib, ReceivingGroup) {
    const auto s = busySnapshot();
    const auto g = [&s](unsigned c) { return mta::mtaGroupColumn(s, mta::kReceivingGroup, c); };
    EXPECT_EQ(number(g(2), T::Counter32), 5);
    EXPECT_EQ(number(g(3), T::Counter32), 6);  // 552 + 530 + relay denied
    EXPECT_EQ(number(g(4), T::Gauge32), 0);    // the queue is the sending group's
    EXPECT_EQ(number(g(5), T::Counter32), 0);
    EXPECT_EQ(number(g(6), T::Counter32), 3);
    EXPECT_EQ(number(g(13), T::Gauge32), 4);
    EXPECT_EQ(number(g(15), T::Counter32), 7);
    EXPECT_EQ(number(g(17), T::Integer32), 0);       // active now
    EXPECT_EQ(number(g(18), T::Integer32), 100000);  // never: since creation
    EXPECT_EQ(number(g(19), T::Counter32), 2);
    EXPECT_EQ(text(g(21)), "connection limit reached");
    EXPECT_EQ(text(g(22)), "never");
    EXPECT_EQ(text(g(25)), "receiving");
    EXPECT_EQ(number(g(30), T::Integer32), 100000);
    EXPECT_EQ(number(g(31), T::Integer32), -1);
    const auto protocol = g(24);
    ASSERT_TRUE(protocol.has_value());
    EXPECT_EQ(protocol->type, T::Oid);
    EXPECT_EQ(protocol->oid, (std::vector<std::uint32_t>{1, 3, 6, 1, 2, 1, 27, 4, 25}));
}

TEST(MtaMib, SendingGroup) {
    const auto s = busySnapshot();
    const auto g = [&s](unsigned c) { return mta::mtaGroupColumn(s, mta::kSendingGroup, c); };
    EXPECT_EQ(number(g(2), T::Counter32), 0);
    EXPECT_EQ(number(g(3), T::Counter32), 1);  // bounced
    EXPECT_EQ(number(g(4), T::Gauge32), 2);
    EXPECT_EQ(number(g(5), T::Counter32), 3);
    EXPECT_EQ(number(g(6), T::Counter32), 0);
    EXPECT_EQ(number(g(7), T::Gauge32), 2);
    EXPECT_EQ(number(g(8), T::Counter32), 2);
    EXPECT_EQ(number(g(10), T::Gauge32), 3);
    EXPECT_EQ(number(g(12), T::Integer32), 9000);  // 90 s in hundredths
    EXPECT_EQ(number(g(13), T::Gauge32), 0);
    EXPECT_EQ(number(g(16), T::Counter32), 6);
    EXPECT_EQ(number(g(17), T::Integer32), 100000);
    EXPECT_EQ(number(g(18), T::Integer32), 500);
    EXPECT_EQ(number(g(34), T::Integer32), 200);
    EXPECT_EQ(text(g(21)), "never");
    EXPECT_EQ(text(g(22)), "4.4.1 connection refused");
    EXPECT_EQ(text(g(25)), "sending");
}

TEST(MtaMib, QuietGatewayAndWrapping) {
    mta::Snapshot s;
    s.sinceStart = 4200;
    const auto send = [&s](unsigned c) { return mta::mtaGroupColumn(s, mta::kSendingGroup, c); };
    EXPECT_EQ(text(send(22)), "never");
    EXPECT_EQ(number(send(18), T::Integer32), 4200);
    EXPECT_EQ(text(mta::mtaGroupColumn(s, mta::kReceivingGroup, 21)), "never");
    EXPECT_EQ(number(mta::applColumn(s, 12), T::TimeTicks), 0);
    s.lastDeliveryFailure = "";
    EXPECT_EQ(text(send(22)), "");  // the last attempt succeeded
    // Counter32 wraps; Gauge32 and TimeInterval saturate.
    s.messagesAccepted = 0x100000005ULL;
    EXPECT_EQ(number(mta::mtaColumn(s, 1), T::Counter32), 5);
    s.queue.bytes = 1ULL << 50;  // 2^40 K-octets
    EXPECT_EQ(number(mta::mtaColumn(s, 5), T::Gauge32), 0xffffffffLL);
    s.sinceStart = 1LL << 40;
    EXPECT_EQ(number(send(30), T::Integer32), 2147483647);
    EXPECT_EQ(mta::kiloOctets(0), 0u);
    EXPECT_EQ(mta::kiloOctets(1), 1u);
    EXPECT_EQ(mta::kiloOctets(1024), 1u);
    EXPECT_EQ(mta::kiloOctets(1025), 2u);
}

}  // namespace
}  // namespace tlsgate::snmp
