// What every SIEM format derives from an event in the same way (names, outcome, endpoints, times,
// the flat key list of syslog SD and LEEF), so the formats cannot drift apart. Pure; never fail.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tlsgate/common/clock.h"
#include "tlsgate/common/event.h"
#include "tlsgate/siem/context.h"

namespace tlsgate::siem {

/// RFC 3339 UTC with milliseconds: "2024-05-01T12:00:00.123Z".
std::string rfc3339Millis(TimePoint at);
/// Milliseconds since the Unix epoch (floor).
std::int64_t epochMillis(TimePoint at);

/// The event's kind name: "handshake-succeeded", "certificate-expiring" ... (ECS event.action,
/// syslog MSGID, CEF signature id, LEEF event id). Certificate kinds get a "certificate-" prefix
/// ("ca-" kinds stay as they are) so the two families never share a name.
std::string actionOf(const Event& event);
/// A short human title: "TLS handshake failed", "Certificate expiring" (CEF Name, text body).
std::string_view displayNameOf(const Event& event);
/// "success", "failure" or "unknown" (ECS event.outcome, CEF outcome).
std::string_view outcomeOf(const Event& event);
/// "network", "email" (message kinds) or "configuration" (certificates): ECS event.category,
/// CEF/LEEF cat.
std::string_view categoryOf(const Event& event);
/// MessageAccepted, Delivered, Deferred, Bounced.
bool isMessageKind(TlsSessionEventKind kind);

/// Source and destination of a session event: inbound the client is the source; outbound we are
/// the source and the next hop the destination. Empty strings and 0 where unknown.
struct Endpoints {
    std::string sourceIp;
    std::uint16_t sourcePort = 0;
    std::string destinationIp;
    std::uint16_t destinationPort = 0;
};
Endpoints endpointsOf(const TlsSessionEvent& event);

/// OpenSSL's protocol name split as ECS wants it: "TLSv1.3" -> {"tls", "1.3"}, "TLSv1" ->
/// {"tls", "1.0"}, "SSLv3" -> {"ssl", "3.0"}; anything else -> {"", the text}.
std::pair<std::string, std::string> splitTlsVersion(std::string_view openSslName);
/// A fingerprint without separators, upper case: "AB:CD:..." -> "ABCD...".
std::string plainHex(std::string_view fingerprint);

/// The one-line text body: the display name, then ": " and the reason (session) or detail
/// (certificate) when there is one; control characters become spaces.
std::string summaryOf(const Event& event);

/// The flat (name, value) list that syslog SD-PARAMs and LEEF attributes carry, in a fixed order,
/// empty values left out (docs/events.md lists them).
using FlatFields = std::vector<std::pair<std::string_view, std::string>>;  ///< names: literals
FlatFields flatFieldsOf(const Event& event);

}  // namespace tlsgate::siem
