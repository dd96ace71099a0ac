// Unit tests of the event-to-notification mapping, DateAndTime and text limits. No Net-SNMP,
// single-threaded; failures are gtest assertions.
#include "tlsgate/snmp/notification.h"

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

}  // namespace
}  // namespace tlsgate::snmp
