// The CEF formatter: ArcSight CEF:0 header plus dictionary keys and labelled custom slots
// (docs/events.md, "CEF"). Pure; never throws on event content.
#include "tlsgate/siem/escaping.h"
#include "tlsgate/siem/formatters.h"
#include "tlsgate/siem/record_fields.h"
#include "tlsgate/siem/severity.h"

namespace tlsgate::siem {
namespace {

class Extension {
  public:
    void add(std::string_view key, std::string_view value) {
        if (value.empty()) {
            return;
        }
        if (!text_.empty()) {
            text_ += ' ';
        }
        text_.append(key);
        text_ += '=';
        appendCefValue(text_, value);
    }
    void add(std::string_view key, std::int64_t value) { add(key, std::to_string(value)); }
    /// A custom slot (cs1, cn2, flexString1, deviceCustomDate1 ...) and its label.
    void labelled(std::string_view slot, std::string_view label, std::string_view value) {
        if (value.empty()) {
            return;
        }
        add(slot, value);
        add(std::string(slot) + "Label", label);
    }
    const std::string& text() const { return text_; }

  private:
    std::string text_;
};

void addSession(Extension& x, const TlsSessionEvent& e) {
    const Endpoints ends = endpointsOf(e);
    const bool inbound = e.direction == Direction::Inbound;
    x.add("deviceDirection", inbound ? "0" : "1");
    x.add("proto", "TCP");
    x.add("app", "SMTP");
    x.add("src", ends.sourceIp);
    if (ends.sourcePort != 0) {
        x.add("spt", ends.sourcePort);
    }
    x.add("dst", ends.destinationIp);
    if (ends.destinationPort != 0) {
        x.add("dpt", ends.destinationPort);
    }
    x.add(inbound ? "shost" : "dhost", e.peerName);
    x.add("msg", e.reason);
    if (isMessageKind(e.kind)) {
        x.add("suser", e.sender);
        x.add("externalId", e.queueId);
        x.labelled("cn1", "recipientCount", std::to_string(e.recipientCount));
        x.add("fsize", static_cast<std::int64_t>(e.messageSize));
    }
    if (e.kind == TlsSessionEventKind::Closed) {
        // in/out: bytes from source to destination and back; inbound the client is the source.
        x.add("in", static_cast<std::int64_t>(inbound ? e.bytesIn : e.bytesOut));
        x.add("out", static_cast<std::int64_t>(inbound ? e.bytesOut : e.bytesIn));
        x.labelled("cn3", "durationMs", std::to_string(e.durationMs));
    }
    x.labelled("cs1", "tlsVersion", e.tlsVersion);
    x.labelled("cs2", "cipher", e.cipher);
    x.labelled("cs3", "peerCertSubject", e.peerCertSubject);
    x.labelled("cs4", "peerCertSha256", plainHex(e.peerCertSha256));
    x.labelled("cs5", "rule", e.rule);
    x.labelled("cs6", "sessionId", e.sessionId);
    x.labelled("flexString1", "peerCertIssuer", e.peerCertIssuer);
    x.labelled("flexString2", "sni", e.serverName);
}

void addCertificate(Extension& x, const CertificateEvent& e) {
    x.add("msg", e.detail);
    x.labelled("cs3", "certificateSubject", e.subject);
    x.labelled("cs4", "certificateSha256", plainHex(e.sha256Fingerprint));
    x.labelled("cs5", "role", e.role);
    x.labelled("cs6", "certId", e.certId);
    if (e.notAfter != TimePoint{}) {
        x.labelled("cn2", "daysLeft", std::to_string(e.daysLeft));
        x.labelled("deviceCustomDate1", "notAfter", std::to_string(epochMillis(e.notAfter)));
    }
    if (e.thresholdDays) {
        x.labelled("cn3", "thresholdDays", std::to_string(*e.thresholdDays));
    }
}

}  // namespace

std::string formatCef(const Event& event, const FormatContext& context) {
    const TimePoint at = std::visit([](const auto& e) { return e.at; }, event);
    std::string out = "CEF:0|tlsgate|tlsgate|";
    out += escapeCefHeader(context.productVersion);
    out += '|';
    out += escapeCefHeader(actionOf(event));
    out += '|';
    out += escapeCefHeader(displayNameOf(event));
    out += '|';
    out += std::to_string(cefSeverity(severityOf(event)));
    out += '|';

    Extension x;
    x.add("rt", epochMillis(at));
    x.add("act", actionOf(event));
    x.add("outcome", outcomeOf(event));
    x.add("cat", categoryOf(event));
    x.add("dvchost", context.observerHost);
    if (const auto* session = std::get_if<TlsSessionEvent>(&event)) {
        addSession(x, *session);
    } else {
        addCertificate(x, std::get<CertificateEvent>(event));
    }
    out += x.text();
    return out;
}

}  // namespace tlsgate::siem
