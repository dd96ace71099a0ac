// The OCSF 1.1.0 formatter: sessions as Network/Email Activity (4001/4009), certificates as Entity
// Management (3004) or Detection Finding (2004), per docs/events.md. Pure; never throws.
#include "tlsgate/siem/formatters.h"
#include "tlsgate/siem/json_value.h"
#include "tlsgate/siem/record_fields.h"
#include "tlsgate/siem/severity.h"

namespace tlsgate::siem {
namespace {

struct OcsfClass {
    int categoryUid;
    std::string_view categoryName;
    int classUid;
    std::string_view className;
    int activityId;
    std::string_view activityName;
};

constexpr std::string_view kNetworkActivity = "Network Activity";

OcsfClass classOf(const TlsSessionEvent& e) {
    const auto network = [](int id, std::string_view name) {
        return OcsfClass{4, kNetworkActivity, 4001, kNetworkActivity, id, name};
    };
    const auto email = [](int id, std::string_view name) {
        return OcsfClass{4, kNetworkActivity, 4009, "Email Activity", id, name};
    };
    switch (e.kind) {
        case TlsSessionEventKind::Connected:
            return network(1, "Open");
        case TlsSessionEventKind::Closed:
            return network(2, "Close");
        case TlsSessionEventKind::HandshakeFailed:
            return network(4, "Fail");
        case TlsSessionEventKind::TlsRequired:
        case TlsSessionEventKind::PolicyDecision:
            return network(5, "Refuse");
        case TlsSessionEventKind::ClientCertificate:
            return e.success ? network(6, "Traffic") : network(5, "Refuse");
        case TlsSessionEventKind::StartTlsOffered:
        case TlsSessionEventKind::HandshakeSucceeded:
            return network(6, "Traffic");
        case TlsSessionEventKind::MessageAccepted:
            return email(2, "Receive");
        case TlsSessionEventKind::Delivered:
        case TlsSessionEventKind::Deferred:
        case TlsSessionEventKind::Bounced:
            return email(1, "Send");
    }
    return network(99, "Other");
}

OcsfClass classOf(const CertificateEvent& e) {
    const auto entity = [](int id, std::string_view name) {
        return OcsfClass{3, "Identity & Access Management", 3004, "Entity Management", id, name};
    };
    switch (e.kind) {
        case CertificateEventKind::Created:
        case CertificateEventKind::Generated:
        case CertificateEventKind::Imported:
        case CertificateEventKind::CaAdded:
            return entity(1, "Create");
        case CertificateEventKind::Renewed:
        case CertificateEventKind::Activated:
        case CertificateEventKind::Deactivated:
            return entity(3, "Update");
        case CertificateEventKind::Removed:
        case CertificateEventKind::CaRemoved:
            return entity(4, "Delete");
        case CertificateEventKind::Expiring:
        case CertificateEventKind::Expired:
            return OcsfClass{2, "Findings", 2004, "Detection Finding", 1, "Create"};
    }
    return entity(99, "Other");
}

JsonValue endpoint(const std::string& ip, std::uint16_t port, std::string_view hostname) {
    JsonValue ep = JsonValue::object();
    ep.setIfNotEmpty("ip", ip);
    if (port != 0) {
        ep.set("port", static_cast<int>(port));
    }
    ep.setIfNotEmpty("hostname", hostname);
    return ep;
}

void addEndpoints(JsonValue& doc, const TlsSessionEvent& e, const FormatContext& context) {
    const Endpoints ends = endpointsOf(e);
    const bool inbound = e.direction == Direction::Inbound;
    // Our side carries our host name, the peer's side its EHLO or next-hop name.
    doc.set("src_endpoint",
            endpoint(ends.sourceIp, ends.sourcePort,
                     inbound ? std::string_view(e.peerName) : context.observerHost));
    doc.set("dst_endpoint",
            endpoint(ends.destinationIp, ends.destinationPort,
                     inbound ? std::string_view(context.observerHost) : e.peerName));
}

JsonValue tlsObject(const TlsSessionEvent& e) {
    JsonValue tls = JsonValue::object();
    tls.setIfNotEmpty("version", e.tlsVersion);
    tls.setIfNotEmpty("cipher", e.cipher);
    if (e.cipherBits > 0) {
        tls.set("key_length", e.cipherBits);
    }
    tls.setIfNotEmpty("sni", e.serverName);
    if (!e.peerCertSubject.empty() || !e.peerCertSha256.empty()) {
        // OCSF's tls has one certificate: the peer's (client inbound, server outbound).
        JsonValue cert = JsonValue::object();
        cert.setIfNotEmpty("subject", e.peerCertSubject);
        cert.setIfNotEmpty("issuer", e.peerCertIssuer);
        cert.setIfNotEmpty("serial_number", e.peerCertSerial);
        if (!e.peerCertSha256.empty()) {
            JsonValue fingerprint = JsonValue::object();
            fingerprint.set("algorithm_id", 3);
            fingerprint.set("algorithm", "SHA-256");
            fingerprint.set("value", plainHex(e.peerCertSha256));
            cert.set("fingerprints", JsonValue::array().push(std::move(fingerprint)));
        }
        tls.set("certificate", std::move(cert));
    }
    return tls;
}

void addSession(JsonValue& doc, const TlsSessionEvent& e, const FormatContext& context) {
    const bool inbound = e.direction == Direction::Inbound;
    const bool email = isMessageKind(e.kind);
    if (email) {
        doc.set("direction", inbound ? "Inbound" : "Outbound");
        doc.set("direction_id", inbound ? 1 : 2);
        doc.set("protocol_name", "smtp");
        if (inbound) {
            doc.setIfNotEmpty("smtp_hello", e.peerName);
        }
        JsonValue mail = JsonValue::object();
        mail.setIfNotEmpty("smtp_from", e.sender);
        mail.setIfNotEmpty("uid", e.queueId);
        mail.set("size", e.messageSize);
        doc.set("email", std::move(mail));
    } else {
        doc.set("connection_info.direction", inbound ? "Inbound" : "Outbound");
        doc.set("connection_info.direction_id", inbound ? 1 : 2);
        doc.set("connection_info.protocol_name", "tcp");
    }
    addEndpoints(doc, e, context);
    if (e.tls || !e.tlsVersion.empty() || !e.peerCertSubject.empty()) {
        doc.set("tls", tlsObject(e));
    }
    if (e.kind == TlsSessionEventKind::Closed) {
        doc.set("duration", e.durationMs);
        // OCSF: bytes_out flows from source to destination; inbound the client is the source.
        doc.set("traffic.bytes_out", inbound ? e.bytesIn : e.bytesOut);
        doc.set("traffic.bytes_in", inbound ? e.bytesOut : e.bytesIn);
    }
    doc.setIfNotEmpty("unmapped.tlsgate.session_id", e.sessionId);
    doc.set("unmapped.tlsgate.direction", toString(e.direction));
    doc.set("unmapped.tlsgate.tls", e.tls);
    doc.setIfNotEmpty("unmapped.tlsgate.group", e.group);
    if (e.peerCertVerified) {
        doc.set("unmapped.tlsgate.peer_certificate_verified", *e.peerCertVerified);
    }
    doc.setIfNotEmpty("unmapped.tlsgate.rule", e.rule);
    if (email) {
        doc.setIfNotEmpty("unmapped.tlsgate.queue_id", e.queueId);
        doc.set("unmapped.tlsgate.recipient_count", e.recipientCount);
    }
    if (e.kind == TlsSessionEventKind::Closed) {
        doc.set("unmapped.tlsgate.commands", e.commands);
    }
}

void addCertificate(JsonValue& doc, const CertificateEvent& e) {
    const bool ca =
        e.kind == CertificateEventKind::CaAdded || e.kind == CertificateEventKind::CaRemoved;
    JsonValue subject = JsonValue::object();
    subject.setIfNotEmpty("uid", e.certId);
    subject.setIfNotEmpty("name", e.subject);
    subject.set("type", ca ? "trust-anchor" : "certificate");
    if (e.kind == CertificateEventKind::Expiring || e.kind == CertificateEventKind::Expired) {
        const bool expired = e.kind == CertificateEventKind::Expired;
        std::string uid = e.certId + (expired ? "/expired" : "/expiring");
        std::string title = expired ? "Certificate expired"
                                    : "Certificate expires in " + std::to_string(e.daysLeft) +
                                          (e.daysLeft == 1 ? " day" : " days");
        if (!expired && e.thresholdDays) {
            uid += "/" + std::to_string(*e.thresholdDays);
        }
        doc.set("finding_info.uid", uid);
        doc.set("finding_info.title", title);
        doc.setIfNotEmpty("finding_info.desc", e.detail);
        doc.set("finding_info.types", JsonValue::array().push(actionOf(Event{e})));
        doc.set("resources", JsonValue::array().push(std::move(subject)));
    } else {
        doc.set("entity", std::move(subject));
    }
    doc.setIfNotEmpty("unmapped.tlsgate.cert_id", e.certId);
    doc.setIfNotEmpty("unmapped.tlsgate.subject", e.subject);
    doc.setIfNotEmpty("unmapped.tlsgate.sha256", plainHex(e.sha256Fingerprint));
    if (e.notAfter != TimePoint{}) {
        doc.set("unmapped.tlsgate.not_after", epochMillis(e.notAfter));
        doc.set("unmapped.tlsgate.days_left", e.daysLeft);
    }
    if (e.thresholdDays) {
        doc.set("unmapped.tlsgate.threshold_days", *e.thresholdDays);
    }
    doc.setIfNotEmpty("unmapped.tlsgate.role", e.role);
}

}  // namespace

std::string formatOcsf(const Event& event, const FormatContext& context) {
    const Severity severity = severityOf(event);
    const OcsfClass cls = std::visit([](const auto& e) { return classOf(e); }, event);
    const TimePoint at = std::visit([](const auto& e) { return e.at; }, event);
    const std::string_view outcome = outcomeOf(event);
    const bool finding = cls.classUid == 2004;

    JsonValue doc = JsonValue::object();
    doc.set("class_uid", cls.classUid);
    doc.set("class_name", cls.className);
    doc.set("category_uid", cls.categoryUid);
    doc.set("category_name", cls.categoryName);
    doc.set("activity_id", cls.activityId);
    doc.set("activity_name", cls.activityName);
    doc.set("type_uid", static_cast<std::int64_t>(cls.classUid) * 100 + cls.activityId);
    doc.set("type_name", std::string(cls.className) + ": " + std::string(cls.activityName));
    doc.set("time", epochMillis(at));
    doc.set("severity_id", ocsfSeverityId(severity));
    doc.set("severity", ocsfSeverityName(severity));
    if (finding) {
        doc.set("status_id", 1);  // a finding's status: New
        doc.set("status", "New");
    } else {
        doc.set("status_id", outcome == "success" ? 1 : outcome == "failure" ? 2 : 0);
        doc.set("status", outcome == "success"   ? "Success"
                          : outcome == "failure" ? "Failure"
                                                 : "Unknown");
    }
    if (const auto* session = std::get_if<TlsSessionEvent>(&event)) {
        doc.setIfNotEmpty("status_detail", session->reason);
    }
    doc.set("message", summaryOf(event));
    doc.set("metadata.version", kOcsfVersion);
    doc.set("metadata.product.name", "tlsgate");
    doc.set("metadata.product.vendor_name", "tlsgate");
    doc.setIfNotEmpty("metadata.product.version", context.productVersion);
    doc.set("metadata.event_code", actionOf(event));
    if (const auto* session = std::get_if<TlsSessionEvent>(&event)) {
        doc.setIfNotEmpty("metadata.correlation_uid", session->sessionId);
        addSession(doc, *session, context);
    } else {
        addCertificate(doc, std::get<CertificateEvent>(event));
    }
    doc.setIfNotEmpty("unmapped.tlsgate.observer_hostname", context.observerHost);
    return doc.dump();
}

}  // namespace tlsgate::siem
