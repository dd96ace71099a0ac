// The SIEM exporter's settings: which destinations, how each is reached, in which record format,
// and how much each may buffer. Plain data; validateDestination/applyDestinationKey throw
// std::invalid_argument with "key = value: what was expected" on bad input.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tlsgate/siem/context.h"

namespace tlsgate::siem {

/// How records reach a destination.
enum class Transport {
    SyslogUdp,  ///< RFC 5424 over UDP (RFC 5426): one datagram per record; lossy by nature
    SyslogTcp,  ///< RFC 5424 over TCP with RFC 6587 octet counting ("LEN SP MSG")
    SyslogTls,  ///< RFC 5425: octet counting inside TLS, server certificate verified
    Kafka,      ///< one Kafka record per event (librdkafka, idempotent, acks=all)
    File,       ///< one record per line in a local file, rotated by size
};

/// The record format. Syslog transports wrap it as the MSG of an RFC 5424 message (the event is
/// also in the structured data); Kafka and File carry it as it is, one record per message/line.
enum class RecordFormat {
    Ecs,   ///< ECS JSON (the reference schema); any transport
    Ocsf,  ///< OCSF 1.1.0 JSON; any transport
    Cef,   ///< CEF:0; syslog transports only
    Leef,  ///< LEEF:2.0; syslog transports only
    Text,  ///< the one-line summary; syslog transports only
};

std::string_view toString(Transport transport);
std::string_view toString(RecordFormat format);
/// "syslog-udp", "syslog-tcp", "syslog-tls", "kafka", "file"; throws std::invalid_argument.
Transport transportFromName(std::string_view name);
/// "ecs" (or "json"), "ocsf", "cef", "leef", "text"; throws std::invalid_argument.
RecordFormat recordFormatFromName(std::string_view name);
bool isSyslog(Transport transport);

/// One destination. The defaults are the documented defaults of the [siem.NAME] keys.
struct DestinationSettings {
    std::string name;  ///< unique; names the thread ("siem-NAME"), the buffer and the stats row
    Transport transport = Transport::SyslogTcp;
    RecordFormat format = RecordFormat::Ecs;

    // Syslog (UDP, TCP, TLS)
    std::string host;        ///< receiver host name or address
    std::uint16_t port = 0;  ///< 0: 514 for UDP and TCP, 6514 for TLS
    std::string caFile;  ///< TLS: PEM file of the CA(s) the receiver's certificate must chain to
    /// TLS: the name the receiver's certificate must carry (SNI too); empty: `host`.
    std::string serverName;
    std::string clientCertFile;  ///< TLS: optional client certificate (PEM) for mutual TLS
    std::string clientKeyFile;   ///< TLS: its private key (PEM)
    std::chrono::milliseconds connectTimeout{5000};
    /// A send that makes no progress this long counts as a failure: the connection is dropped
    /// and records spill to the disk buffer (a slow receiver is treated as a down one).
    std::chrono::milliseconds sendTimeout{5000};

    // Kafka
    std::string brokers;  ///< bootstrap.servers
    std::string topic;
    /// Passed to librdkafka as they are (security.protocol, ssl.ca.location, sasl.*, ...).
    /// enable.idempotence=true and acks=all are always set and cannot be overridden.
    std::vector<std::pair<std::string, std::string>> kafkaProperties;

    // File
    std::string path;
    std::uint64_t rotateBytes = 100ULL << 20;  ///< rotate when the file would pass this size
    int keepFiles = 5;                         ///< rotated files kept: path.1 .. path.N

    // Buffering
    std::size_t queueCapacity = 10000;  ///< in-memory events between the bus and the sender
    std::string bufferDir;  ///< disk buffer directory (one per destination); empty: no disk buffer
    std::uint64_t bufferMaxBytes = 256ULL << 20;  ///< disk buffer bound; beyond it records drop
    std::chrono::milliseconds retryMin{500};      ///< first reconnect delay, doubled per failure
    std::chrono::milliseconds retryMax{30000};    ///< reconnect delay ceiling
};

/// Everything the exporter needs.
struct SiemSettings {
    std::vector<DestinationSettings> destinations;
    FormatContext context;
};

/// The port a destination uses (its own, or its transport's default).
std::uint16_t effectivePort(const DestinationSettings& destination);

/// Sets one [siem.NAME] key (names as in siem/README.md) from its text value; throws
/// std::invalid_argument("KEY = VALUE: expected ...") on an unknown key or a bad value.
void applyDestinationKey(DestinationSettings& destination, std::string_view key,
                         std::string_view value);

/// Checks one destination as a whole (required keys per transport, format allowed for the
/// transport); throws std::invalid_argument naming the destination and the key.
void validateDestination(const DestinationSettings& destination);
/// validateDestination for each, plus unique names and unique buffer directories.
void validateSettings(const SiemSettings& settings);

}  // namespace tlsgate::siem
