// The severity table of docs/events.md, row by row, and its translation to each format's scale;
// failures are gtest assertions.
#include <gtest/gtest.h>

#include "tlsgate/siem/severity.h"

namespace tlsgate::siem {
namespace {

TlsSessionEvent session(TlsSessionEventKind kind, bool success = true, std::string rule = {}) {
    TlsSessionEvent e;
    e.kind = kind;
    e.success = success;
    e.rule = std::move(rule);
    return e;
}

CertificateEvent certificate(CertificateEventKind kind, std::int64_t daysLeft = 100,
                             std::optional<int> threshold = std::nullopt) {
    CertificateEvent e;
    e.kind = kind;
    e.daysLeft = daysLeft;
    e.thresholdDays = threshold;
    return e;
}

TEST(SiemSeverity, SessionTable) {
    using K = TlsSessionEventKind;
    EXPECT_EQ(severityOf(session(K::Connected)), Severity::Informational);
    EXPECT_EQ(severityOf(session(K::StartTlsOffered)), Severity::Informational);
    EXPECT_EQ(severityOf(session(K::HandshakeSucceeded)), Severity::Informational);
    EXPECT_EQ(severityOf(session(K::HandshakeFailed, false)), Severity::Warning);
    EXPECT_EQ(severityOf(session(K::TlsRequired, false)), Severity::Warning);
    EXPECT_EQ(severityOf(session(K::ClientCertificate, true)), Severity::Informational);
    EXPECT_EQ(severityOf(session(K::ClientCertificate, false)), Severity::Warning);
    EXPECT_EQ(severityOf(session(K::PolicyDecision, false, "tls-required")), Severity::Warning);
    EXPECT_EQ(severityOf(session(K::PolicyDecision, false, "client-certificate-required")),
              Severity::Warning);
    EXPECT_EQ(severityOf(session(K::PolicyDecision, false, "relay-denied")), Severity::Warning);
    EXPECT_EQ(severityOf(session(K::MessageAccepted)), Severity::Informational);
    EXPECT_EQ(severityOf(session(K::Delivered)), Severity::Informational);
    EXPECT_EQ(severityOf(session(K::Deferred, false)), Severity::Notice);
    EXPECT_EQ(severityOf(session(K::Deferred, false, "tls-required")), Severity::Warning);
    EXPECT_EQ(severityOf(session(K::Bounced, false)), Severity::Error);
    EXPECT_EQ(severityOf(session(K::Closed)), Severity::Informational);
}

TEST(SiemSeverity, CertificateTable) {
    using K = CertificateEventKind;
    EXPECT_EQ(severityOf(certificate(K::Expiring, 30, 30)), Severity::Notice);
    EXPECT_EQ(severityOf(certificate(K::Expiring, 14, 14)), Severity::Warning);
    EXPECT_EQ(severityOf(certificate(K::Expiring, 7, 7)), Severity::Warning);
    EXPECT_EQ(severityOf(certificate(K::Expiring, 1, 1)), Severity::Error);
    EXPECT_EQ(severityOf(certificate(K::Expiring, 20)), Severity::Notice);  // no threshold: days
    EXPECT_EQ(severityOf(certificate(K::Expiring, 0)), Severity::Error);
    EXPECT_EQ(severityOf(certificate(K::Expired, -1)), Severity::Error);
    EXPECT_EQ(severityOf(certificate(K::Removed)), Severity::Notice);
    EXPECT_EQ(severityOf(certificate(K::CaRemoved)), Severity::Notice);
    for (auto kind : {K::Created, K::Generated, K::Renewed, K::Imported, K::Activated,
                      K::Deactivated, K::CaAdded}) {
        EXPECT_EQ(severityOf(certificate(kind)), Severity::Informational) << toString(kind);
    }
}

TEST(SiemSeverity, EventVariantDispatches) {
    EXPECT_EQ(severityOf(Event{session(TlsSessionEventKind::Bounced, false)}), Severity::Error);
    EXPECT_EQ(severityOf(Event{certificate(CertificateEventKind::Expired, -3)}), Severity::Error);
}

TEST(SiemSeverity, Scales) {
    struct Row {
        Severity severity;
        int syslog, cef, leef, ocsf;
        std::string_view name, ocsfName;
    };
    const Row rows[] = {
        {Severity::Emergency, 0, 10, 10, 6, "emergency", "Fatal"},
        {Severity::Alert, 1, 9, 9, 5, "alert", "Critical"},
        {Severity::Critical, 2, 8, 8, 5, "critical", "Critical"},
        {Severity::Error, 3, 7, 7, 4, "error", "High"},
        {Severity::Warning, 4, 5, 5, 3, "warning", "Medium"},
        {Severity::Notice, 5, 3, 3, 2, "notice", "Low"},
        {Severity::Informational, 6, 1, 1, 1, "informational", "Informational"},
        {Severity::Debug, 7, 0, 1, 1, "debug", "Informational"},
    };
    for (const auto& r : rows) {
        EXPECT_EQ(syslogCode(r.severity), r.syslog) << r.name;
        EXPECT_EQ(cefSeverity(r.severity), r.cef) << r.name;
        EXPECT_EQ(leefSeverity(r.severity), r.leef) << r.name;
        EXPECT_EQ(ocsfSeverityId(r.severity), r.ocsf) << r.name;
        EXPECT_EQ(toString(r.severity), r.name);
        EXPECT_EQ(ocsfSeverityName(r.severity), r.ocsfName) << r.name;
    }
}

}  // namespace
}  // namespace tlsgate::siem
