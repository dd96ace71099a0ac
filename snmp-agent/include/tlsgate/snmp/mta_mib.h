// The standard MTA monitoring objects the agent serves besides TLSGATE-MIB, by numeric OID:
// one row (applIndex 1) of NETWORK-SERVICES-MIB applTable (RFC 2788, 1.3.6.1.2.1.27.1) and of
// MAIL-MONITOR-MIB mtaTable (RFC 2789, 1.3.6.1.2.1.28.1), and two rows of mtaGroupTable
// (1.3.6.1.2.1.28.2): group 1 "receiving" (the SMTP server) and group 2 "sending" (delivery from
// the queue). What each column shows is computed here from a plain snapshot, without Net-SNMP
// types, so that the mapping is unit-tested without an agent. Pure functions, any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tlsgate/snmp/snmp_agent.h"

namespace tlsgate::snmp::mta {

/// applIndex of tlsgate's row in applTable, mtaTable and mtaGroupTable (fixed).
inline constexpr std::uint32_t kApplIndex = 1;
/// mtaGroupIndex of the inbound group (the SMTP server, "receiving").
inline constexpr std::uint32_t kReceivingGroup = 1;
/// mtaGroupIndex of the outbound group (delivery from the queue, "sending").
inline constexpr std::uint32_t kSendingGroup = 2;

/// applTable (columns 2..17; 1 is the not-accessible applIndex).
inline const std::vector<std::uint32_t> kApplTable{1, 3, 6, 1, 2, 1, 27, 1};
/// mtaTable (columns 1..12, indexed by applIndex).
inline const std::vector<std::uint32_t> kMtaTable{1, 3, 6, 1, 2, 1, 28, 1};
/// mtaGroupTable (columns 2..34; 1 is the not-accessible mtaGroupIndex).
inline const std::vector<std::uint32_t> kMtaGroupTable{1, 3, 6, 1, 2, 1, 28, 2};
/// {applTCPProtoID 25}: SMTP, mtaGroupMailProtocol of both groups.
inline const std::vector<std::uint32_t> kSmtpProtocol{1, 3, 6, 1, 2, 1, 27, 4, 25};

inline constexpr unsigned kApplMinColumn = 2;
inline constexpr unsigned kApplMaxColumn = 17;
inline constexpr unsigned kMtaMinColumn = 1;
inline constexpr unsigned kMtaMaxColumn = 12;
inline constexpr unsigned kGroupMinColumn = 2;
inline constexpr unsigned kGroupMaxColumn = 34;

/// What the three tables show, read at request time. Counters are the gateway's 64-bit values
/// (Counter32 columns show them modulo 2^32, which is how a Counter32 wraps).
struct Snapshot {
    std::string version;

    std::uint64_t inboundConnections = 0;
    std::uint64_t connectionsRefusedByLimit = 0;
    std::uint64_t messagesAccepted = 0;
    std::uint64_t bytesAccepted = 0;
    std::uint64_t messagesRejected = 0;     ///< 552 after DATA
    std::uint64_t rejectedTlsRequired = 0;  ///< 530 at MAIL
    std::uint64_t relayDenied = 0;          ///< refused RCPTs
    std::int64_t openSessions = 0;

    std::uint64_t outboundConnections = 0;
    std::uint64_t messagesDelivered = 0;
    std::uint64_t bytesDelivered = 0;
    std::uint64_t messagesBounced = 0;

    QueueStatus queue;

    /// TimeStamps (hundredths of a second on the agent's uptime clock, which starts at 0 when the
    /// agent starts): the last inbound / outbound association seen; 0 = none since then.
    std::uint32_t lastInboundStamp = 0;
    std::uint32_t lastOutboundStamp = 0;

    /// TimeIntervals (hundredths of a second) since the gateway started and since the last
    /// inbound association, successful outbound association and outbound attempt (delivered,
    /// deferred or bounced); empty = none since the agent started.
    std::int64_t sinceStart = 0;
    std::optional<std::int64_t> sinceInbound;
    std::optional<std::int64_t> sinceOutbound;
    std::optional<std::int64_t> sinceOutboundAttempt;

    /// The reason of the last failed delivery attempt ("" after a successful one); empty = no
    /// attempt seen since the agent started.
    std::optional<std::string> lastDeliveryFailure;
};

/// One column's value, in the SMI type the MIB gives it.
struct Value {
    enum class Type {
        Counter32,  ///< `number` modulo 2^32
        Gauge32,    ///< `number` clamped to 0..2^32-1
        Integer32,  ///< `number` clamped to Integer32 (enumerations, TimeInterval)
        TimeTicks,  ///< `number` (TimeStamp)
        Text,       ///< `text` (SnmpAdminString, DistinguishedName, URLString)
        Oid,        ///< `oid` (mtaGroupMailProtocol)
    };
    Type type = Type::Integer32;
    std::int64_t number = 0;
    std::string text;
    std::vector<std::uint32_t> oid;
};

/// The column of tlsgate's applTable row; nothing for a column the table does not have.
std::optional<Value> applColumn(const Snapshot& s, unsigned column);
/// The column of tlsgate's mtaTable row.
std::optional<Value> mtaColumn(const Snapshot& s, unsigned column);
/// The column of mtaGroupTable row `group` (kReceivingGroup or kSendingGroup).
std::optional<Value> mtaGroupColumn(const Snapshot& s, std::uint32_t group, unsigned column);

/// Octets as the MIB's kilo-octets (rounded up: a message of 1 octet is 1 K-octet).
std::uint64_t kiloOctets(std::uint64_t octets);

}  // namespace tlsgate::snmp::mta
