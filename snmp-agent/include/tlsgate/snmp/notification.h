// What the SNMP agent sends for an event: the TLSGATE-MIB notification and its varbinds, as plain
// data without Net-SNMP types, so that the mapping is unit-tested without an agent. Pure
// functions, any thread; nothing here throws except std::bad_alloc.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tlsgate/common/clock.h"
#include "tlsgate/common/event.h"

namespace tlsgate::snmp {

/// The notifications of TLSGATE-MIB; the value is the last arc (tlsgateNotifications.N).
enum class NotificationType : std::uint32_t {
    InboundHandshakeFailed = 1,
    InboundTlsRequired = 2,
    ClientCertRejected = 3,
    OutboundVerifyFailed = 4,
    OutboundTlsDeferred = 5,
    CertExpiring = 6,
    CertExpired = 7,
    CertChanged = 8,
    SiemDestinationDown = 9,
    SiemDestinationUp = 10,
    NotificationsSuppressed = 11,
};
inline constexpr std::uint32_t kNotificationTypeCount = 11;

/// The MIB name, "tlsgateCertChanged".
std::string_view mibName(NotificationType type);
/// The type a MIB name stands for, or nothing.
std::optional<NotificationType> notificationTypeNamed(std::string_view name);

/// The accessible-for-notify objects (tlsgateNotifyObjects.N).
enum class NotifyObject : std::uint32_t {
    PeerAddress = 1,
    PeerPort = 2,
    PeerName = 3,
    Reason = 4,
    PolicyRule = 5,
    QueueId = 6,
    CertId = 7,
    CertSubject = 8,
    CertSha256 = 9,
    CertNotAfter = 10,
    CertDaysLeft = 11,
    ThresholdDays = 12,
    CertChange = 13,
    CertRole = 14,
    SiemDestination = 15,
    SuppressedType = 16,
    SuppressedCount = 17,
    IntervalSeconds = 18,
};

/// One varbind's value, in the SMI type the MIB gives the object.
struct NotifyValue {
    enum class Kind {
        Text,      ///< OCTET STRING (DisplayString, TlsgateUtf8String, DateAndTime): `text`
        Integer,   ///< INTEGER / Integer32 (enumerations, days left): `number`
        Unsigned,  ///< Unsigned32: `number`
        Oid,       ///< OBJECT IDENTIFIER of the notification type `number` (SuppressedType)
    };
    NotifyObject object = NotifyObject::Reason;
    Kind kind = Kind::Text;
    std::string text;
    std::int64_t number = 0;
};

/// A notification to send; the agent puts tlsgateHostName before `values`.
struct Notification {
    NotificationType type = NotificationType::CertChanged;
    std::vector<NotifyValue> values;
};

/// The notification an event calls for, or nothing when the event is not one the MIB reports:
/// inbound HandshakeFailed; inbound PolicyDecision "tls-required" and
/// "client-certificate-required"; outbound PolicyDecision "tls-policy" with a certificate that
/// was not verified (OutboundVerifyFailed); outbound Deferred with rule "tls-policy"
/// (OutboundTlsDeferred); every CertificateEvent (Expiring, Expired, the others as CertChanged).
std::optional<Notification> notificationFor(const Event& event);

/// tlsgateNotificationsSuppressed for `count` notifications of `type` over `interval`.
Notification suppressedSummary(NotificationType type, std::uint32_t count,
                               std::chrono::seconds interval);
/// tlsgateSiemDestinationDown / Up.
Notification siemDestinationChange(const std::string& destination, bool up,
                                   const std::string& reason);

/// DateAndTime (RFC 2579) of `t` in UTC: 11 octets, "+0:0" as the zone.
std::string dateAndTime(TimePoint t);
/// `text` cut to at most `maxOctets` octets on a UTF-8 character boundary.
std::string truncateUtf8(std::string_view text, std::size_t maxOctets);

}  // namespace tlsgate::snmp
