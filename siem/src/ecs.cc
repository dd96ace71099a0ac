// The Elastic Common Schema formatter: one JSON object per event, ECS names where ECS has them and
// everything else under "tlsgate." (docs/events.md, "ECS"). Written in one pass with JsonWriter:
// the exporter renders it for every event. Pure; never throws on event content.
#include "tlsgate/siem/formatters.h"
#include "tlsgate/siem/json_writer.h"
#include "tlsgate/siem/record_fields.h"
#include "tlsgate/siem/severity.h"

namespace tlsgate::siem {
namespace {

void eventTypes(JsonWriter& w, const TlsSessionEvent& e) {
    switch (e.kind) {
        case TlsSessionEventKind::Connected:
            w.strings("type", {"connection", "start"});
            return;
        case TlsSessionEventKind::StartTlsOffered:
        case TlsSessionEventKind::HandshakeSucceeded:
            w.strings("type", {"protocol"});
            return;
        case TlsSessionEventKind::HandshakeFailed:
            w.strings("type", {"protocol", "error"});
            return;
        case TlsSessionEventKind::ClientCertificate:
            if (e.success) {
                w.strings("type", {"protocol"});
            } else {
                w.strings("type", {"protocol", "denied"});
            }
            return;
        case TlsSessionEventKind::TlsRequired:
        case TlsSessionEventKind::PolicyDecision:
            w.strings("type", {"denied"});
            return;
        case TlsSessionEventKind::MessageAccepted:
        case TlsSessionEventKind::Delivered:
        case TlsSessionEventKind::Deferred:
        case TlsSessionEventKind::Bounced:
            w.strings("type", {"info"});
            return;
        case TlsSessionEventKind::Closed:
            w.strings("type", {"connection", "end"});
            return;
    }
    w.strings("type", {"info"});
}

void eventTypes(JsonWriter& w, const CertificateEvent& e) {
    switch (e.kind) {
        case CertificateEventKind::Created:
        case CertificateEventKind::Generated:
        case CertificateEventKind::Imported:
        case CertificateEventKind::CaAdded:
            w.strings("type", {"creation"});
            return;
        case CertificateEventKind::Renewed:
        case CertificateEventKind::Activated:
        case CertificateEventKind::Deactivated:
            w.strings("type", {"change"});
            return;
        case CertificateEventKind::Removed:
        case CertificateEventKind::CaRemoved:
            w.strings("type", {"deletion"});
            return;
        case CertificateEventKind::Expiring:
        case CertificateEventKind::Expired:
            w.strings("type", {"info"});
            return;
    }
    w.strings("type", {"info"});
}

bool isExpiring(const Event& event) {
    const auto* c = std::get_if<CertificateEvent>(&event);
    return c != nullptr && c->kind == CertificateEventKind::Expiring;
}

const TlsSessionEvent* closedSession(const Event& event) {
    const auto* s = std::get_if<TlsSessionEvent>(&event);
    return s != nullptr && s->kind == TlsSessionEventKind::Closed ? s : nullptr;
}

/// source or destination: address, port, the next hop's name (outbound destination) and, when the
/// session closed, the bytes that side sent.
void endpoint(JsonWriter& w, JsonKey side, const std::string& ip, std::uint16_t port,
              std::string_view domain, const std::uint64_t* bytes) {
    w.open(side).stringIfNotEmpty("ip", ip);
    if (port != 0) {
        w.number("port", static_cast<int>(port));
    }
    w.stringIfNotEmpty("domain", domain);
    if (bytes != nullptr) {
        w.number("bytes", *bytes);
    }
    w.close();
}

/// The peer's certificate: the client's when we receive, the server's when we send.
void peerCertificate(JsonWriter& w, const TlsSessionEvent& e) {
    w.open("x509");
    w.open("subject").stringIfNotEmpty("distinguished_name", e.peerCertSubject).close();
    w.open("issuer").stringIfNotEmpty("distinguished_name", e.peerCertIssuer).close();
    w.stringIfNotEmpty("serial_number", e.peerCertSerial);
    w.close();
    w.open("hash").stringIfNotEmpty("sha256", plainHex(e.peerCertSha256)).close();
}

void addSession(JsonWriter& w, const TlsSessionEvent& e) {
    const Endpoints ends = endpointsOf(e);
    const bool inbound = e.direction == Direction::Inbound;
    const bool closed = e.kind == TlsSessionEventKind::Closed;
    // source.bytes: sent by the source; inbound the client sends what we count as bytesIn.
    const std::uint64_t sourceBytes = inbound ? e.bytesIn : e.bytesOut;
    const std::uint64_t destinationBytes = inbound ? e.bytesOut : e.bytesIn;
    endpoint(w, "source", ends.sourceIp, ends.sourcePort, {}, closed ? &sourceBytes : nullptr);
    endpoint(w, "destination", ends.destinationIp, ends.destinationPort,
             inbound ? std::string_view{} : e.peerName,  // the next hop's host name
             closed ? &destinationBytes : nullptr);

    w.open("network");
    if (closed) {
        w.number("bytes", e.bytesIn + e.bytesOut);
    }
    w.string("transport", "tcp")
        .string("protocol", "smtp")
        .string("direction", toString(e.direction));
    w.close();

    w.open("tls").boolean("established", e.tls);
    if (!e.tlsVersion.empty()) {
        const auto [protocol, version] = splitTlsVersion(e.tlsVersion);
        w.string("version", version).stringIfNotEmpty("version_protocol", protocol);
    }
    w.stringIfNotEmpty("cipher", e.cipher).stringIfNotEmpty("curve", e.group);
    w.open("client").stringIfNotEmpty("server_name", e.serverName);
    if (inbound) {
        peerCertificate(w, e);
    }
    w.close();
    if (!inbound) {
        w.open("server");
        peerCertificate(w, e);
        w.close();
    }
    w.close();

    if (isMessageKind(e.kind)) {
        w.open("email").string("direction", toString(e.direction));
        w.open("from").stringIfNotEmpty("address", e.sender).close();
        w.stringIfNotEmpty("local_id", e.queueId).close();
    }

    w.open("tlsgate").stringIfNotEmpty("session_id", e.sessionId);
    w.string("direction", toString(e.direction)).stringIfNotEmpty("peer_name", e.peerName);
    if (e.cipherBits > 0) {
        w.number("cipher_bits", e.cipherBits);
    }
    if (e.peerCertVerified) {
        w.boolean("peer_certificate_verified", *e.peerCertVerified);
    }
    w.stringIfNotEmpty("rule", e.rule).stringIfNotEmpty("reason", e.reason);
    if (isMessageKind(e.kind)) {
        w.stringIfNotEmpty("queue_id", e.queueId);
        w.number("recipient_count", e.recipientCount).number("message_size", e.messageSize);
    }
    if (closed) {
        w.number("commands", e.commands);
    }
    w.close();
}

void addCertificate(JsonWriter& w, const CertificateEvent& e) {
    const bool hasNotAfter = e.notAfter != TimePoint{};
    w.open("x509");
    w.open("subject").stringIfNotEmpty("distinguished_name", e.subject).close();
    if (hasNotAfter) {
        w.string("not_after", rfc3339Millis(e.notAfter));
    }
    w.close();
    w.open("tlsgate").stringIfNotEmpty("cert_id", e.certId);
    w.open("certificate").stringIfNotEmpty("sha256", plainHex(e.sha256Fingerprint)).close();
    if (hasNotAfter) {
        w.number("days_left", e.daysLeft);
    }
    if (e.thresholdDays) {
        w.number("threshold_days", *e.thresholdDays);
    }
    w.stringIfNotEmpty("role", e.role).stringIfNotEmpty("detail", e.detail);
    w.close();
}

}  // namespace

std::string formatEcs(const Event& event, const FormatContext& context) {
    const Severity severity = severityOf(event);
    const TimePoint at = std::visit([](const auto& e) { return e.at; }, event);
    const bool alert = severity <= Severity::Warning || isExpiring(event);

    JsonWriter w;
    w.string("@timestamp", rfc3339Millis(at));
    w.open("ecs").string("version", kEcsVersion).close();
    w.open("event").string("kind", alert ? "alert" : "event");
    w.strings("category", {categoryOf(event)});
    std::visit([&w](const auto& e) { eventTypes(w, e); }, event);
    w.string("action", actionOf(event)).string("outcome", outcomeOf(event));
    w.number("severity", syslogCode(severity));
    w.string("dataset", std::holds_alternative<CertificateEvent>(event) ? "tlsgate.certificate"
                                                                        : "tlsgate.session");
    if (const auto* closed = closedSession(event)) {
        w.number("duration", closed->durationMs * 1'000'000);
    }
    w.close();
    w.open("log").string("level", toString(severity)).close();
    w.string("message", summaryOf(event));
    w.open("observer").stringIfNotEmpty("hostname", context.observerHost);
    w.string("product", "tlsgate").string("vendor", "tlsgate");
    w.stringIfNotEmpty("version", context.productVersion).close();
    if (const auto* session = std::get_if<TlsSessionEvent>(&event)) {
        addSession(w, *session);
    } else {
        addCertificate(w, std::get<CertificateEvent>(event));
    }
    return w.finish();
}

}  // namespace tlsgate::siem
