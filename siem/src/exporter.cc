// The exporter: per destination, a bus subscription, a sender thread that formats, sends, spills
// to the backlog (disk buffer) and replays it in order, and the counters. Runs on the "siem-NAME"
// threads; errors are counted in stats(), never thrown after construction.
#include "tlsgate/siem/exporter.h"

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "tlsgate/siem/disk_buffer.h"
#include "tlsgate/siem/record.h"
#include "tlsgate/siem/sink.h"

namespace tlsgate::siem {
namespace {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

constexpr std::size_t kBatch = 256;     // events taken, or records replayed, per loop turn
constexpr milliseconds kIdleWait{200};  // longest pop wait: bounds how late stop() is noticed

}  // namespace

class SiemExporter::Destination final : public SinkListener {
  public:
    Destination(DestinationSettings settings, const FormatContext& context, const Clock& clock)
        : settings_(std::move(settings)),
          context_(context),
          clock_(clock),
          backoff_(settings_.retryMin) {
        if (settings_.bufferDir.empty()) {
            backlog_ = std::make_unique<MemoryBacklog>(settings_.bufferMaxBytes);
        } else {
            backlog_ = std::make_unique<DiskBuffer>(
                settings_.bufferDir, settings_.bufferMaxBytes,
                std::clamp<std::uint64_t>(settings_.bufferMaxBytes / 16, 64 << 10, 16 << 20));
        }
        sink_ = makeSink(settings_, *this);
    }

    ~Destination() override { stop(SteadyClock::now()); }

    void start(EventBus& bus) {
        subscription_ = bus.subscribe("siem-" + settings_.name, settings_.queueCapacity);
        stopping_ = false;
        thread_ = std::thread([this] { run(); });
    }

    void requestStop(SteadyClock::time_point deadline) {
        deadline_ = deadline;  // before stopping_: the sender reads it once it sees stopping_
        stopping_ = true;
        if (subscription_) {
            subscription_->close();  // later publishes are shed; pop() wakes up now
        }
    }

    void stop(SteadyClock::time_point deadline) {
        if (!thread_.joinable()) {
            return;
        }
        requestStop(deadline);
        thread_.join();
    }

    DestinationStats stats() const {
        DestinationStats s;
        s.name = settings_.name;
        s.transport = settings_.transport;
        s.sent = sent_.load();
        s.buffered = backlog_->records();
        s.bufferedBytes = backlog_->bytes();
        s.dropped = dropped_.load() + (subscription_ ? subscription_->dropped() : 0);
        s.errors = errors_.load();
        s.connected = connected_.load();
        s.lastError = sink_->lastError();
        if (s.lastError.empty()) {
            s.lastError = backlog_->lastError();
        }
        return s;
    }

    // SinkListener: called on the Kafka sink's delivery thread.
    void delivered(std::uint64_t count) override {
        sent_.fetch_add(count);
        connected_ = true;
    }
    void undelivered(Record record) override {
        errors_.fetch_add(1);
        keep(record);
        // Give the destination a moment before the sender replays it.
        replayNotBefore_ = SteadyClock::now() + settings_.retryMin;
    }

  private:
    void run() {
        sigset_t pipe;
        sigemptyset(&pipe);
        sigaddset(&pipe, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &pipe, nullptr);  // a dead socket answers EPIPE, not a signal
        const std::string name = ("siem-" + settings_.name).substr(0, 15);
        pthread_setname_np(pthread_self(), name.c_str());

        while (!stopping_.load()) {
            if (auto event = subscription_->pop(waitTime())) {
                handle(*event);
                for (std::size_t i = 1; i < kBatch && !stopping_.load(); ++i) {
                    auto more = subscription_->pop(milliseconds(0));
                    if (!more) {
                        break;
                    }
                    handle(*more);
                }
            }
            noteQueueDrops();
            if (!sink_->isOpen() && SteadyClock::now() >= nextAttempt_) {
                tryOpen();
            }
            if (sink_->isOpen()) {
                sendDropNotice();
                replay(kBatch);
            }
            connected_ = sink_->connected();
        }
        shutdown();
    }

    milliseconds waitTime() const {
        const auto now = SteadyClock::now();
        if (!sink_->isOpen()) {
            return std::clamp(std::chrono::duration_cast<milliseconds>(nextAttempt_ - now),
                              milliseconds(0), kIdleWait);
        }
        if (!backlog_->empty() || pendingDrops_ > 0) {
            return std::clamp(
                std::chrono::duration_cast<milliseconds>(replayNotBefore_.load() - now),
                milliseconds(0), kIdleWait);
        }
        return kIdleWait;
    }

    /// Formats one event and sends it, or queues it behind what is already waiting.
    void handle(const Event& event) {
        const Record record = makeRecord(event, settings_.transport, settings_.format, context_);
        if (!backlog_->empty() || pendingDrops_ > 0 || !sink_->isOpen() || pastDeadline()) {
            keep(record);  // order: nothing overtakes what waits in the backlog
            return;
        }
        if (!offer(record)) {
            keep(record);
        }
    }

    /// Sends one record; true when the sink took it (sent or queued for delivery).
    bool offer(const Record& record) {
        switch (sink_->send(record)) {
            case SendResult::Sent:
                sent_.fetch_add(1);
                return true;
            case SendResult::Queued:
                return true;
            case SendResult::Busy:
                replayNotBefore_ = SteadyClock::now() + settings_.retryMin;
                return false;
            case SendResult::Failed:
                failed();
                return false;
        }
        return false;
    }

    void keep(const Record& record) {
        if (!backlog_->append(record)) {
            dropped_.fetch_add(1);
            pendingDrops_.fetch_add(1);
        }
    }

    void noteQueueDrops() {
        const std::uint64_t shed = subscription_->dropped();
        if (shed > queueDropsSeen_) {
            pendingDrops_.fetch_add(shed - queueDropsSeen_);
            queueDropsSeen_ = shed;
        }
    }

    void tryOpen() {
        if (sink_->open()) {
            backoff_ = settings_.retryMin;
            replayNotBefore_ = SteadyClock::now();
        } else {
            failed();
        }
    }

    void failed() {
        errors_.fetch_add(1);
        nextAttempt_ = SteadyClock::now() + backoff_;
        backoff_ = std::min(backoff_ * 2, settings_.retryMax);
    }

    /// Once the destination is back after losing records: one notice with the count.
    void sendDropNotice() {
        const std::uint64_t count = pendingDrops_.load();
        if (count == 0 || SteadyClock::now() < replayNotBefore_.load()) {
            return;
        }
        const Record notice = makeDropNotice(count, settings_.name, clock_.now(),
                                             settings_.transport, settings_.format, context_);
        if (offer(notice)) {
            pendingDrops_.fetch_sub(count);
        }
    }

    /// Sends up to `limit` records from the backlog, oldest first.
    void replay(std::size_t limit) {
        for (std::size_t i = 0; i < limit && sink_->isOpen() && pendingDrops_ == 0; ++i) {
            if (SteadyClock::now() < replayNotBefore_.load()) {
                return;
            }
            auto record = backlog_->front();
            if (!record) {
                return;
            }
            if (!offer(*record)) {
                return;
            }
            backlog_->popFront();
        }
    }

    bool pastDeadline() const { return stopping_.load() && SteadyClock::now() >= deadline_.load(); }

    void shutdown() {
        // What is still queued: sent while time is left and nothing waits, else kept on disk.
        while (auto event = subscription_->pop(milliseconds(0))) {
            handle(*event);
        }
        noteQueueDrops();
        if (!sink_->isOpen() && !pastDeadline() && !backlog_->empty() &&
            SteadyClock::now() >= nextAttempt_) {
            tryOpen();
        }
        while (sink_->isOpen() && !pastDeadline() && (!backlog_->empty() || pendingDrops_ > 0)) {
            const std::uint64_t before = backlog_->records();
            const std::uint64_t dropsBefore = pendingDrops_.load();
            sendDropNotice();
            replay(kBatch);
            if (backlog_->records() == before && pendingDrops_.load() == dropsBefore) {
                if (SteadyClock::now() < replayNotBefore_.load()) {
                    std::this_thread::sleep_for(milliseconds(10));  // a full Kafka queue drains
                    continue;
                }
                break;
            }
        }
        sink_->close(
            deadline_.load());  // Kafka: flush within the bound, the rest comes back to keep()
        connected_ = false;
        backlog_->sync();
    }

    const DestinationSettings settings_;
    const FormatContext context_;
    const Clock& clock_;
    std::unique_ptr<Backlog> backlog_;
    std::unique_ptr<Sink> sink_;
    std::shared_ptr<Subscription> subscription_;
    std::thread thread_;

    std::atomic<bool> stopping_{false};
    std::atomic<SteadyClock::time_point> deadline_{SteadyClock::time_point{}};
    SteadyClock::time_point nextAttempt_{};
    std::atomic<SteadyClock::time_point> replayNotBefore_{SteadyClock::time_point{}};
    milliseconds backoff_;
    std::uint64_t queueDropsSeen_ = 0;

    std::atomic<std::uint64_t> sent_{0};
    std::atomic<std::uint64_t> dropped_{0};
    std::atomic<std::uint64_t> pendingDrops_{0};  // not yet announced by a notice
    std::atomic<std::uint64_t> errors_{0};
    std::atomic<bool> connected_{false};
};

SiemExporter::SiemExporter(SiemSettings settings, EventBus& bus, const Clock& clock) : bus_(bus) {
    validateSettings(settings);
    for (auto& destination : settings.destinations) {
        destinations_.push_back(
            std::make_unique<Destination>(std::move(destination), settings.context, clock));
    }
}

SiemExporter::~SiemExporter() {
    stop(std::chrono::seconds(5));
}

void SiemExporter::start() {
    if (running_) {
        return;
    }
    running_ = true;
    for (auto& destination : destinations_) {
        destination->start(bus_);
    }
}

void SiemExporter::stop(std::chrono::milliseconds bound) {
    if (!running_) {
        return;
    }
    running_ = false;
    const auto deadline = SteadyClock::now() + bound;
    // All at once, so the bound is shared rather than multiplied by the destinations.
    for (auto& destination : destinations_) {
        destination->requestStop(deadline);
    }
    for (auto& destination : destinations_) {
        destination->stop(deadline);
    }
}

std::vector<DestinationStats> SiemExporter::stats() const {
    std::vector<DestinationStats> out;
    out.reserve(destinations_.size());
    for (const auto& destination : destinations_) {
        out.push_back(destination->stats());
    }
    return out;
}

}  // namespace tlsgate::siem
