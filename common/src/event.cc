// Names of event kinds, as they appear in logs and SIEM records.
#include "tlsgate/common/event.h"

namespace tlsgate {

std::string_view toString(CertificateEventKind kind) {
    switch (kind) {
        case CertificateEventKind::Created:
            return "created";
        case CertificateEventKind::Generated:
            return "generated";
        case CertificateEventKind::Renewed:
            return "renewed";
        case CertificateEventKind::Imported:
            return "imported";
        case CertificateEventKind::Activated:
            return "activated";
        case CertificateEventKind::Deactivated:
            return "deactivated";
        case CertificateEventKind::Removed:
            return "removed";
        case CertificateEventKind::Expiring:
            return "expiring";
        case CertificateEventKind::Expired:
            return "expired";
        case CertificateEventKind::CaAdded:
            return "ca-added";
        case CertificateEventKind::CaRemoved:
            return "ca-removed";
    }
    return "unknown";
}

std::string_view toString(Direction direction) {
    return direction == Direction::Inbound ? "inbound" : "outbound";
}

std::string_view toString(TlsSessionEventKind kind) {
    switch (kind) {
        case TlsSessionEventKind::Connected:
            return "connected";
        case TlsSessionEventKind::StartTlsOffered:
            return "starttls-offered";
        case TlsSessionEventKind::HandshakeSucceeded:
            return "handshake-succeeded";
        case TlsSessionEventKind::HandshakeFailed:
            return "handshake-failed";
        case TlsSessionEventKind::TlsRequired:
            return "tls-required";
        case TlsSessionEventKind::ClientCertificate:
            return "client-certificate";
        case TlsSessionEventKind::PolicyDecision:
            return "policy-decision";
        case TlsSessionEventKind::MessageAccepted:
            return "message-accepted";
        case TlsSessionEventKind::Delivered:
            return "delivered";
        case TlsSessionEventKind::Deferred:
            return "deferred";
        case TlsSessionEventKind::Bounced:
            return "bounced";
        case TlsSessionEventKind::Closed:
            return "closed";
    }
    return "unknown";
}

}  // namespace tlsgate
