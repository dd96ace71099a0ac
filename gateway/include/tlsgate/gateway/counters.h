// The gateway's counters and gauges: plain atomics updated on the mail path without locks, read
// by the SNMP agent (and tests) from any thread. One instance, owned by the daemon.
#pragma once

#include <atomic>
#include <cstdint>

namespace tlsgate::gateway {

struct Counters {
    using Counter = std::atomic<std::uint64_t>;
    using Gauge = std::atomic<std::int64_t>;

    // Receiving
    Counter inboundConnections{0};
    Counter startTlsAdvertised{0};
    Counter startTlsStarted{0};
    Counter inboundHandshakesFailed{0};
    Counter sessionsPlaintext{0};    ///< sessions that ended without TLS
    Counter rejectedTlsRequired{0};  ///< 530 5.7.0
    Counter clientCertsPresented{0};
    Counter clientCertsVerified{0};
    Counter clientCertsFailed{0};     ///< presented but not verified
    Counter clientCertRejections{0};  ///< 421 4.7.1 under Require
    Counter relayDenied{0};
    Counter connectionsRefusedByLimit{0};
    Counter messagesAccepted{0};
    Counter bytesAccepted{0};
    Counter messagesRejected{0};  ///< size, line length, spool errors after DATA

    // Sending
    Counter outboundConnections{0};
    Counter outboundStartTlsUsed{0};
    Counter outboundStartTlsNotOffered{0};
    Counter outboundHandshakesFailed{0};
    Counter outboundVerificationFailures{0};
    Counter messagesDelivered{0};
    Counter bytesDelivered{0};
    Counter messagesDeferredTlsPolicy{0};
    Counter messagesDeferredOther{0};
    Counter messagesBounced{0};

    // Gauges
    Gauge openSessions{0};
    Gauge openTlsSessions{0};
};

}  // namespace tlsgate::gateway
