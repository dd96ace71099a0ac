// Events and settings shared by the sink and exporter tests. Plain data; never fails.
#pragma once

#include <chrono>
#include <cstdio>
#include <string>

#include "tlsgate/common/event.h"
#include "tlsgate/siem/settings.h"

namespace tlsgate::siem::testing {

/// Session event number `n`: session id "S000042" (sortable), reason "seq=42".
inline Event numberedEvent(int n, TlsSessionEventKind kind = TlsSessionEventKind::Connected) {
    TlsSessionEvent e;
    e.kind = kind;
    e.at = std::chrono::sys_days{std::chrono::May / 1 / 2024} + std::chrono::milliseconds(n);
    char id[16];
    std::snprintf(id, sizeof id, "S%06d", n);
    e.sessionId = id;
    e.peerAddress = "192.0.2.10";
    e.peerPort = 52344;
    e.localAddress = "198.51.100.1";
    e.localPort = 25;
    e.peerName = "mail.example.org";
    e.reason = "seq=" + std::to_string(n);
    return e;
}

inline FormatContext testContext() {
    FormatContext c;
    c.observerHost = "gw1.example.net";
    c.productVersion = "0.1.0";
    c.procId = "4242";
    return c;
}

inline DestinationSettings tcpDestination(std::uint16_t port) {
    DestinationSettings d;
    d.name = "tcp";
    d.transport = Transport::SyslogTcp;
    d.format = RecordFormat::Text;
    d.host = "127.0.0.1";
    d.port = port;
    d.retryMin = std::chrono::milliseconds(20);
    d.retryMax = std::chrono::milliseconds(100);
    d.connectTimeout = std::chrono::milliseconds(1000);
    d.sendTimeout = std::chrono::milliseconds(1000);
    return d;
}

}  // namespace tlsgate::siem::testing
