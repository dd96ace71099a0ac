// The Kafka sink: idempotent librdkafka producer; rd_kafka_produce without RD_KAFKA_MSG_F_BLOCK on
// the sender thread, delivery reports served by rd_kafka_poll on the sink's own thread. Errors are
// SendResult values, undelivered records go back to the listener (the disk buffer).
#include "tlsgate/siem/sink_kafka.h"

#include "rdkafka_api.h"

#include <pthread.h>
#include <signal.h>

#include <algorithm>

namespace tlsgate::siem {
namespace {

constexpr std::int32_t kAnyPartition = -1;  // RD_KAFKA_PARTITION_UA: the partitioner picks (by key)
constexpr int kPollMs = 100;

}  // namespace

void KafkaDeleter::operator()(rd_kafka_t* p) const {
    rdkafka().destroy(p);
}
void KafkaDeleter::operator()(rd_kafka_conf_t* p) const {
    rdkafka().conf_destroy(p);
}
void KafkaDeleter::operator()(rd_kafka_topic_t* p) const {
    rdkafka().topic_destroy(p);
}

KafkaSink::KafkaSink(const DestinationSettings& destination, SinkListener& listener)
    : destination_(destination), listener_(listener) {}

KafkaSink::~KafkaSink() {
    close(std::chrono::steady_clock::now());
}

bool KafkaSink::open() {
    close(std::chrono::steady_clock::now() + std::chrono::seconds(1));
    fatal_ = false;
    brokersUp_ = true;
    try {
        rdkafka();  // loads the library on the first Kafka destination
    } catch (const std::exception& e) {
        setError(std::string("kafka: ") + e.what());
        return false;
    }

    KafkaConfPtr conf(rdkafka().conf_new());
    char error[512];
    const auto set = [&](const std::string& key, const std::string& value) {
        if (rdkafka().conf_set(conf.get(), key.c_str(), value.c_str(), error, sizeof error) !=
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
    rdkafka().conf_set_opaque(conf.get(), this);
    rdkafka().conf_set_dr_msg_cb(conf.get(), &KafkaSink::onDelivery);
    rdkafka().conf_set_error_cb(conf.get(), &KafkaSink::onError);

    // rd_kafka_new takes the configuration only when it succeeds.
    KafkaPtr producer(rdkafka().kafka_new(RD_KAFKA_PRODUCER, conf.get(), error, sizeof error));
    if (!producer) {
        setError(std::string("kafka producer: ") + error);
        return false;
    }
    static_cast<void>(conf.release());
    KafkaTopicPtr topic(rdkafka().topic_new(producer.get(), destination_.topic.c_str(), nullptr));
    if (!topic) {
        setError("kafka topic " + destination_.topic + ": " +
                 rdkafka().err2str(rdkafka().last_error()));
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
        rdkafka().poll(producer_.get(), kPollMs);
    }
}

SendResult KafkaSink::send(const Record& record) {
    if (!isOpen()) {
        return SendResult::Failed;
    }
    // F_COPY: librdkafka keeps its own copy; no F_BLOCK: a full queue answers at once.
    const int rc = rdkafka().produce(
        topic_.get(), kAnyPartition, RD_KAFKA_MSG_F_COPY, const_cast<char*>(record.payload.data()),
        record.payload.size(), record.key.empty() ? nullptr : record.key.data(), record.key.size(),
        nullptr);
    if (rc == 0) {
        inFlight_.fetch_add(1);
        return SendResult::Queued;
    }
    const rd_kafka_resp_err_t err = rdkafka().last_error();
    setError(std::string("kafka produce: ") + rdkafka().err2str(err));
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
    self->setError(std::string("kafka delivery: ") + rdkafka().err2str(message->err));
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
        rdkafka().fatal_error(rk, fatal, sizeof fatal);
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
    rdkafka().flush(producer_.get(), static_cast<int>(std::max<std::int64_t>(0, left.count())));
    rdkafka().purge(producer_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    for (int i = 0; i < 50 && inFlight_.load() > 0; ++i) {
        rdkafka().poll(producer_.get(), 10);
    }
    rdkafka().poll(producer_.get(), 0);
    topic_.reset();
    producer_.reset();
}

}  // namespace tlsgate::siem
