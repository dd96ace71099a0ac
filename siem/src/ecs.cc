// The Elastic Common Schema formatter: one JSON object per event, ECS names where ECS has them and
// everything else under "tlsgate." (docs/events.md, "ECS"). Pure; never throws on event content.
#include "tlsgate/siem/formatters.h"
#include "tlsgate/siem/json_value.h"
#include "tlsgate/siem/record_fields.h"
#include "tlsgate/siem/severity.h"

namespace tlsgate::siem {
namespace {

JsonValue stringArray(std::initializer_list<std::string_view> items) {
    JsonValue a = JsonValue::array();
    for (const auto item : items) {
        a.push(JsonValue(item));
    }
    return a;
}

JsonValue eventTypes(const TlsSessionEvent& e) {
    switch (e.kind) {
        case TlsSessionEventKind::Connected:
            return stringArray({"connection", "start"});
        case TlsSessionEventKind::StartTlsOffered:
        case TlsSessionEventKind::HandshakeSucceeded:
            return stringArray({"protocol"});
        case TlsSessionEventKind::HandshakeFailed:
            return stringArray({"protocol", "error"});
        case TlsSessionEventKind::ClientCertificate:
            return e.success ? stringArray({"protocol"}) : stringArray({"protocol", "denied"});
        case TlsSessionEventKind::TlsRequired:
        case TlsSessionEventKind::PolicyDecision:
            return stringArray({"denied"});
        case TlsSessionEventKind::MessageAccepted:
        case TlsSessionEventKind::Delivered:
        case TlsSessionEventKind::Deferred:
        case TlsSessionEventKind::Bounced:
            return stringArray({"info"});
        case TlsSessionEventKind::Closed:
            return stringArray({"connection", "end"});
    }
    return stringArray({"info"});
}

JsonValue eventTypes(const CertificateEvent& e) {
    switch (e.kind) {
        case CertificateEventKind::Created:
        case CertificateEventKind::Generated:
        case CertificateEventKind::Imported:
        case CertificateEventKind::CaAdded:
            return stringArray({"creation"});
        case CertificateEventKind::Renewed:
        case CertificateEventKind::Activated:
        case CertificateEventKind::Deactivated:
            return stringArray({"change"});
        case CertificateEventKind::Removed:
        case CertificateEventKind::CaRemoved:
            return stringArray({"deletion"});
        case CertificateEventKind::Expiring:
        case CertificateEventKind::Expired:
            return stringArray({"info"});
    }
    return stringArray({"info"});
}

bool isExpiring(const Event& event) {
    const auto* c = std::get_if<CertificateEvent>(&event);
    return c != nullptr && c->kind == CertificateEventKind::Expiring;
}

void setEndpoint(JsonValue& doc, std::string_view side, const std::string& ip, std::uint16_t port) {
    const std::string prefix(side);
    doc.setIfNotEmpty(prefix + ".ip", ip);
    if (port != 0) {
        doc.set(prefix + ".port", JsonValue(static_cast<int>(port)));
    }
}

void addSession(JsonValue& doc, const TlsSessionEvent& e) {
    const Endpoints ends = endpointsOf(e);
    const bool inbound = e.direction == Direction::Inbound;
    setEndpoint(doc, "source", ends.sourceIp, ends.sourcePort);
    setEndpoint(doc, "destination", ends.destinationIp, ends.destinationPort);
    if (!inbound) {
        doc.setIfNotEmpty("destination.domain", e.peerName);  // the next hop's host name
    }
    if (e.kind == TlsSessionEventKind::Closed) {
        // source.bytes: sent by the source; inbound the client sends what we count as bytesIn.
        doc.set("source.bytes", inbound ? e.bytesIn : e.bytesOut);
        doc.set("destination.bytes", inbound ? e.bytesOut : e.bytesIn);
        doc.set("network.bytes", e.bytesIn + e.bytesOut);
    }
    doc.set("network.transport", "tcp");
    doc.set("network.protocol", "smtp");
    doc.set("network.direction", toString(e.direction));

    doc.set("tls.established", e.tls);
    if (!e.tlsVersion.empty()) {
        const auto [protocol, version] = splitTlsVersion(e.tlsVersion);
        doc.set("tls.version", version);
        doc.setIfNotEmpty("tls.version_protocol", protocol);
    }
    doc.setIfNotEmpty("tls.cipher", e.cipher);
    doc.setIfNotEmpty("tls.curve", e.group);
    doc.setIfNotEmpty("tls.client.server_name", e.serverName);
    // The peer's certificate: the client's when we receive, the server's when we send.
    const std::string peer = inbound ? "tls.client" : "tls.server";
    doc.setIfNotEmpty(peer + ".x509.subject.distinguished_name", e.peerCertSubject);
    doc.setIfNotEmpty(peer + ".x509.issuer.distinguished_name", e.peerCertIssuer);
    doc.setIfNotEmpty(peer + ".x509.serial_number", e.peerCertSerial);
    doc.setIfNotEmpty(peer + ".hash.sha256", plainHex(e.peerCertSha256));

    if (isMessageKind(e.kind)) {
        doc.set("email.direction", toString(e.direction));
        doc.setIfNotEmpty("email.from.address", e.sender);
        doc.setIfNotEmpty("email.local_id", e.queueId);
    }
    if (e.kind == TlsSessionEventKind::Closed) {
        doc.set("event.duration", static_cast<std::int64_t>(e.durationMs * 1'000'000));
    }

    doc.setIfNotEmpty("tlsgate.session_id", e.sessionId);
    doc.set("tlsgate.direction", toString(e.direction));
    doc.setIfNotEmpty("tlsgate.peer_name", e.peerName);
    if (e.cipherBits > 0) {
        doc.set("tlsgate.cipher_bits", e.cipherBits);
    }
    if (e.peerCertVerified) {
        doc.set("tlsgate.peer_certificate_verified", *e.peerCertVerified);
    }
    doc.setIfNotEmpty("tlsgate.rule", e.rule);
    doc.setIfNotEmpty("tlsgate.reason", e.reason);
    if (isMessageKind(e.kind)) {
        doc.setIfNotEmpty("tlsgate.queue_id", e.queueId);
        doc.set("tlsgate.recipient_count", e.recipientCount);
        doc.set("tlsgate.message_size", e.messageSize);
    }
    if (e.kind == TlsSessionEventKind::Closed) {
        doc.set("tlsgate.commands", e.commands);
    }
}

void addCertificate(JsonValue& doc, const CertificateEvent& e) {
    doc.setIfNotEmpty("x509.subject.distinguished_name", e.subject);
    if (e.notAfter != TimePoint{}) {
        doc.set("x509.not_after", rfc3339Millis(e.notAfter));
    }
    doc.setIfNotEmpty("tlsgate.cert_id", e.certId);
    doc.setIfNotEmpty("tlsgate.certificate.sha256", plainHex(e.sha256Fingerprint));
    if (e.notAfter != TimePoint{}) {
        doc.set("tlsgate.days_left", e.daysLeft);
    }
    if (e.thresholdDays) {
        doc.set("tlsgate.threshold_days", *e.thresholdDays);
    }
    doc.setIfNotEmpty("tlsgate.role", e.role);
    doc.setIfNotEmpty("tlsgate.detail", e.detail);
}

}  // namespace

std::string formatEcs(const Event& event, const FormatContext& context) {
    const Severity severity = severityOf(event);
    const TimePoint at = std::visit([](const auto& e) { return e.at; }, event);
    const bool alert = severity <= Severity::Warning || isExpiring(event);

    JsonValue doc = JsonValue::object();
    doc.set("@timestamp", rfc3339Millis(at));
    doc.set("ecs.version", kEcsVersion);
    doc.set("event.kind", alert ? "alert" : "event");
    doc.set("event.category", stringArray({categoryOf(event)}));
    doc.set("event.type", std::visit([](const auto& e) { return eventTypes(e); }, event));
    doc.set("event.action", actionOf(event));
    doc.set("event.outcome", outcomeOf(event));
    doc.set("event.severity", syslogCode(severity));
    doc.set("event.dataset", std::holds_alternative<CertificateEvent>(event) ? "tlsgate.certificate"
                                                                             : "tlsgate.session");
    doc.set("log.level", toString(severity));
    doc.set("message", summaryOf(event));
    doc.setIfNotEmpty("observer.hostname", context.observerHost);
    doc.set("observer.product", "tlsgate");
    doc.set("observer.vendor", "tlsgate");
    doc.setIfNotEmpty("observer.version", context.productVersion);
    if (const auto* session = std::get_if<TlsSessionEvent>(&event)) {
        addSession(doc, *session);
    } else {
        addCertificate(doc, std::get<CertificateEvent>(event));
    }
    return doc.dump();
}

}  // namespace tlsgate::siem
