// The daemon's certificate watcher thread ("certwatch"): renews the default certificate when due,
// records expiry notices, publishes the store's journal on the event bus, and tells its owner when
// the store changed (to rebuild TLS contexts). Errors are logged and retried on the next pass.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

#include "tlsgate/certmgr/store.h"
#include "tlsgate/common/event_bus.h"

namespace tlsgate::certmgr {

class CertificateWatcher {
  public:
    /// `changePoll`: how often the store is checked for changes made by the CLI;
    /// `expiryInterval`: how often renewals and expiry are evaluated.
    CertificateWatcher(Store& store, EventBus& bus, std::chrono::milliseconds changePoll,
                       std::chrono::seconds expiryInterval,
                       std::function<void()> onStoreChange = {},
                       std::function<void(const std::string&)> onError = {});
    ~CertificateWatcher();
    CertificateWatcher(const CertificateWatcher&) = delete;
    CertificateWatcher& operator=(const CertificateWatcher&) = delete;

    void start();
    /// Stops and joins the thread; bounded by one pass.
    void stop();
    /// One pass, on the caller's thread: renewals and expiry (when `evaluateExpiry`), publishing,
    /// change notification. Returns the number of events published.
    std::size_t tick(bool evaluateExpiry);
    /// The last error a pass met, empty when the last pass succeeded. `onError` hears each new
    /// one (not the repeats of a persisting failure).
    std::string lastError() const;

  private:
    void run();

    Store& store_;
    EventBus& bus_;
    const std::chrono::milliseconds changePoll_;
    const std::chrono::seconds expiryInterval_;
    std::function<void()> onStoreChange_;
    std::function<void(const std::string&)> onError_;  ///< called when a pass fails anew
    std::uint64_t lastGeneration_ = 0;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    std::string lastError_;
    std::thread thread_;
};

}  // namespace tlsgate::certmgr
