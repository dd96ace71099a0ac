// The severity table of docs/events.md and its translation to each SIEM scale; pure, never fails.
#include "tlsgate/siem/severity.h"

namespace tlsgate::siem {

Severity severityOf(const TlsSessionEvent& event) {
    switch (event.kind) {
        case TlsSessionEventKind::HandshakeFailed:
        case TlsSessionEventKind::TlsRequired:
        case TlsSessionEventKind::PolicyDecision:
            return Severity::Warning;
        case TlsSessionEventKind::ClientCertificate:
            return event.success ? Severity::Informational : Severity::Warning;
        case TlsSessionEventKind::Deferred:
            // A TLS policy deferral will not heal by itself; a busy next hop usually will.
            return event.rule.empty() ? Severity::Notice : Severity::Warning;
        case TlsSessionEventKind::Bounced:
            return Severity::Error;
        case TlsSessionEventKind::Connected:
        case TlsSessionEventKind::StartTlsOffered:
        case TlsSessionEventKind::HandshakeSucceeded:
        case TlsSessionEventKind::MessageAccepted:
        case TlsSessionEventKind::Delivered:
        case TlsSessionEventKind::Closed:
            return Severity::Informational;
    }
    return Severity::Informational;
}

Severity severityOf(const CertificateEvent& event) {
    switch (event.kind) {
        case CertificateEventKind::Expired:
            return Severity::Error;
        case CertificateEventKind::Expiring: {
            const auto days = event.thresholdDays ? static_cast<std::int64_t>(*event.thresholdDays)
                                                  : event.daysLeft;
            if (days <= 1) {
                return Severity::Error;
            }
            return days <= 14 ? Severity::Warning : Severity::Notice;
        }
        case CertificateEventKind::Removed:
        case CertificateEventKind::CaRemoved:
            return Severity::Notice;
        case CertificateEventKind::Created:
        case CertificateEventKind::Generated:
        case CertificateEventKind::Renewed:
        case CertificateEventKind::Imported:
        case CertificateEventKind::Activated:
        case CertificateEventKind::Deactivated:
        case CertificateEventKind::CaAdded:
            return Severity::Informational;
    }
    return Severity::Informational;
}

Severity severityOf(const Event& event) {
    return std::visit([](const auto& e) { return severityOf(e); }, event);
}

std::string_view toString(Severity severity) {
    switch (severity) {
        case Severity::Emergency:
            return "emergency";
        case Severity::Alert:
            return "alert";
        case Severity::Critical:
            return "critical";
        case Severity::Error:
            return "error";
        case Severity::Warning:
            return "warning";
        case Severity::Notice:
            return "notice";
        case Severity::Informational:
            return "informational";
        case Severity::Debug:
            return "debug";
    }
    return "informational";
}

int syslogCode(Severity severity) {
    return static_cast<int>(severity);
}

int cefSeverity(Severity severity) {
    switch (severity) {
        case Severity::Emergency:
            return 10;
        case Severity::Alert:
            return 9;
        case Severity::Critical:
            return 8;
        case Severity::Error:
            return 7;
        case Severity::Warning:
            return 5;
        case Severity::Notice:
            return 3;
        case Severity::Informational:
            return 1;
        case Severity::Debug:
            return 0;
    }
    return 1;
}

int leefSeverity(Severity severity) {
    const int cef = cefSeverity(severity);
    return cef < 1 ? 1 : cef;
}

int ocsfSeverityId(Severity severity) {
    switch (severity) {
        case Severity::Emergency:
            return 6;
        case Severity::Alert:
        case Severity::Critical:
            return 5;
        case Severity::Error:
            return 4;
        case Severity::Warning:
            return 3;
        case Severity::Notice:
            return 2;
        case Severity::Informational:
        case Severity::Debug:
            return 1;
    }
    return 1;
}

std::string_view ocsfSeverityName(Severity severity) {
    switch (ocsfSeverityId(severity)) {
        case 2:
            return "Low";
        case 3:
            return "Medium";
        case 4:
            return "High";
        case 5:
            return "Critical";
        case 6:
            return "Fatal";
        default:
            return "Informational";
    }
}

}  // namespace tlsgate::siem
