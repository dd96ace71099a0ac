// kafka_mock: librdkafka's mock Kafka cluster (one broker) for tests. Creates the topics given
// with --topic, prints the bootstrap address on stdout, then runs until stdin closes or SIGTERM.
// Reads "down" / "up" lines on stdin to take the broker down and bring it back (outage tests).
// Exit status 1 with a message on stderr when the cluster cannot start.
#include <librdkafka/rdkafka.h>
// clang-format off: the mock header needs rdkafka.h first
#include <librdkafka/rdkafka_mock.h>
// clang-format on
#include <poll.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

namespace {

volatile std::sig_atomic_t stopRequested = 0;

void onSignal(int /*signal*/) {
    stopRequested = 1;
}

struct KafkaDeleter {
    void operator()(rd_kafka_t* p) const { rd_kafka_destroy(p); }
    void operator()(rd_kafka_mock_cluster_t* p) const { rd_kafka_mock_cluster_destroy(p); }
};

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> topics;
    int partitions = 1;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--topic" && i + 1 < argc) {
            topics.emplace_back(argv[++i]);
        } else if (arg == "--partitions" && i + 1 < argc) {
            partitions = std::stoi(argv[++i]);
        } else {
            std::cerr << "usage: kafka_mock [--topic NAME]... [--partitions N]\n";
            return 2;
        }
    }
    std::signal(SIGTERM, onSignal);
    std::signal(SIGINT, onSignal);

    char error[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", error, sizeof error);
    std::unique_ptr<rd_kafka_t, KafkaDeleter> handle(
        rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error));
    if (!handle) {
        rd_kafka_conf_destroy(conf);
        std::cerr << "kafka_mock: " << error << '\n';
        return 1;
    }
    std::unique_ptr<rd_kafka_mock_cluster_t, KafkaDeleter> cluster(
        rd_kafka_mock_cluster_new(handle.get(), 1));
    if (!cluster) {
        std::cerr << "kafka_mock: cannot start the mock cluster\n";
        return 1;
    }
    for (const auto& topic : topics) {
        const rd_kafka_resp_err_t err =
            rd_kafka_mock_topic_create(cluster.get(), topic.c_str(), partitions, 1);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            std::cerr << "kafka_mock: topic " << topic << ": " << rd_kafka_err2str(err) << '\n';
            return 1;
        }
    }
    std::cout << rd_kafka_mock_cluster_bootstraps(cluster.get()) << std::endl;

    std::string pending;
    while (stopRequested == 0) {
        pollfd p{STDIN_FILENO, POLLIN, 0};
        if (::poll(&p, 1, 200) <= 0) {
            continue;
        }
        char buffer[256];
        const ssize_t n = ::read(STDIN_FILENO, buffer, sizeof buffer);
        if (n <= 0) {
            break;  // stdin closed: the test is done with us
        }
        pending.append(buffer, static_cast<std::size_t>(n));
        for (std::size_t eol; (eol = pending.find('\n')) != std::string::npos;) {
            const std::string line = pending.substr(0, eol);
            pending.erase(0, eol + 1);
            if (line == "down") {
                rd_kafka_mock_broker_set_down(cluster.get(), 1);
            } else if (line == "up") {
                rd_kafka_mock_broker_set_up(cluster.get(), 1);
            }
            std::cout << "ok " << line << std::endl;
        }
    }
    return 0;
}
