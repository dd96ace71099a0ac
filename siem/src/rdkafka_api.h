// librdkafka, loaded when the first Kafka destination opens (dlopen), not linked into tlsgate:
// a library linked at start puts its thread-local storage (15.5 KiB for librdkafka 2.0) into
// every thread's static TLS block, every SMTP session thread included; loaded later, it only
// costs the threads that use it. Any thread may call rdkafka(); it throws std::runtime_error
// (with dlerror's reason) when the library or one of its functions cannot be found.
#pragma once

#include <librdkafka/rdkafka.h>

namespace tlsgate::siem {

/// The librdkafka functions the Kafka sink calls, with their declared types.
struct RdKafkaApi {
    decltype(&::rd_kafka_conf_new) conf_new;
    decltype(&::rd_kafka_conf_set) conf_set;
    decltype(&::rd_kafka_conf_set_opaque) conf_set_opaque;
    decltype(&::rd_kafka_conf_set_dr_msg_cb) conf_set_dr_msg_cb;
    decltype(&::rd_kafka_conf_set_error_cb) conf_set_error_cb;
    decltype(&::rd_kafka_conf_destroy) conf_destroy;
    decltype(&::rd_kafka_new) kafka_new;
    decltype(&::rd_kafka_destroy) destroy;
    decltype(&::rd_kafka_topic_new) topic_new;
    decltype(&::rd_kafka_topic_destroy) topic_destroy;
    decltype(&::rd_kafka_produce) produce;
    decltype(&::rd_kafka_poll) poll;
    decltype(&::rd_kafka_flush) flush;
    decltype(&::rd_kafka_purge) purge;
    decltype(&::rd_kafka_last_error) last_error;
    decltype(&::rd_kafka_err2str) err2str;
    decltype(&::rd_kafka_fatal_error) fatal_error;
};

/// The loaded library's functions (loaded once, kept until the process ends).
const RdKafkaApi& rdkafka();

}  // namespace tlsgate::siem
