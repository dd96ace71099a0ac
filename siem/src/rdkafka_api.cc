// Loads librdkafka with dlopen on first use (see rdkafka_api.h for why) and resolves the
// functions the Kafka sink needs. Thread-safe (a function-local static); errors throw
// std::runtime_error naming the library and what dlopen or dlsym said.
#include "rdkafka_api.h"

#include <dlfcn.h>

#include <stdexcept>
#include <string>

#ifndef TLSGATE_RDKAFKA_SONAME
#define TLSGATE_RDKAFKA_SONAME "librdkafka.so.1"
#endif

namespace tlsgate::siem {
namespace {

template <typename Fn>
void resolve(void* library, const char* name, Fn& target) {
    dlerror();
    void* symbol = dlsym(library, name);
    if (symbol == nullptr) {
        const char* why = dlerror();
        throw std::runtime_error(std::string(TLSGATE_RDKAFKA_SONAME) + ": no function " + name +
                                 (why != nullptr ? std::string(" (") + why + ")" : ""));
    }
    // POSIX guarantees that a data pointer from dlsym converts to the function's pointer.
    target = reinterpret_cast<Fn>(symbol);
}

RdKafkaApi load() {
    // RTLD_LOCAL: its symbols serve only this table. Never closed: its threads may outlive a sink.
    void* library = dlopen(TLSGATE_RDKAFKA_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (library == nullptr) {
        const char* why = dlerror();
        throw std::runtime_error(std::string("cannot load ") + TLSGATE_RDKAFKA_SONAME +
                                 " (the Kafka client library, Debian package librdkafka1): " +
                                 (why != nullptr ? why : "unknown reason"));
    }
    RdKafkaApi api{};
    resolve(library, "rd_kafka_conf_new", api.conf_new);
    resolve(library, "rd_kafka_conf_set", api.conf_set);
    resolve(library, "rd_kafka_conf_set_opaque", api.conf_set_opaque);
    resolve(library, "rd_kafka_conf_set_dr_msg_cb", api.conf_set_dr_msg_cb);
    resolve(library, "rd_kafka_conf_set_error_cb", api.conf_set_error_cb);
    resolve(library, "rd_kafka_conf_destroy", api.conf_destroy);
    resolve(library, "rd_kafka_new", api.kafka_new);
    resolve(library, "rd_kafka_destroy", api.destroy);
    resolve(library, "rd_kafka_topic_new", api.topic_new);
    resolve(library, "rd_kafka_topic_destroy", api.topic_destroy);
    resolve(library, "rd_kafka_produce", api.produce);
    resolve(library, "rd_kafka_poll", api.poll);
    resolve(library, "rd_kafka_flush", api.flush);
    resolve(library, "rd_kafka_purge", api.purge);
    resolve(library, "rd_kafka_last_error", api.last_error);
    resolve(library, "rd_kafka_err2str", api.err2str);
    resolve(library, "rd_kafka_fatal_error", api.fatal_error);
    return api;
}

}  // namespace

const RdKafkaApi& rdkafka() {
    static const RdKafkaApi api = load();  // a failed load throws, and is tried again next time
    return api;
}

}  // namespace tlsgate::siem
