// The one event model: every fact worth reporting (certificate lifecycle, TLS sessions) is a typed
// event published on the EventBus; SIEM sinks, SNMP traps and logs subscribe. Plain data, no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "tlsgate/common/clock.h"

namespace tlsgate {

/// What happened to a certificate. Published by certmgr's store watcher, from the store's journal,
/// so changes made by the `certmgr` CLI while the daemon runs are reported by the daemon.
enum class CertificateEventKind {
    Created,      ///< the default self-signed certificate was made (first start, `certmgr init`)
    Generated,    ///< `certmgr generate` made a self-signed certificate
    Renewed,      ///< the default certificate was re-issued with its key kept
    Imported,     ///< an operator's certificate entered the store
    Activated,    ///< a certificate took a role (server or client)
    Deactivated,  ///< a certificate lost a role because another one took it
    Removed,      ///< a certificate left the store
    Expiring,     ///< days left crossed one of the warning thresholds
    Expired,      ///< the certificate is past its notAfter
    CaAdded,      ///< a trust anchor was added
    CaRemoved,    ///< a trust anchor was removed
};

std::string_view toString(CertificateEventKind kind);

/// A certificate lifecycle event.
struct CertificateEvent {
    CertificateEventKind kind = CertificateEventKind::Created;
    TimePoint at;                   ///< when it happened (store clock)
    std::string certId;             ///< store id
    std::string subject;            ///< RFC 2253 form
    std::string sha256Fingerprint;  ///< colon-separated upper-case hex, as `openssl x509` prints
    TimePoint notAfter;
    std::int64_t daysLeft = 0;         ///< whole days until notAfter, negative once expired
    std::optional<int> thresholdDays;  ///< Expiring: the threshold crossed
    std::string role;                  ///< Activated/Deactivated: "server" or "client"
    std::string detail;                ///< a short human-readable explanation
};

enum class Direction { Inbound, Outbound };
std::string_view toString(Direction direction);

/// What happened in one SMTP session's TLS life. Published by the gateway (receiving and sending);
/// the fields a kind does not concern stay empty.
enum class TlsSessionEventKind {
    Connected,           ///< a TCP connection was accepted or made
    StartTlsOffered,     ///< STARTTLS advertised (inbound) or seen (outbound); success = false:
                         ///< not advertised, `reason` says why
    HandshakeSucceeded,  ///< TLS is up
    HandshakeFailed,     ///< the handshake failed; `reason` says why
    TlsRequired,         ///< policy required TLS and the peer did not use it
    ClientCertificate,   ///< a client certificate was presented (or required and missing)
    PolicyDecision,      ///< a send or receive policy refused something; `rule` says which
    MessageAccepted,     ///< a message was spooled and answered 250
    Delivered,           ///< outbound: the next hop answered 250 (queueId, recipientCount)
    Deferred,            ///< outbound: kept queued for a retry; `reason`, `rule` when by TLS policy
    Bounced,             ///< outbound: failed for good; a DSN goes to the sender
    Closed,              ///< the session ended (duration, bytes, commands)
};

std::string_view toString(TlsSessionEventKind kind);

struct TlsSessionEvent {
    TlsSessionEventKind kind = TlsSessionEventKind::Connected;
    TimePoint at;
    std::string sessionId;
    Direction direction = Direction::Inbound;
    std::string peerAddress;
    std::uint16_t peerPort = 0;
    std::string localAddress;
    std::uint16_t localPort = 0;
    std::string peerName;    ///< EHLO name inbound, next-hop host name outbound
    std::string tlsVersion;  ///< "TLSv1.3"
    std::string cipher;      ///< OpenSSL cipher name
    std::string group;       ///< key-exchange group, e.g. "X25519"
    std::string peerCertSubject;
    std::string peerCertIssuer;
    std::string peerCertSha256;  ///< colon-separated upper-case hex
    std::string peerCertSerial;
    std::optional<bool> peerCertVerified;
    int cipherBits = 0;
    std::string serverName;  ///< SNI
    /// PolicyDecision: "tls-required", "client-certificate-required", "relay-denied",
    /// "limit:<key>".
    std::string rule;
    std::string reason;  ///< failure or decision reason, operator-readable
    bool success = true;
    bool tls = false;  ///< the session was encrypted when this happened
    // MessageAccepted
    std::string queueId;
    std::uint64_t messageSize = 0;
    std::string sender;
    int recipientCount = 0;
    // Closed
    std::int64_t durationMs = 0;
    std::uint64_t bytesIn = 0;
    std::uint64_t bytesOut = 0;
    int commands = 0;
};

/// Anything published on the bus.
using Event = std::variant<CertificateEvent, TlsSessionEvent>;

}  // namespace tlsgate
