// The Kafka sink: idempotent librdkafka producer; rd_kafka_produce without RD_KAFKA_MSG_F_BLOCK on
// the sender thread, delivery reports served by rd_kafka_poll on the sink's own thread. Errors are
// SendResult values, undelivered records go back to the listener (the disk buffer).
#include "tlsgate/siem/sink_kafka.h"

#include <pthread.h>
#include <signal.h>

#include <algorithm>

namespace tlsgate::siem {
namespace {

constexpr std::int32_t kAnyPartition = -1;  // RD_KAFKA_PARTITION_UA: the partitioner picks (by key)
constexpr int kPollMs = 100;

}  // namespace

KafkaSink::KafkaSink(const DestinationSettings& destination, SinkListener& listener)
    : destination_(destination), listener_(listener) {}

KafkaSink::~KafkaSink() {
    close(std::chrono::steady_clock::now());
}

bool KafkaSink::open() {
    close(std::chrono::steady_clock::now() + std::chrono::seconds(1));
    fatal_ = false;
    brokersUp_ = true;

    KafkaConfPtr conf(rd_kafka_conf_new());
    char error[512];
    const auto set = [&](const std::string& key, const std::string& value) {
        if (rd_kafka_conf_set(conf.get(), key.c_str(), value.c_str(), error, sizeof error) !=
            RD_KAFKA_CONF_OK) {
            setError("kafka." + key + " = " + value + ": " + error);
            return false;
        }
        return true;
    };
    // Defaults that suit an exporter, then the operator's passthrough, then what we insist on.
    if (!set("client.id", "tlsgate-" + destination_.name) || !set("linger.ms", "20") ||
        !set("message.timeout.ms", "30000") ||
        !set("socket.connection.setup.timeout.ms", "10000")) {
        return false;
    }
    for (const auto& [key, value] : destination_.kafkaProperties) {
        if (!set(key, value)) {
            return false;
        }
    }
    if (!set("bootstrap.servers", destination_.brokers) || !set("enable.idempotence", "true") ||
        !set("acks", "all")) {
        return false;
    }
    rd_kafka_conf_set_opaque(conf.get(), this);
    rd_kafka_conf_set_dr_msg_cb(conf.get(), &KafkaSink::onDelivery);
    rd_kafka_conf_set_error_cb(conf.get(), &KafkaSink::onError);

    // rd_kafka_new takes the configuration only when it succeeds.
    KafkaPtr producer(rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), error, sizeof error));
    if (!producer) {
        setError(std::string("kafka producer: ") + error);
        return false;
    }
    static_cast<void>(conf.release());
    KafkaTopicPtr topic(rd_kafka_topic_new(producer.get(), destination_.topic.c_str(), nullptr));
    if (!topic) {
        setError("kafka topic " + destination_.topic + ": " +
                 rd_kafka_err2str(rd_kafka_last_error()));
        return false;
    }
    producer_ = std::move(producer);
    topic_ = std::move(topic);
    polling_ = true;
    poller_ = std::thread([this] { pollLoop(); });
    return true;
}

void KafkaSink::pollLoop() {
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
    const std::string name = ("kafka-" + destination_.name).substr(0, 15);
    pthread_setname_np(pthread_self(), name.c_str());
    while (polling_.load()) {
        rd_kafka_poll(producer_.get(), kPollMs);
    }
}

SendResult KafkaSink::send(const Record& record) {
    if (!isOpen()) {
        return SendResult::Failed;
    }
    // F_COPY: librdkafka keeps its own copy; no F_BLOCK: a full queue answers at once.
    const int rc = rd_kafka_produce(topic_.get(), kAnyPartition, RD_KAFKA_MSG_F_COPY,
                                    const_cast<char*>(record.payload.data()), record.payload.size(),
                                    record.key.empty() ? nullptr : record.key.data(),
                                    record.key.size(), nullptr);
    if (rc == 0) {
        inFlight_.fetch_add(1);
        return SendResult::Queued;
    }
    const rd_kafka_resp_err_t err = rd_kafka_last_error();
    setError(std::string("kafka produce: ") + rd_kafka_err2str(err));
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        return SendResult::Busy;
    }
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        fatal_ = true;
    }
    return SendResult::Failed;
}

void KafkaSink::onDelivery(rd_kafka_t* /*rk*/, const rd_kafka_message_t* message, void* opaque) {
    auto* self = static_cast<KafkaSink*>(opaque);
    self->inFlight_.fetch_sub(1);
    if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        self->brokersUp_ = true;
        self->listener_.delivered(1);
        return;
    }
    self->setError(std::string("kafka delivery: ") + rd_kafka_err2str(message->err));
    Record record;
    if (message->key != nullptr) {
        record.key.assign(static_cast<const char*>(message->key), message->key_len);
    }
    if (message->payload != nullptr) {
        record.payload.assign(static_cast<const char*>(message->payload), message->len);
    }
    self->listener_.undelivered(std::move(record));
}

void KafkaSink::onError(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
    auto* self = static_cast<KafkaSink*>(opaque);
    const auto code = static_cast<rd_kafka_resp_err_t>(err);
    if (code == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
        self->brokersUp_ = false;
    }
    if (code == RD_KAFKA_RESP_ERR__FATAL) {
        char fatal[512];
        rd_kafka_fatal_error(rk, fatal, sizeof fatal);
        self->setError(std::string("kafka fatal: ") + fatal);
        self->fatal_ = true;
        return;
    }
    self->setError(std::string("kafka: ") + reason);
}

void KafkaSink::close(Deadline deadline) {
    if (!producer_) {
        return;
    }
    // Deliver what is in flight within the bound; what is left comes back through the delivery
    // reports of the purge, and the listener keeps it on disk.
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    polling_ = false;
    if (poller_.joinable()) {
        poller_.join();
    }
    rd_kafka_flush(producer_.get(), static_cast<int>(std::max<std::int64_t>(0, left.count())));
    rd_kafka_purge(producer_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    for (int i = 0; i < 50 && inFlight_.load() > 0; ++i) {
        rd_kafka_poll(producer_.get(), 10);
    }
    rd_kafka_poll(producer_.get(), 0);
    topic_.reset();
    producer_.reset();
}

}  // namespace tlsgate::siem
