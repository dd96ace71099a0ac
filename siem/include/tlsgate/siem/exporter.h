// The SIEM exporter: one bounded bus subscription and one formatting thread ("siem-format") that
// renders each event once per format in use; per destination a bounded record queue and a sender
// thread ("siem-NAME") that sends in batches. Records spill to the destination's disk buffer
// while it is down or slow and are replayed in order when it is back. The constructor throws on bad
// settings; afterwards problems are counted in stats(), never thrown, and publishing on the bus
// never waits for a destination.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tlsgate/common/clock.h"
#include "tlsgate/common/event_bus.h"
#include "tlsgate/siem/settings.h"

namespace tlsgate::siem {

/// One destination's counters (a snapshot; for SNMP and logs).
struct DestinationStats {
    std::string name;
    Transport transport = Transport::SyslogTcp;
    std::uint64_t sent = 0;           ///< records the destination took (Kafka: delivery reports)
    std::uint64_t buffered = 0;       ///< records in the disk buffer now
    std::uint64_t bufferedBytes = 0;  ///< their size on disk
    /// Records lost: the disk buffer was full, or the in-memory queue overflowed.
    std::uint64_t dropped = 0;
    std::uint64_t errors = 0;  ///< failed connects, sends and deliveries
    bool connected = false;
    std::string lastError;  ///< the latest error text, for operators
};

class SiemExporter {
  public:
    /// Validates `settings` and opens each destination's disk buffer (with what an earlier run
    /// left there); throws std::invalid_argument or std::runtime_error. `bus`, `clock` must
    /// outlive the exporter.
    SiemExporter(SiemSettings settings, EventBus& bus,
                 const Clock& clock = SystemClock::instance());
    /// Stops (bound 5 s) if still running.
    ~SiemExporter();
    SiemExporter(const SiemExporter&) = delete;
    SiemExporter& operator=(const SiemExporter&) = delete;

    /// Subscribes each destination to the bus and starts its sender thread.
    void start();
    /// Stops taking events, sends what it can until `bound` has passed, keeps the rest in the
    /// disk buffers (replayed first by the next start) and joins the threads.
    void stop(std::chrono::milliseconds bound);
    std::vector<DestinationStats> stats() const;

  private:
    class Destination;
    /// The "siem-format" thread: renders each event once per format in use, hands each
    /// destination its records a batch at a time.
    void format();

    EventBus& bus_;
    const FormatContext context_;
    std::vector<std::unique_ptr<Destination>> destinations_;
    std::shared_ptr<Subscription> subscription_;
    std::thread formatter_;
    bool running_ = false;
};

}  // namespace tlsgate::siem
