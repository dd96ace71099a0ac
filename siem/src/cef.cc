// The CEF formatter: ArcSight CEF:0 header plus dictionary keys and labelled custom slots
// (docs/events.md, "CEF"). Pure; never throws on event content.
#include <charconv>
#include <iterator>

#include "tlsgate/siem/escaping.h"
#include "tlsgate/siem/formatters.h"
#include "tlsgate/siem/record_fields.h"
#include "tlsgate/siem/severity.h"

namespace tlsgate::siem {
namespace {

/// The extension part, written straight into the record: "key=value" pairs separated by spaces,
/// empty values left out.
class Extension {
  public:
    explicit Extension(std::string& out) : out_(out) {}
    void add(std::string_view key, std::string_view value) {
        if (value.empty()) {
            return;
        }
        separate(key);
        appendCefValue(out_, value);
    }
    void add(std::string_view key, std::int64_t value) {
        separate(key);
        appendNumber(value);
    }
    /// A custom slot (cs1, cn2, flexString1, deviceCustomDate1 ...) and its label.
    void labelled(std::string_view slot, std::string_view label, std::string_view value) {
        if (value.empty()) {
            return;
        }
        add(slot, value);
        labelOf(slot, label);
    }
    void labelled(std::string_view slot, std::string_view label, std::int64_t value) {
        add(slot, value);
        labelOf(slot, label);
    }

  private:
    void separate(std::string_view key) {
        if (!first_) {
            out_ += ' ';
        }
        first_ = false;
        out_.append(key);
        out_ += '=';
    }
    void labelOf(std::string_view slot, std::string_view label) {
        out_ += ' ';
        out_.append(slot);
        out_.append("Label=");
        appendCefValue(out_, label);
    }
    void appendNumber(std::int64_t value) {
        char digits[24];
        const auto end = std::to_chars(std::begin(digits), std::end(digits), value).ptr;
        out_.append(digits, end);
    }

    std::string& out_;
    bool first_ = true;
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
        x.labelled("cn1", "recipientCount", e.recipientCount);
        x.add("fsize", static_cast<std::int64_t>(e.messageSize));
    }
    if (e.kind == TlsSessionEventKind::Closed) {
        // in/out: bytes from source to destination and back; inbound the client is the source.
        x.add("in", static_cast<std::int64_t>(inbound ? e.bytesIn : e.bytesOut));
        x.add("out", static_cast<std::int64_t>(inbound ? e.bytesOut : e.bytesIn));
        x.labelled("cn3", "durationMs", e.durationMs);
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
        x.labelled("cn2", "daysLeft", e.daysLeft);
        x.labelled("deviceCustomDate1", "notAfter", epochMillis(e.notAfter));
    }
    if (e.thresholdDays) {
        x.labelled("cn3", "thresholdDays", *e.thresholdDays);
    }
}

}  // namespace

std::string formatCef(const Event& event, const FormatContext& context) {
    const TimePoint at = std::visit([](const auto& e) { return e.at; }, event);
    const std::string action = actionOf(event);
    std::string out;
    out.reserve(1024);  // a session record is 500 to 900 bytes
    out += "CEF:0|tlsgate|tlsgate|";
    out += escapeCefHeader(context.productVersion);
    out += '|';
    out += escapeCefHeader(action);
    out += '|';
    out += escapeCefHeader(displayNameOf(event));
    out += '|';
    out += std::to_string(cefSeverity(severityOf(event)));
    out += '|';

    Extension x(out);
    x.add("rt", epochMillis(at));
    x.add("act", action);
    x.add("outcome", outcomeOf(event));
    x.add("cat", categoryOf(event));
    x.add("dvchost", context.observerHost);
    if (const auto* session = std::get_if<TlsSessionEvent>(&event)) {
        addSession(x, *session);
    } else {
        addCertificate(x, std::get<CertificateEvent>(event));
    }
    return out;
}

}  // namespace tlsgate::siem
