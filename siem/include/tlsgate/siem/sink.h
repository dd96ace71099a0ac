// The sink interface: one transport's connection to one destination, driven by that
// destination's sender thread only (the Kafka sink also has its own delivery-report thread).
// Errors are results (SendResult, lastError()), never exceptions, once constructed.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <span>
#include <string>

#include "tlsgate/siem/record.h"
#include "tlsgate/siem/settings.h"

namespace tlsgate::siem {

/// What became of one send().
enum class SendResult {
    Sent,    ///< delivered to the destination (for stream transports: written to the socket)
    Queued,  ///< accepted for asynchronous delivery; the outcome comes through SinkListener
    Busy,    ///< not taken now (a full local queue); the sink stays open: retry later
    Failed,  ///< not taken; the connection is gone (closed by the sink): reconnect later
};

/// What became of a sendBatch(): the first taken() records were taken, in order, each Sent or
/// Queued; when not all were, `stop` (Busy or Failed) is what became of the next one.
struct BatchResult {
    std::size_t sent = 0;
    std::size_t queued = 0;
    SendResult stop = SendResult::Sent;

    std::size_t taken() const { return sent + queued; }
};

/// How an asynchronous sink (Kafka) reports outcomes; called on the sink's own thread.
class SinkListener {
  public:
    virtual ~SinkListener() = default;
    /// The destination acknowledged `count` records.
    virtual void delivered(std::uint64_t count) = 0;
    /// The destination did not take `record` after all: keep it (disk buffer) for a retry.
    virtual void undelivered(Record record) = 0;
};

using Deadline = std::chrono::steady_clock::time_point;

/// One destination's transport.
class Sink {
  public:
    virtual ~Sink() = default;
    Sink() = default;
    Sink(const Sink&) = delete;
    Sink& operator=(const Sink&) = delete;

    /// Connects (or reconnects); false on failure, with lastError() set.
    virtual bool open() = 0;
    /// Whether records can be offered now.
    virtual bool isOpen() const = 0;
    /// Offers one record; never blocks longer than the destination's send timeout.
    virtual SendResult send(const Record& record) = 0;
    /// Offers `records` in order and stops at the first one not taken. Stream and file sinks
    /// write a batch with one system call; the default offers one record after the other.
    virtual BatchResult sendBatch(std::span<const Record> records);
    /// Delivers what is in flight until `deadline`, then closes; what could not be delivered is
    /// handed to the listener as undelivered (asynchronous sinks) before this returns.
    virtual void close(Deadline deadline) = 0;
    /// Whether the destination is reachable, as far as the sink knows (the stats' "connected").
    virtual bool connected() const { return isOpen(); }

    std::string lastError() const {
        std::lock_guard lock(errorMutex_);
        return lastError_;
    }

  protected:
    void setError(std::string error) {
        std::lock_guard lock(errorMutex_);
        lastError_ = std::move(error);
    }

  private:
    mutable std::mutex errorMutex_;
    std::string lastError_;
};

/// The sink for `destination`'s transport. `listener` must outlive the sink.
std::unique_ptr<Sink> makeSink(const DestinationSettings& destination, SinkListener& listener);

}  // namespace tlsgate::siem
