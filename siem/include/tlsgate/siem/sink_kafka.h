// The Kafka sink: an idempotent librdkafka producer (acks=all) with the session id as key, and a
// thread of its own ("kafka-NAME") that serves delivery reports through rd_kafka_poll. Produce
// never blocks: a full local queue is SendResult::Busy; a fatal producer error closes the sink.
#pragma once

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <memory>
#include <thread>

#include "tlsgate/siem/sink.h"

namespace tlsgate::siem {

/// Through the library loaded at run time (rdkafka_api.h): tlsgate does not link librdkafka.
struct KafkaDeleter {
    void operator()(rd_kafka_t* p) const;
    void operator()(rd_kafka_conf_t* p) const;
    void operator()(rd_kafka_topic_t* p) const;
};
using KafkaPtr = std::unique_ptr<rd_kafka_t, KafkaDeleter>;
using KafkaConfPtr = std::unique_ptr<rd_kafka_conf_t, KafkaDeleter>;
using KafkaTopicPtr = std::unique_ptr<rd_kafka_topic_t, KafkaDeleter>;

class KafkaSink final : public Sink {
  public:
    KafkaSink(const DestinationSettings& destination, SinkListener& listener);
    ~KafkaSink() override;
    bool open() override;
    bool isOpen() const override { return producer_ != nullptr && !fatal_.load(); }
    SendResult send(const Record& record) override;
    void close(Deadline deadline) override;
    /// False while librdkafka reports all brokers down (records still queue locally).
    bool connected() const override { return isOpen() && brokersUp_.load(); }
    /// Records produced whose delivery report has not come yet.
    std::uint64_t inFlight() const { return inFlight_.load(); }

  private:
    static void onDelivery(rd_kafka_t* rk, const rd_kafka_message_t* message, void* opaque);
    static void onError(rd_kafka_t* rk, int err, const char* reason, void* opaque);
    void pollLoop();

    const DestinationSettings destination_;
    SinkListener& listener_;
    KafkaPtr producer_;  // declared before topic_: destroyed after it
    KafkaTopicPtr topic_;
    std::thread poller_;
    std::atomic<bool> polling_{false};
    std::atomic<bool> fatal_{false};
    std::atomic<bool> brokersUp_{true};
    std::atomic<std::uint64_t> inFlight_{0};
};

}  // namespace tlsgate::siem
