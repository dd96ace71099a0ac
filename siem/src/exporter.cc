// The exporter: one bus subscription and one formatting thread ("siem-format") that renders each
// event once per format in use and hands the records to the destinations; per destination, a
// bounded record queue and a sender thread ("siem-NAME") that sends in batches, spills to the
// backlog (disk buffer) and replays it in order, and the counters. Errors are counted in stats(),
// never thrown after construction.
#include "tlsgate/siem/exporter.h"

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "tlsgate/common/bounded_queue.h"
#include "tlsgate/siem/disk_buffer.h"
#include "tlsgate/siem/record.h"
#include "tlsgate/siem/sink.h"

namespace tlsgate::siem {
namespace {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

constexpr std::size_t kBatch = 256;     // events taken, or records replayed, per loop turn
constexpr milliseconds kIdleWait{200};  // longest pop wait: bounds how late stop() is noticed
// After a batch smaller than kBatch the formatter waits this long before taking the next one, so
// records travel in batches (one wake-up and one write per batch, not per event) at the price of
// at most this much delay.
constexpr milliseconds kLinger{20};

}  // namespace

class SiemExporter::Destination final : public SinkListener {
  public:
    Destination(DestinationSettings settings, const FormatContext& context, const Clock& clock)
        : settings_(std::move(settings)),
          context_(context),
          clock_(clock),
          queue_(settings_.queueCapacity),
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

    Transport transport() const { return settings_.transport; }
    std::size_t queueCapacity() const { return settings_.queueCapacity; }
    RecordFormat format() const { return settings_.format; }

    /// Starts the sender; `events` is the exporter's bus subscription (its drops are this
    /// destination's too).
    void start(std::shared_ptr<Subscription> events) {
        subscription_ = std::move(events);
        queueDropsSeen_ = subscription_->dropped() + queue_.dropped();
        queue_.reopen();
        stopping_ = false;
        thread_ = std::thread([this] { run(); });
    }

    /// Called by the formatting thread: this destination's records of a batch of events.
    void enqueue(std::vector<Record>& records) { queue_.pushAll(records); }

    void requestStop(SteadyClock::time_point deadline) {
        deadline_ = deadline;  // before stopping_: the sender reads it once it sees stopping_
        stopping_ = true;
        queue_.close();  // the sender's pop wakes up now
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
        s.dropped =
            dropped_.load() + queue_.dropped() + (subscription_ ? subscription_->dropped() : 0);
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

        std::vector<Record> batch;
        while (!stopping_.load()) {
            batch.clear();
            queue_.popBatch(batch, kBatch, waitTime());
            handle(batch);
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

    /// Sends a batch of records, or queues them behind what is already waiting.
    void handle(const std::vector<Record>& batch) {
        if (batch.empty()) {
            return;
        }
        std::size_t taken = 0;
        if (backlog_->empty() && pendingDrops_ == 0 && sink_->isOpen() && !pastDeadline()) {
            const BatchResult result = sink_->sendBatch(batch);
            sent_.fetch_add(result.sent);
            taken = result.taken();
            if (taken < batch.size()) {
                noteNotTaken(result.stop);
            }
        }
        // Order: nothing overtakes what waits in the backlog.
        for (std::size_t i = taken; i < batch.size(); ++i) {
            keep(batch[i]);
        }
    }

    void noteNotTaken(SendResult result) {
        if (result == SendResult::Busy) {
            replayNotBefore_ = SteadyClock::now() + settings_.retryMin;
        } else if (result == SendResult::Failed) {
            failed();
        }
    }

    /// Sends one record; true when the sink took it (sent or queued for delivery).
    bool offer(const Record& record) {
        const SendResult result = sink_->send(record);
        switch (result) {
            case SendResult::Sent:
                sent_.fetch_add(1);
                return true;
            case SendResult::Queued:
                return true;
            case SendResult::Busy:
            case SendResult::Failed:
                noteNotTaken(result);
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
        const std::uint64_t shed = subscription_->dropped() + queue_.dropped();
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
        std::vector<Record> batch;
        do {
            batch.clear();
            queue_.popBatch(batch, kBatch, milliseconds(0));
            handle(batch);
        } while (!batch.empty());
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
    BoundedQueue<Record> queue_;  // formatted by the formatting thread, not yet sent
    std::unique_ptr<Backlog> backlog_;
    std::unique_ptr<Sink> sink_;
    std::shared_ptr<Subscription> subscription_;  // the exporter's (shared by all destinations)
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

SiemExporter::SiemExporter(SiemSettings settings, EventBus& bus, const Clock& clock)
    : bus_(bus), context_(settings.context) {
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
    // The bus queue holds as many events as the most patient destination's own queue.
    std::size_t capacity = 1;
    for (const auto& destination : destinations_) {
        capacity = std::max(capacity, destination->queueCapacity());
    }
    subscription_ = bus_.subscribe("siem", capacity);
    for (auto& destination : destinations_) {
        destination->start(subscription_);
    }
    formatter_ = std::thread([this] { format(); });
}

void SiemExporter::format() {
    pthread_setname_np(pthread_self(), "siem-format");
    std::vector<Event> events;
    std::vector<std::vector<Record>> records(destinations_.size());
    while (true) {
        events.clear();
        subscription_->popBatch(events, kBatch, kIdleWait);
        if (events.empty()) {
            if (subscription_->closed()) {
                return;  // closed, and everything published before was handed on
            }
            continue;
        }
        for (const Event& event : events) {
            EventRecords rendered(event, context_);
            for (std::size_t i = 0; i < destinations_.size(); ++i) {
                records[i].push_back(
                    rendered.get(destinations_[i]->transport(), destinations_[i]->format()));
            }
        }
        for (std::size_t i = 0; i < destinations_.size(); ++i) {
            destinations_[i]->enqueue(records[i]);
            records[i].clear();
        }
        if (events.size() < kBatch && !subscription_->closed()) {
            std::this_thread::sleep_for(kLinger);
        }
    }
}

void SiemExporter::stop(std::chrono::milliseconds bound) {
    if (!running_) {
        return;
    }
    running_ = false;
    const auto deadline = SteadyClock::now() + bound;
    // Later publishes are shed; what the bus queue holds is formatted and handed on first.
    subscription_->close();
    formatter_.join();
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
