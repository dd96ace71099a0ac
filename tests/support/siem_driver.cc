// siem_driver: runs a SiemExporter for the integration tests, before the daemon wires it in.
// Destinations come from the command line (--dest NAME:key=value,key=value with the [siem.NAME]
// keys); commands on stdin publish synthetic events and report stats as JSON lines on stdout.
// Bad arguments: message on stderr, exit 2.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>

#include "tlsgate/common/event_bus.h"
#include "tlsgate/siem/exporter.h"

namespace {

using namespace tlsgate;
using namespace tlsgate::siem;
using namespace std::chrono_literals;

const char* kUsage =
    "usage: siem_driver [--host NAME] --dest NAME:key=value[,key=value...] ...\n"
    "stdin commands:\n"
    "  sessions N PREFIX [client-cert|hostile]  N sessions of 4 events each (connected,\n"
    "                                           handshake-succeeded, message-accepted, closed)\n"
    "  failed PREFIX                            one failed handshake and one policy rejection\n"
    "  cert KIND [hostile]                      one certificate event (created, expired, ...)\n"
    "  wait-sent N SECONDS                      until every destination sent >= N\n"
    "  wait-buffered N SECONDS                  until every destination buffered >= N\n"
    "  stats                                    one JSON line per destination\n"
    "  quit                                     stop (bound --stop-ms), print stats, exit\n";

constexpr std::string_view kHostile = "CN=Evil|\"Corp\"=x ]\\ back\nslash\r\t\xc3\xa9\xe2\x9c\x93";

std::string jsonString(const std::string& text) {
    std::string out = "\"";
    for (const char c : text) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            char buffer[8];
            std::snprintf(buffer, sizeof buffer, "\\u%04x", static_cast<unsigned>(c));
            out += buffer;
        } else {
            out += c;
        }
    }
    return out + "\"";
}

void printStats(const SiemExporter& exporter) {
    for (const auto& s : exporter.stats()) {
        std::cout << "{\"name\":" << jsonString(s.name) << ",\"sent\":" << s.sent
                  << ",\"buffered\":" << s.buffered << ",\"dropped\":" << s.dropped
                  << ",\"errors\":" << s.errors
                  << ",\"connected\":" << (s.connected ? "true" : "false")
                  << ",\"last_error\":" << jsonString(s.lastError) << "}\n";
    }
    std::cout << "." << std::endl;
}

TlsSessionEvent sessionEvent(const std::string& id, TlsSessionEventKind kind) {
    TlsSessionEvent e;
    e.kind = kind;
    e.at = std::chrono::system_clock::now();
    e.sessionId = id;
    e.direction = Direction::Inbound;
    e.peerAddress = "192.0.2.10";
    e.peerPort = 52344;
    e.localAddress = "198.51.100.1";
    e.localPort = 25;
    e.peerName = "mail.example.org";
    return e;
}

void publishSession(EventBus& bus, const std::string& id, const std::string& variant) {
    bus.publish(sessionEvent(id, TlsSessionEventKind::Connected));
    auto hs = sessionEvent(id, TlsSessionEventKind::HandshakeSucceeded);
    hs.tls = true;
    hs.tlsVersion = "TLSv1.3";
    hs.cipher = "TLS_AES_256_GCM_SHA384";
    hs.cipherBits = 256;
    hs.group = "X25519";
    hs.serverName = "mx.example.net";
    if (variant == "client-cert" || variant == "hostile") {
        hs.peerCertSubject =
            variant == "hostile" ? std::string(kHostile) : "CN=client.example.org,O=Example";
        hs.peerCertIssuer = "CN=Example CA,O=Example";
        hs.peerCertSha256 = "AB:CD:EF:01:23:45:67:89";
        hs.peerCertSerial = "1A2B3C";
        hs.peerCertVerified = true;
    }
    bus.publish(hs);
    auto accepted = sessionEvent(id, TlsSessionEventKind::MessageAccepted);
    accepted.tls = true;
    accepted.queueId = id + "-Q";
    accepted.messageSize = 10240;
    accepted.sender = "alice@example.org";
    accepted.recipientCount = 2;
    bus.publish(accepted);
    auto closed = sessionEvent(id, TlsSessionEventKind::Closed);
    closed.tls = true;
    closed.durationMs = 42;
    closed.bytesIn = 11000;
    closed.bytesOut = 900;
    closed.commands = 7;
    bus.publish(closed);
}

CertificateEventKind certKind(const std::string& name) {
    for (const auto kind : {CertificateEventKind::Created, CertificateEventKind::Generated,
                            CertificateEventKind::Renewed, CertificateEventKind::Imported,
                            CertificateEventKind::Activated, CertificateEventKind::Deactivated,
                            CertificateEventKind::Removed, CertificateEventKind::Expiring,
                            CertificateEventKind::Expired, CertificateEventKind::CaAdded,
                            CertificateEventKind::CaRemoved}) {
        if (toString(kind) == name) {
            return kind;
        }
    }
    throw std::invalid_argument("unknown certificate event kind " + name);
}

template <class Condition>
bool waitUntil(Condition condition, int seconds) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (!condition()) {
        if (std::chrono::steady_clock::now() > deadline) {
            return false;
        }
        std::this_thread::sleep_for(20ms);
    }
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    SiemSettings settings;
    settings.context.observerHost = "gw1.example.net";
    settings.context.productVersion = "0.1.0";
    settings.context.procId = "4242";
    int stopMs = 5000;
    try {
        for (int i = 1; i < argc; ++i) {
            const std::string arg = argv[i];
            if (arg == "--host" && i + 1 < argc) {
                settings.context.observerHost = argv[++i];
            } else if (arg == "--stop-ms" && i + 1 < argc) {
                stopMs = std::stoi(argv[++i]);
            } else if (arg == "--dest" && i + 1 < argc) {
                const std::string spec = argv[++i];
                const auto colon = spec.find(':');
                DestinationSettings d;
                d.name = spec.substr(0, colon);
                std::stringstream pairs(colon == std::string::npos ? "" : spec.substr(colon + 1));
                for (std::string pair; std::getline(pairs, pair, ',');) {
                    const auto eq = pair.find('=');
                    if (eq == std::string::npos) {
                        throw std::invalid_argument(pair + ": expected key=value");
                    }
                    applyDestinationKey(d, pair.substr(0, eq), pair.substr(eq + 1));
                }
                settings.destinations.push_back(std::move(d));
            } else {
                std::cerr << kUsage;
                return 2;
            }
        }
        EventBus bus;
        SiemExporter exporter(settings, bus);
        exporter.start();
        std::cout << "ready" << std::endl;
        for (std::string line; std::getline(std::cin, line);) {
            std::istringstream in(line);
            std::string command;
            in >> command;
            if (command == "sessions") {
                int count = 0;
                std::string prefix, variant;
                in >> count >> prefix >> variant;
                for (int n = 0; n < count; ++n) {
                    char id[64];
                    std::snprintf(id, sizeof id, "%s-%06d", prefix.c_str(), n);
                    publishSession(bus, id, variant);
                }
                std::cout << "published " << count * 4 << std::endl;
            } else if (command == "failed") {
                std::string prefix;
                in >> prefix;
                auto failed = sessionEvent(prefix + "-F", TlsSessionEventKind::HandshakeFailed);
                failed.success = false;
                failed.reason = "handshake failure: no shared cipher";
                bus.publish(failed);
                auto policy = sessionEvent(prefix + "-P", TlsSessionEventKind::PolicyDecision);
                policy.success = false;
                policy.rule = "tls-required";
                policy.reason = "530 5.7.0 Must issue a STARTTLS command first";
                bus.publish(policy);
                std::cout << "published 2" << std::endl;
            } else if (command == "cert") {
                std::string kind, variant;
                in >> kind >> variant;
                CertificateEvent e;
                e.kind = certKind(kind);
                e.at = std::chrono::system_clock::now();
                e.certId = "cert-" + kind;
                e.subject = variant == "hostile" ? std::string(kHostile) : "CN=mx.example.net";
                e.sha256Fingerprint = "AB:CD:EF:01";
                e.notAfter = e.at + std::chrono::hours(24 * 30);
                e.daysLeft = e.kind == CertificateEventKind::Expired ? -1 : 30;
                if (e.kind == CertificateEventKind::Expiring) {
                    e.thresholdDays = 7;
                    e.daysLeft = 7;
                }
                e.detail = "test " + kind;
                bus.publish(e);
                std::cout << "published 1" << std::endl;
            } else if (command == "wait-sent" || command == "wait-buffered") {
                std::uint64_t count = 0;
                int seconds = 0;
                in >> count >> seconds;
                const bool sent = command == "wait-sent";
                const bool ok = waitUntil(
                    [&] {
                        for (const auto& s : exporter.stats()) {
                            if ((sent ? s.sent : s.buffered) < count) {
                                return false;
                            }
                        }
                        return true;
                    },
                    seconds);
                std::cout << (ok ? "ok" : "timeout") << std::endl;
            } else if (command == "stats") {
                printStats(exporter);
            } else if (command == "quit") {
                break;
            } else if (!command.empty()) {
                std::cout << "error unknown command " << command << std::endl;
            }
        }
        exporter.stop(std::chrono::milliseconds(stopMs));
        printStats(exporter);
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "siem_driver: " << e.what() << '\n';
        return 2;
    }
}
