// The SNMP AgentX subagent: serves TLSGATE-MIB (gateway, settings, counters, gauges, the
// certificate and SIEM destination tables) and the standard MTA objects (mta_mib.h: applTable,
// mtaTable, mtaGroupTable) through the system's snmpd and sends its notifications. All Net-SNMP
// calls happen on the one "snmp" thread it owns (Net-SNMP is not thread-safe);
// start()/stop()/notifySiemDestination() may be called from any thread. Problems after start (no
// master agent, a failed send) are logged to "tlsgate.snmp", never thrown.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tlsgate/common/clock.h"
#include "tlsgate/common/event_bus.h"

namespace tlsgate::certmgr {
class Store;
}
namespace tlsgate::gateway {
struct Counters;
struct GatewayConfig;
}  // namespace tlsgate::gateway

namespace tlsgate::snmp {

/// tlsgateQueueLength and tlsgateQueueOldestAge; also mtaStoredMessages/Volume/Recipients and
/// the sending group's stored columns (mta_mib.h).
struct QueueStatus {
    std::uint32_t length = 0;
    std::uint32_t oldestAgeSeconds = 0;  ///< 0 when the queue is empty
    std::uint64_t bytes = 0;             ///< total size of the queued messages (0: not known)
    std::uint32_t recipients = 0;        ///< recipients still to deliver (0: not known)
};

/// One row of tlsgateSiemDestTable.
struct SiemDestinationStatus {
    std::string name;
    bool connected = false;
    std::uint64_t recordsSent = 0;
    std::uint64_t recordsBuffered = 0;
    std::uint64_t recordsDropped = 0;
    std::uint32_t bufferLength = 0;
};

/// What the agent reads. Everything must outlive the agent (until stop() returns).
struct SnmpAgentSources {
    std::shared_ptr<const gateway::GatewayConfig> config;  ///< [snmp], [gateway], TLS settings
    const gateway::Counters* counters = nullptr;           ///< read with relaxed loads
    /// The certificate table's source; only its const reads (list(), listCas()) are used.
    const certmgr::Store* store = nullptr;
    /// Events to turn into notifications (a bounded subscription of the bus).
    std::shared_ptr<Subscription> events;
    TimePoint startTime;  ///< tlsgateStartTime
    std::string version;  ///< tlsgateVersion
    /// The spool's length and oldest age. Called on the "snmp" thread, at most every few seconds
    /// (the agent caches the answer); may be empty (the gauges stay 0).
    std::function<QueueStatus()> queueStatus;
    /// HOOK for the SIEM sinks: the rows of tlsgateSiemDestTable. Called on the "snmp" thread,
    /// at most every few seconds; empty (the default) gives an empty table.
    std::function<std::vector<SiemDestinationStatus>()> siemDestinations;
};

class SnmpAgent {
  public:
    explicit SnmpAgent(SnmpAgentSources sources);
    ~SnmpAgent();  ///< stop()
    SnmpAgent(const SnmpAgent&) = delete;
    SnmpAgent& operator=(const SnmpAgent&) = delete;

    /// Starts the "snmp" thread when [snmp] enabled = true; does nothing otherwise. The thread
    /// connects to the AgentX master (retrying every ping_interval while there is none).
    void start();
    /// Stops the thread: unregisters, snmp_shutdown(), joins (bounded: the loop wakes every
    /// 100 ms). Idempotent.
    void stop();
    /// Whether the thread runs.
    bool running() const;

    /// HOOK for the SIEM sinks: queues tlsgateSiemDestinationDown (up = false) or ...Up for the
    /// "snmp" thread. Any thread; ignored when the agent does not run.
    void notifySiemDestination(const std::string& destination, bool up, const std::string& reason);

    /// The events the agent uses (notifications, the last delivery's outcome): the filter for
    /// its bus subscription. Every certificate event and outbound session event, and of the
    /// inbound ones only failed handshakes and policy decisions, so a session that goes well
    /// costs the agent's thread nothing.
    static bool takes(const Event& event);

    class Impl;

  private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace tlsgate::snmp
