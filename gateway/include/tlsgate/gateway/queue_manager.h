// The queue manager: finds due messages in the spool ("queue" thread), hands them to a bounded
// pool of delivery workers ("deliver"), limits concurrency per destination, records each attempt
// in the message's delivery state, retries with exponential backoff, and bounces (RFC 3464 DSN)
// on permanent failure or when the queue lifetime ends. A message leaves the spool only after
// the next hop's 250 for every recipient (or a bounce). Errors are logged, never thrown.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
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
    /// Looks at the queue now (a message was accepted, or an operator asked for a flush).
    void wake();
    /// Makes every queued message due now.
    void flush();
    /// One scheduling pass on the caller's thread, deliveries included (tests).
    void runOnce();

  private:
    void schedulerLoop();
    void workerLoop(int index);
    std::vector<std::string> dueMessages();
    void process(const std::string& queueId);
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
    EventBus& bus_;
    const Clock& clock_;
    Counters* counters_;
    Poco::Logger& log_;

    std::mutex mutex_;
    std::condition_variable wake_;
    std::condition_variable jobsReady_;
    std::deque<std::string> jobs_;
    std::set<std::string> inFlight_;
    std::map<std::string, int> perDestination_;
    bool stopping_ = false;
    bool wakeRequested_ = false;
    /// A message waited for a destination slot: the next finished job wakes the scheduler.
    std::atomic<bool> waitingForSlot_{false};
    std::thread scheduler_;
    std::vector<std::thread> workers_;
};

}  // namespace tlsgate::gateway
