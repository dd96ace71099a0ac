// The certificate watcher thread: renewals, expiry notices, journal publishing, change callback.
// A failing pass is remembered (lastError) and retried on the next one; it never ends the thread.
#include "tlsgate/certmgr/watcher.h"

#include <pthread.h>

namespace tlsgate::certmgr {

CertificateWatcher::CertificateWatcher(Store& store, EventBus& bus,
                                       std::chrono::milliseconds changePoll,
                                       std::chrono::seconds expiryInterval,
                                       std::function<void()> onStoreChange,
                                       std::function<void(const std::string&)> onError)
    : store_(store),
      bus_(bus),
      changePoll_(changePoll),
      expiryInterval_(expiryInterval),
      onStoreChange_(std::move(onStoreChange)),
      onError_(std::move(onError)),
      lastGeneration_(store.generation()) {}

CertificateWatcher::~CertificateWatcher() {
    stop();
}

void CertificateWatcher::start() {
    std::lock_guard lock(mutex_);
    if (thread_.joinable()) {
        return;
    }
    stopping_ = false;
    thread_ = std::thread([this] { run(); });
    pthread_setname_np(thread_.native_handle(), "certwatch");
}

void CertificateWatcher::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) {
        thread_.join();
    }
}

std::size_t CertificateWatcher::tick(bool evaluateExpiry) {
    std::size_t published = 0;
    try {
        if (evaluateExpiry) {
            store_.renewDue();
            store_.recordExpiryNotices();
        }
        auto entries = store_.unpublished();
        for (const auto& entry : entries) {
            bus_.publish(entry.event);
            ++published;
        }
        if (!entries.empty()) {
            store_.markPublished(entries.back().seq);
        }
        std::uint64_t generation = store_.generation();
        if (generation != lastGeneration_) {
            lastGeneration_ = generation;
            if (onStoreChange_) {
                onStoreChange_();
            }
        }
        std::lock_guard lock(mutex_);
        lastError_.clear();
    } catch (const std::exception& e) {
        bool fresh = false;
        {
            std::lock_guard lock(mutex_);
            fresh = lastError_ != e.what();
            lastError_ = e.what();
        }
        if (fresh && onError_) {
            onError_(e.what());
        }
    }
    return published;
}

std::string CertificateWatcher::lastError() const {
    std::lock_guard lock(mutex_);
    return lastError_;
}

void CertificateWatcher::run() {
    auto nextExpiry = std::chrono::steady_clock::now();
    while (true) {
        auto now = std::chrono::steady_clock::now();
        bool expiryDue = now >= nextExpiry;
        if (expiryDue) {
            nextExpiry = now + expiryInterval_;
        }
        tick(expiryDue);
        std::unique_lock lock(mutex_);
        if (wake_.wait_for(lock, changePoll_, [this] { return stopping_; })) {
            return;
        }
    }
}

}  // namespace tlsgate::certmgr
