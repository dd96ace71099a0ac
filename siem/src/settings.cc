// Names, defaults and validation of the SIEM destination settings ([siem.NAME] keys). Throws
// std::invalid_argument("KEY = VALUE: what was expected") on bad input; called at load only.
#include "tlsgate/siem/settings.h"

#include <charconv>
#include <set>
#include <stdexcept>

namespace tlsgate::siem {
namespace {

[[noreturn]] void bad(std::string_view key, std::string_view value, std::string_view expected) {
    throw std::invalid_argument(std::string(key) + " = " + std::string(value) + ": " +
                                std::string(expected));
}

std::uint64_t parseUnsigned(std::string_view key, std::string_view value, std::uint64_t max) {
    std::uint64_t out = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
    if (ec != std::errc() || end != value.data() + value.size() || out > max) {
        bad(key, value, "expected a whole number up to " + std::to_string(max));
    }
    return out;
}

/// "256M", "64k", "1G" or plain bytes.
std::uint64_t parseBytes(std::string_view key, std::string_view value) {
    std::uint64_t unit = 1;
    std::string_view digits = value;
    if (!digits.empty()) {
        switch (digits.back()) {
            case 'k':
            case 'K':
                unit = 1ULL << 10;
                break;
            case 'm':
            case 'M':
                unit = 1ULL << 20;
                break;
            case 'g':
            case 'G':
                unit = 1ULL << 30;
                break;
            default:
                break;
        }
        if (unit != 1) {
            digits.remove_suffix(1);
        }
    }
    std::uint64_t number = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), number);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() ||
        number > (1ULL << 50) / unit) {
        bad(key, value, "expected a size in bytes, optionally with k, M or G");
    }
    return number * unit;
}

/// "500ms", "5s", "2m" or plain milliseconds.
std::chrono::milliseconds parseDuration(std::string_view key, std::string_view value) {
    std::uint64_t unit = 1;
    std::string_view digits = value;
    if (digits.ends_with("ms")) {
        digits.remove_suffix(2);
    } else if (digits.ends_with('s')) {
        unit = 1000;
        digits.remove_suffix(1);
    } else if (digits.ends_with('m')) {
        unit = 60000;
        digits.remove_suffix(1);
    }
    std::uint64_t number = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), number);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() ||
        number > 86'400'000 / unit) {
        bad(key, value, "expected a duration such as 500ms, 5s or 2m (at most a day)");
    }
    return std::chrono::milliseconds(number * unit);
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
        text.remove_prefix(1);
    }
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
        text.remove_suffix(1);
    }
    return text;
}

[[noreturn]] void invalid(const DestinationSettings& d, std::string_view what) {
    throw std::invalid_argument("siem." + d.name + ": " + std::string(what));
}

}  // namespace

std::string_view toString(Transport transport) {
    switch (transport) {
        case Transport::SyslogUdp:
            return "syslog-udp";
        case Transport::SyslogTcp:
            return "syslog-tcp";
        case Transport::SyslogTls:
            return "syslog-tls";
        case Transport::Kafka:
            return "kafka";
        case Transport::File:
            return "file";
    }
    return "?";
}

std::string_view toString(RecordFormat format) {
    switch (format) {
        case RecordFormat::Ecs:
            return "ecs";
        case RecordFormat::Ocsf:
            return "ocsf";
        case RecordFormat::Cef:
            return "cef";
        case RecordFormat::Leef:
            return "leef";
        case RecordFormat::Text:
            return "text";
    }
    return "?";
}

Transport transportFromName(std::string_view name) {
    for (const Transport t : {Transport::SyslogUdp, Transport::SyslogTcp, Transport::SyslogTls,
                              Transport::Kafka, Transport::File}) {
        if (toString(t) == name) {
            return t;
        }
    }
    bad("type", name, "expected syslog-udp, syslog-tcp, syslog-tls, kafka or file");
}

RecordFormat recordFormatFromName(std::string_view name) {
    if (name == "json") {
        return RecordFormat::Ecs;
    }
    for (const RecordFormat f : {RecordFormat::Ecs, RecordFormat::Ocsf, RecordFormat::Cef,
                                 RecordFormat::Leef, RecordFormat::Text}) {
        if (toString(f) == name) {
            return f;
        }
    }
    bad("format", name, "expected ecs (or json), ocsf, cef, leef or text");
}

bool isSyslog(Transport transport) {
    return transport == Transport::SyslogUdp || transport == Transport::SyslogTcp ||
           transport == Transport::SyslogTls;
}

std::uint16_t effectivePort(const DestinationSettings& d) {
    if (d.port != 0) {
        return d.port;
    }
    return d.transport == Transport::SyslogTls ? 6514 : 514;
}

void applyDestinationKey(DestinationSettings& d, std::string_view key, std::string_view rawValue) {
    const std::string_view value = trim(rawValue);
    const std::string v(value);
    if (key == "type") {
        d.transport = transportFromName(value);
    } else if (key == "format") {
        d.format = recordFormatFromName(value);
    } else if (key == "host") {
        d.host = v;
    } else if (key == "port") {
        d.port = static_cast<std::uint16_t>(parseUnsigned(key, value, 65535));
    } else if (key == "ca_file") {
        d.caFile = v;
    } else if (key == "server_name") {
        d.serverName = v;
    } else if (key == "client_cert_file") {
        d.clientCertFile = v;
    } else if (key == "client_key_file") {
        d.clientKeyFile = v;
    } else if (key == "connect_timeout") {
        d.connectTimeout = parseDuration(key, value);
    } else if (key == "send_timeout") {
        d.sendTimeout = parseDuration(key, value);
    } else if (key == "brokers") {
        d.brokers = v;
    } else if (key == "topic") {
        d.topic = v;
    } else if (key.starts_with("kafka.")) {
        const std::string property(key.substr(6));
        if (property.empty()) {
            bad(key, value, "expected kafka.<librdkafka property>");
        }
        d.kafkaProperties.emplace_back(property, v);
    } else if (key == "path") {
        d.path = v;
    } else if (key == "rotate_size") {
        d.rotateBytes = parseBytes(key, value);
    } else if (key == "rotate_keep") {
        d.keepFiles = static_cast<int>(parseUnsigned(key, value, 1000));
    } else if (key == "queue_capacity") {
        d.queueCapacity = static_cast<std::size_t>(parseUnsigned(key, value, 10'000'000));
    } else if (key == "buffer_dir") {
        d.bufferDir = v;
    } else if (key == "buffer_max_size") {
        d.bufferMaxBytes = parseBytes(key, value);
    } else if (key == "retry_min") {
        d.retryMin = parseDuration(key, value);
    } else if (key == "retry_max") {
        d.retryMax = parseDuration(key, value);
    } else {
        bad(key, value, "unknown key in a [siem.NAME] section");
    }
}

void validateDestination(const DestinationSettings& d) {
    if (d.name.empty() || d.name.find_first_of(" \t/\\.") != std::string::npos) {
        throw std::invalid_argument("siem destination name '" + d.name +
                                    "': expected a non-empty name without spaces, dots or slashes");
    }
    if (!isSyslog(d.transport) && d.format != RecordFormat::Ecs && d.format != RecordFormat::Ocsf) {
        invalid(d, "format = " + std::string(toString(d.format)) + ": " +
                       std::string(toString(d.transport)) + " carries ecs or ocsf");
    }
    switch (d.transport) {
        case Transport::SyslogUdp:
        case Transport::SyslogTcp:
        case Transport::SyslogTls:
            if (d.host.empty()) {
                invalid(d, "host is required for " + std::string(toString(d.transport)));
            }
            if (d.transport == Transport::SyslogTls && d.caFile.empty()) {
                invalid(
                    d,
                    "ca_file is required for syslog-tls (the receiver's certificate is verified)");
            }
            if (d.clientCertFile.empty() != d.clientKeyFile.empty()) {
                invalid(d, "client_cert_file and client_key_file go together");
            }
            break;
        case Transport::Kafka:
            if (d.brokers.empty() || d.topic.empty()) {
                invalid(d, "brokers and topic are required for kafka");
            }
            for (const auto& [key, value] : d.kafkaProperties) {
                if (key == "enable.idempotence" || key == "acks" || key == "bootstrap.servers") {
                    invalid(d,
                            "kafka." + key + " = " + value + ": set by tlsgate, not configurable");
                }
            }
            break;
        case Transport::File:
            if (d.path.empty()) {
                invalid(d, "path is required for file");
            }
            if (d.rotateBytes < 4096 || d.keepFiles < 0) {
                invalid(d, "rotate_size must be at least 4096 bytes and rotate_keep at least 0");
            }
            break;
    }
    if (d.queueCapacity == 0) {
        invalid(d, "queue_capacity = 0: expected at least 1");
    }
    if (d.retryMin.count() <= 0 || d.retryMax < d.retryMin) {
        invalid(d, "retry_min must be positive and retry_max at least retry_min");
    }
}

void validateSettings(const SiemSettings& settings) {
    std::set<std::string> names;
    std::set<std::string> buffers;
    for (const auto& d : settings.destinations) {
        validateDestination(d);
        if (!names.insert(d.name).second) {
            invalid(d, "the destination name is used twice");
        }
        if (!d.bufferDir.empty() && !buffers.insert(d.bufferDir).second) {
            invalid(d, "buffer_dir = " + d.bufferDir + ": shared with another destination");
        }
    }
}

}  // namespace tlsgate::siem
