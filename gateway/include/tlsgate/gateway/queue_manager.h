// The queue manager: keeps the schedule of the spooled messages in memory (built by a scan of the
// spool at start and re-checked against it every minute), hands due messages to a bounded pool of
// delivery workers ("deliver"; a message just accepted goes to them at once, the "queue" thread
// dispatches retries), limits concurrency per destination, records each attempt in the message's
// delivery state, retries with exponential backoff, and bounces (RFC 3464 DSN) on permanent
// failure or when the queue lifetime ends. A message leaves the spool only after the next hop's
// 250 for every recipient (or a bounce). Errors are logged, never thrown.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tlsgate/common/clock.h"
#include "tlsgate/common/event_bus.h"
#include "tlsgate/gateway/config.h"
#include "tlsgate/gateway/counters.h"
#include "tlsgate/gateway/routing.h"
#include "tlsgate/gateway/smtp_client.h"
#include "tlsgate/gateway/spool.h"

namespace Poco {
class Logger;
}

namespace tlsgate::gateway {

/// Builds the router from [send] routes and default_route; throws ConfigError naming the key
/// (check-config and the daemon call it at load).
Router makeRouter(const GatewayConfig& config);

/// The delivery status notification (RFC 3464) for `failed` recipients of `message`, as the
/// content of a new message from the null sender to the original sender.
std::string makeDsn(const GatewayConfig& config, const SpooledMessage& message,
                    const std::string& originalContent,
                    const std::vector<std::pair<std::string, std::string>>& failed, TimePoint now);

class QueueManager {
  public:
    QueueManager(std::shared_ptr<const GatewayConfig> config, Spool& spool, Router router,
                 ClientTlsContextHolder& tls, EventBus& bus, const Clock& clock,
                 Counters* counters = nullptr);
    ~QueueManager();
    QueueManager(const QueueManager&) = delete;
    QueueManager& operator=(const QueueManager&) = delete;

    void start();
    /// Stops scheduling, lets running deliveries finish (bounded by their timeouts), joins.
    void stop();
    /// A message was just committed to the spool: due now, handed to a worker at once.
    void queued(const std::string& queueId);
    /// Looks at the queue now (the scheduler checks for a flush request and due retries).
    void wake();
    /// Makes every queued message due now.
    void flush();
    /// One scheduling pass on the caller's thread, deliveries included (tests).
    void runOnce();

  private:
    void schedulerLoop();
    void workerLoop(int index);
    /// Reads the spool (messages and their delivery states) into the schedule: at start, every
    /// kRescanInterval, and after a flush. Messages being delivered keep their entry.
    void rescan();
    /// The due messages not being delivered, now marked in flight (mutex_ held); settled()
    /// releases each.
    std::vector<std::string> claimDueLocked(TimePoint now);
    /// What a delivery pass left to do with a message.
    struct Next {
        enum class Kind { Gone, RetryAt, WaitForSlot } kind = Kind::Gone;
        TimePoint at{};  ///< RetryAt
    };
    /// One delivery pass over one message.
    Next process(const std::string& queueId);
    /// Records the result of process() in the schedule.
    void settled(const std::string& queueId, const Next& next);
    bool acquireDestination(const std::string& destination);
    void releaseDestination(const std::string& destination);
    void count(Counters::Counter Counters::*counter, std::uint64_t n = 1) const;
    /// Counts what one attempt showed about the next hop's TLS.
    void countAttempt(const DeliveryResult& result) const;
    /// The events of one attempt: connection, STARTTLS offered, handshake, policy decision.
    void publishAttempt(const SpooledMessage& message, const DeliveryResult& result);
    void publish(TlsSessionEventKind kind, const SpooledMessage& message, const std::string& reason,
                 const DeliveryResult* result, const std::string& rule = {});

    std::shared_ptr<const GatewayConfig> config_;
    const SendSettings& settings_;
    Spool& spool_;
    Router router_;
    ClientTlsContextHolder& tls_;
    /// Idle next-hop connections ([send] connection_cache_time); null when it is 0.
    std::unique_ptr<ConnectionCache> connections_;
    EventBus& bus_;
    const Clock& clock_;
    Counters* counters_;
    Poco::Logger& log_;

    std::mutex mutex_;
    std::condition_variable wake_;
    std::condition_variable jobsReady_;
    std::deque<std::string> jobs_;
    std::set<std::string> inFlight_;
    /// Every spooled message known, with when it is due (epoch: now). Disk stays the truth: the
    /// periodic rescan adds what the schedule missed; process() drops what is gone.
    std::map<std::string, TimePoint> schedule_;
    bool running_ = false;  ///< workers are there to take jobs
    bool rescanDue_ = true;
    std::chrono::steady_clock::time_point lastRescan_{};
    std::map<std::string, int> perDestination_;
    bool stopping_ = false;
    bool wakeRequested_ = false;
    /// Messages that found their destination at its limit: due again when a slot is released
    /// (or after kScanInterval, should that wake-up be missed).
    std::set<std::string> waitingForSlot_;
    std::thread scheduler_;
    std::vector<std::thread> workers_;
};

}  // namespace tlsgate::gateway
