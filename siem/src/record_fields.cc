// Derivations every SIEM format shares: names, outcome, category, endpoints, time formats and the
// flat field list of syslog SD and LEEF. Pure; never fails.
#include "tlsgate/siem/record_fields.h"

#include <algorithm>
#include <cctype>
#include <chrono>

#include "tlsgate/siem/escaping.h"

namespace tlsgate::siem {
namespace {

template <class... Fs>
struct Overloaded : Fs... {
    using Fs::operator()...;
};
template <class... Fs>
Overloaded(Fs...) -> Overloaded<Fs...>;

std::string_view displayName(const TlsSessionEvent& e) {
    switch (e.kind) {
        case TlsSessionEventKind::Connected:
            return "SMTP connection opened";
        case TlsSessionEventKind::StartTlsOffered:
            return "STARTTLS offered";
        case TlsSessionEventKind::HandshakeSucceeded:
            return "TLS handshake succeeded";
        case TlsSessionEventKind::HandshakeFailed:
            return "TLS handshake failed";
        case TlsSessionEventKind::TlsRequired:
            return "TLS required but not used";
        case TlsSessionEventKind::ClientCertificate:
            return e.success ? "Client certificate presented" : "Client certificate rejected";
        case TlsSessionEventKind::PolicyDecision:
            return "Refused by policy";
        case TlsSessionEventKind::MessageAccepted:
            return "Message accepted";
        case TlsSessionEventKind::Delivered:
            return "Message delivered";
        case TlsSessionEventKind::Deferred:
            return "Delivery deferred";
        case TlsSessionEventKind::Bounced:
            return "Message bounced";
        case TlsSessionEventKind::Closed:
            return "SMTP session closed";
    }
    return "TLS session event";
}

std::string_view displayName(const CertificateEvent& e) {
    switch (e.kind) {
        case CertificateEventKind::Created:
            return "Default certificate created";
        case CertificateEventKind::Generated:
            return "Certificate generated";
        case CertificateEventKind::Renewed:
            return "Certificate renewed";
        case CertificateEventKind::Imported:
            return "Certificate imported";
        case CertificateEventKind::Activated:
            return "Certificate activated";
        case CertificateEventKind::Deactivated:
            return "Certificate deactivated";
        case CertificateEventKind::Removed:
            return "Certificate removed";
        case CertificateEventKind::Expiring:
            return "Certificate expiring";
        case CertificateEventKind::Expired:
            return "Certificate expired";
        case CertificateEventKind::CaAdded:
            return "Trust anchor added";
        case CertificateEventKind::CaRemoved:
            return "Trust anchor removed";
    }
    return "Certificate event";
}

std::string_view outcome(const TlsSessionEvent& e) {
    switch (e.kind) {
        case TlsSessionEventKind::Connected:
        case TlsSessionEventKind::HandshakeSucceeded:
        case TlsSessionEventKind::MessageAccepted:
        case TlsSessionEventKind::Delivered:
            return "success";
        case TlsSessionEventKind::HandshakeFailed:
        case TlsSessionEventKind::TlsRequired:
        case TlsSessionEventKind::PolicyDecision:
        case TlsSessionEventKind::Deferred:
        case TlsSessionEventKind::Bounced:
            return "failure";
        case TlsSessionEventKind::ClientCertificate:
            return e.success ? "success" : "failure";
        case TlsSessionEventKind::StartTlsOffered:
        case TlsSessionEventKind::Closed:
            return "unknown";
    }
    return "unknown";
}

std::string_view outcome(const CertificateEvent& e) {
    // Expiry is an observation, not an operation that could succeed or fail.
    return e.kind == CertificateEventKind::Expiring || e.kind == CertificateEventKind::Expired
               ? "unknown"
               : "success";
}

void add(FlatFields& fields, std::string_view name, std::string_view value) {
    if (!value.empty()) {
        fields.emplace_back(name, std::string(value));
    }
}

void addPort(FlatFields& fields, std::string_view name, std::uint16_t port) {
    if (port != 0) {
        fields.emplace_back(name, std::to_string(port));
    }
}

FlatFields flatFields(const TlsSessionEvent& e) {
    FlatFields f;
    f.reserve(32);  // every field a session event can have
    add(f, "action", std::string(toString(e.kind)));
    add(f, "outcome", outcome(e));
    add(f, "sessionId", e.sessionId);
    add(f, "direction", toString(e.direction));
    const Endpoints ends = endpointsOf(e);
    add(f, "src", ends.sourceIp);
    addPort(f, "srcPort", ends.sourcePort);
    add(f, "dst", ends.destinationIp);
    addPort(f, "dstPort", ends.destinationPort);
    add(f, "peerName", e.peerName);
    add(f, "tls", e.tls ? "true" : "false");
    add(f, "tlsVersion", e.tlsVersion);
    add(f, "cipher", e.cipher);
    if (e.cipherBits > 0) {
        add(f, "cipherBits", std::to_string(e.cipherBits));
    }
    add(f, "group", e.group);
    add(f, "sni", e.serverName);
    add(f, "peerCertSubject", e.peerCertSubject);
    add(f, "peerCertIssuer", e.peerCertIssuer);
    add(f, "peerCertSerial", e.peerCertSerial);
    add(f, "peerCertSha256", plainHex(e.peerCertSha256));
    if (e.peerCertVerified) {
        add(f, "peerCertVerified", *e.peerCertVerified ? "true" : "false");
    }
    add(f, "rule", e.rule);
    add(f, "reason", e.reason);
    if (isMessageKind(e.kind)) {
        add(f, "queueId", e.queueId);
        add(f, "sender", e.sender);
        add(f, "recipientCount", std::to_string(e.recipientCount));
        add(f, "messageSize", std::to_string(e.messageSize));
    }
    if (e.kind == TlsSessionEventKind::Closed) {
        add(f, "durationMs", std::to_string(e.durationMs));
        add(f, "bytesIn", std::to_string(e.bytesIn));
        add(f, "bytesOut", std::to_string(e.bytesOut));
        add(f, "commands", std::to_string(e.commands));
    }
    return f;
}

FlatFields flatFields(const CertificateEvent& e) {
    FlatFields f;
    f.reserve(12);
    add(f, "action", actionOf(Event{e}));
    add(f, "outcome", outcome(e));
    add(f, "certId", e.certId);
    add(f, "subject", e.subject);
    add(f, "sha256", plainHex(e.sha256Fingerprint));
    if (e.notAfter != TimePoint{}) {
        add(f, "notAfter", rfc3339Millis(e.notAfter));
        add(f, "daysLeft", std::to_string(e.daysLeft));
    }
    if (e.thresholdDays) {
        add(f, "thresholdDays", std::to_string(*e.thresholdDays));
    }
    add(f, "role", e.role);
    add(f, "detail", e.detail);
    return f;
}

}  // namespace

std::string rfc3339Millis(TimePoint at) {
    using namespace std::chrono;
    const auto ms = floor<milliseconds>(at);
    const auto day = floor<days>(ms);
    const year_month_day date{day};
    const hh_mm_ss time{ms - day};
    // "YYYY-MM-DDThh:mm:ss.mmmZ", written digit by digit: this runs for every record of every
    // destination, and snprintf was a tenth of an ECS record's cost.
    std::string out = "0000-00-00T00:00:00.000Z";
    const auto put = [&out](std::size_t end, unsigned value, std::size_t digits) {
        for (std::size_t k = 0; k < digits; ++k) {
            out[end - k] = static_cast<char>('0' + value % 10);
            value /= 10;
        }
    };
    const int year = static_cast<int>(date.year());
    put(3, static_cast<unsigned>(std::clamp(year, 0, 9999)), 4);
    put(6, static_cast<unsigned>(date.month()), 2);
    put(9, static_cast<unsigned>(date.day()), 2);
    put(12, static_cast<unsigned>(time.hours().count()), 2);
    put(15, static_cast<unsigned>(time.minutes().count()), 2);
    put(18, static_cast<unsigned>(time.seconds().count()), 2);
    put(22, static_cast<unsigned>(time.subseconds().count()), 3);
    return out;
}

std::int64_t epochMillis(TimePoint at) {
    return std::chrono::floor<std::chrono::milliseconds>(at).time_since_epoch().count();
}

std::string actionOf(const Event& event) {
    return std::visit(Overloaded{
                          [](const TlsSessionEvent& e) { return std::string(toString(e.kind)); },
                          [](const CertificateEvent& e) {
                              const std::string name(toString(e.kind));
                              return name.rfind("ca-", 0) == 0 ? name : "certificate-" + name;
                          },
                      },
                      event);
}

std::string_view displayNameOf(const Event& event) {
    return std::visit([](const auto& e) { return displayName(e); }, event);
}

std::string_view outcomeOf(const Event& event) {
    return std::visit([](const auto& e) { return outcome(e); }, event);
}

bool isMessageKind(TlsSessionEventKind kind) {
    return kind == TlsSessionEventKind::MessageAccepted || kind == TlsSessionEventKind::Delivered ||
           kind == TlsSessionEventKind::Deferred || kind == TlsSessionEventKind::Bounced;
}

std::string_view categoryOf(const Event& event) {
    return std::visit(
        Overloaded{
            [](const TlsSessionEvent& e) -> std::string_view {
                return isMessageKind(e.kind) ? "email" : "network";
            },
            [](const CertificateEvent&) -> std::string_view { return "configuration"; },
        },
        event);
}

Endpoints endpointsOf(const TlsSessionEvent& event) {
    Endpoints ends;
    if (event.direction == Direction::Inbound) {
        ends.sourceIp = event.peerAddress;
        ends.sourcePort = event.peerPort;
        ends.destinationIp = event.localAddress;
        ends.destinationPort = event.localPort;
    } else {
        ends.sourceIp = event.localAddress;
        ends.sourcePort = event.localPort;
        ends.destinationIp = event.peerAddress;
        ends.destinationPort = event.peerPort;
    }
    return ends;
}

std::pair<std::string, std::string> splitTlsVersion(std::string_view name) {
    for (const auto& [prefix, protocol] :
         {std::pair<std::string_view, std::string_view>{"TLSv", "tls"}, {"SSLv", "ssl"}}) {
        if (name.substr(0, prefix.size()) == prefix && name.size() > prefix.size()) {
            std::string version(name.substr(prefix.size()));
            if (version.find('.') == std::string::npos) {
                version += ".0";
            }
            return {std::string(protocol), version};
        }
    }
    return {"", std::string(name)};
}

std::string plainHex(std::string_view fingerprint) {
    std::string out;
    for (const char c : fingerprint) {
        if (c != ':') {
            out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        }
    }
    return out;
}

std::string summaryOf(const Event& event) {
    std::string text(displayNameOf(event));
    const std::string& why =
        std::visit(Overloaded{
                       [](const TlsSessionEvent& e) -> const std::string& { return e.reason; },
                       [](const CertificateEvent& e) -> const std::string& { return e.detail; },
                   },
                   event);
    if (!why.empty()) {
        text += ": ";
        for (const char c : why) {
            const auto b = static_cast<unsigned char>(c);
            text += (b < 0x20 || b == 0x7F) ? ' ' : c;
        }
    }
    return sanitizeUtf8(text);
}

FlatFields flatFieldsOf(const Event& event) {
    return std::visit([](const auto& e) { return flatFields(e); }, event);
}

}  // namespace tlsgate::siem
