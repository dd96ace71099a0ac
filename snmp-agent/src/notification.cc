// Events to TLSGATE-MIB notifications (see notification.h). Pure functions, any thread.
#include "tlsgate/snmp/notification.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <ctime>
#include <variant>

namespace tlsgate::snmp {
namespace {

constexpr std::array<std::string_view, kNotificationTypeCount> kNames{
    "tlsgateInboundHandshakeFailed",
    "tlsgateInboundTlsRequired",
    "tlsgateClientCertRejected",
    "tlsgateOutboundVerifyFailed",
    "tlsgateOutboundTlsDeferred",
    "tlsgateCertExpiring",
    "tlsgateCertExpired",
    "tlsgateCertChanged",
    "tlsgateSiemDestinationDown",
    "tlsgateSiemDestinationUp",
    "tlsgateNotificationsSuppressed",
};

// The SIZE limits of the MIB's syntaxes.
constexpr std::size_t kUtf8Max = 1024;   // TlsgateUtf8String
constexpr std::size_t kAddressMax = 64;  // tlsgateNotifyPeerAddress, QueueId, CertId, SIEM
constexpr std::size_t kNameMax = 255;    // tlsgateNotifyPeerName
constexpr std::size_t kRuleMax = 128;    // tlsgateNotifyPolicyRule

NotifyValue text(NotifyObject object, std::string_view value, std::size_t max) {
    NotifyValue v;
    v.object = object;
    v.kind = NotifyValue::Kind::Text;
    v.text = truncateUtf8(value, max);
    return v;
}

NotifyValue integer(NotifyObject object, std::int64_t value) {
    NotifyValue v;
    v.object = object;
    v.kind = NotifyValue::Kind::Integer;
    v.number = value;
    return v;
}

NotifyValue unsignedValue(NotifyObject object, std::int64_t value) {
    NotifyValue v;
    v.object = object;
    v.kind = NotifyValue::Kind::Unsigned;
    v.number = value < 0 ? 0 : (value > 0xffffffffLL ? 0xffffffffLL : value);
    return v;
}

/// TlsgateSha256Fingerprint is empty or exactly 95 characters.
NotifyValue fingerprint(std::string_view value) {
    return text(NotifyObject::CertSha256, value.size() == 95 ? value : std::string_view(), 95);
}

/// Address, port and name of the peer: every TLS session notification starts with them.
std::vector<NotifyValue> peer(const TlsSessionEvent& e) {
    return {text(NotifyObject::PeerAddress, e.peerAddress, kAddressMax),
            unsignedValue(NotifyObject::PeerPort, e.peerPort),
            text(NotifyObject::PeerName, e.peerName, kNameMax)};
}

std::optional<Notification> forSession(const TlsSessionEvent& e) {
    Notification n;
    n.values = peer(e);
    const auto add = [&n](NotifyValue v) { n.values.push_back(std::move(v)); };
    if (e.direction == Direction::Inbound) {
        if (e.kind == TlsSessionEventKind::HandshakeFailed) {
            n.type = NotificationType::InboundHandshakeFailed;
            add(text(NotifyObject::Reason, e.reason, kUtf8Max));
            return n;
        }
        if (e.kind == TlsSessionEventKind::PolicyDecision && e.rule == "tls-required") {
            n.type = NotificationType::InboundTlsRequired;
            add(text(NotifyObject::PolicyRule, e.rule, kRuleMax));
            add(text(NotifyObject::Reason, e.reason, kUtf8Max));
            return n;
        }
        if (e.kind == TlsSessionEventKind::PolicyDecision &&
            e.rule == "client-certificate-required") {
            n.type = NotificationType::ClientCertRejected;
            add(text(NotifyObject::CertSubject, e.peerCertSubject, kUtf8Max));
            add(fingerprint(e.peerCertSha256));
            add(text(NotifyObject::Reason, e.reason, kUtf8Max));
            return n;
        }
        return std::nullopt;
    }
    if (e.kind == TlsSessionEventKind::PolicyDecision && e.rule == "tls-policy" &&
        e.peerCertVerified == false) {
        n.type = NotificationType::OutboundVerifyFailed;
        add(text(NotifyObject::CertSubject, e.peerCertSubject, kUtf8Max));
        add(fingerprint(e.peerCertSha256));
        add(text(NotifyObject::Reason, e.reason, kUtf8Max));
        return n;
    }
    if (e.kind == TlsSessionEventKind::Deferred && e.rule == "tls-policy") {
        n.type = NotificationType::OutboundTlsDeferred;
        add(text(NotifyObject::QueueId, e.queueId, kAddressMax));
        add(text(NotifyObject::PolicyRule, e.rule, kRuleMax));
        add(text(NotifyObject::Reason, e.reason, kUtf8Max));
        return n;
    }
    return std::nullopt;
}

/// tlsgateNotifyCertChange's enumeration.
std::int64_t changeOf(CertificateEventKind kind) {
    switch (kind) {
        case CertificateEventKind::Created:
            return 1;
        case CertificateEventKind::Generated:
            return 2;
        case CertificateEventKind::Renewed:
            return 3;
        case CertificateEventKind::Imported:
            return 4;
        case CertificateEventKind::Activated:
            return 5;
        case CertificateEventKind::Deactivated:
            return 6;
        case CertificateEventKind::Removed:
            return 7;
        case CertificateEventKind::CaAdded:
            return 8;
        case CertificateEventKind::CaRemoved:
            return 9;
        case CertificateEventKind::Expiring:
        case CertificateEventKind::Expired:
            break;
    }
    return 0;
}

Notification forCertificate(const CertificateEvent& e) {
    Notification n;
    const auto add = [&n](NotifyValue v) { n.values.push_back(std::move(v)); };
    const auto daysLeft = [&e] {
        NotifyValue v = integer(NotifyObject::CertDaysLeft, e.daysLeft);
        v.number = std::clamp<std::int64_t>(v.number, INT32_MIN, INT32_MAX);
        return v;
    };
    if (e.kind == CertificateEventKind::Expiring || e.kind == CertificateEventKind::Expired) {
        n.type = e.kind == CertificateEventKind::Expiring ? NotificationType::CertExpiring
                                                          : NotificationType::CertExpired;
        add(text(NotifyObject::CertId, e.certId, kAddressMax));
        add(text(NotifyObject::CertSubject, e.subject, kUtf8Max));
        add(fingerprint(e.sha256Fingerprint));
        add(text(NotifyObject::CertNotAfter, dateAndTime(e.notAfter), 11));
        add(daysLeft());
        if (n.type == NotificationType::CertExpiring) {
            add(unsignedValue(NotifyObject::ThresholdDays, e.thresholdDays.value_or(0)));
        }
        return n;
    }
    n.type = NotificationType::CertChanged;
    add(integer(NotifyObject::CertChange, changeOf(e.kind)));
    add(text(NotifyObject::CertId, e.certId, kAddressMax));
    add(integer(NotifyObject::CertRole, e.role == "server" ? 2 : e.role == "client" ? 3 : 1));
    add(text(NotifyObject::CertSubject, e.subject, kUtf8Max));
    add(fingerprint(e.sha256Fingerprint));
    add(text(NotifyObject::CertNotAfter, dateAndTime(e.notAfter), 11));
    add(daysLeft());
    add(text(NotifyObject::Reason, e.detail.empty() ? std::string(toString(e.kind)) : e.detail,
             kUtf8Max));
    return n;
}

}  // namespace

std::string_view mibName(NotificationType type) {
    const auto index = static_cast<std::uint32_t>(type);
    return index >= 1 && index <= kNotificationTypeCount ? kNames[index - 1] : "unknown";
}

std::optional<NotificationType> notificationTypeNamed(std::string_view name) {
    for (std::uint32_t i = 0; i < kNotificationTypeCount; ++i) {
        if (kNames[i] == name) {
            return static_cast<NotificationType>(i + 1);
        }
    }
    return std::nullopt;
}

std::optional<Notification> notificationFor(const Event& event) {
    if (const auto* session = std::get_if<TlsSessionEvent>(&event)) {
        return forSession(*session);
    }
    return forCertificate(std::get<CertificateEvent>(event));
}

Notification suppressedSummary(NotificationType type, std::uint32_t count,
                               std::chrono::seconds interval) {
    Notification n;
    n.type = NotificationType::NotificationsSuppressed;
    NotifyValue oid;
    oid.object = NotifyObject::SuppressedType;
    oid.kind = NotifyValue::Kind::Oid;
    oid.number = static_cast<std::int64_t>(type);
    n.values.push_back(oid);
    n.values.push_back(unsignedValue(NotifyObject::SuppressedCount, count));
    n.values.push_back(unsignedValue(NotifyObject::IntervalSeconds, interval.count()));
    return n;
}

Notification siemDestinationChange(const std::string& destination, bool up,
                                   const std::string& reason) {
    Notification n;
    n.type = up ? NotificationType::SiemDestinationUp : NotificationType::SiemDestinationDown;
    n.values.push_back(text(NotifyObject::SiemDestination, destination, kAddressMax));
    if (!up) {
        n.values.push_back(text(NotifyObject::Reason, reason, kUtf8Max));
    }
    return n;
}

std::string dateAndTime(TimePoint t) {
    const auto millis =
        std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
    auto seconds = static_cast<std::time_t>(millis / 1000);
    auto rest = millis % 1000;
    if (rest < 0) {
        --seconds;
        rest += 1000;
    }
    std::tm tm{};
    ::gmtime_r(&seconds, &tm);
    const int year = tm.tm_year + 1900;
    std::string out(11, '\0');
    out[0] = static_cast<char>((year >> 8) & 0xff);
    out[1] = static_cast<char>(year & 0xff);
    out[2] = static_cast<char>(tm.tm_mon + 1);
    out[3] = static_cast<char>(tm.tm_mday);
    out[4] = static_cast<char>(tm.tm_hour);
    out[5] = static_cast<char>(tm.tm_min);
    out[6] = static_cast<char>(tm.tm_sec > 59 ? 59 : tm.tm_sec);  // no leap second: 0..60 allowed
    out[7] = static_cast<char>(rest / 100);
    out[8] = '+';
    out[9] = 0;
    out[10] = 0;
    return out;
}

std::string truncateUtf8(std::string_view text, std::size_t maxOctets) {
    if (text.size() <= maxOctets) {
        return std::string(text);
    }
    std::size_t end = maxOctets;
    // Step back over continuation bytes (10xxxxxx) to the start of the cut character.
    while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) {
        --end;
    }
    return std::string(text.substr(0, end));
}

}  // namespace tlsgate::snmp
