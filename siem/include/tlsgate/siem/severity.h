// The one severity mapping for SIEM records: event -> syslog severity, and that severity on the
// scales of ECS, OCSF, CEF and LEEF. Pure functions; never fail.
#pragma once

#include <string_view>

#include "tlsgate/common/event.h"

namespace tlsgate::siem {

/// Syslog severities (RFC 5424 section 6.2.1); the lower the number, the more severe.
enum class Severity {
    Emergency = 0,
    Alert = 1,
    Critical = 2,
    Error = 3,
    Warning = 4,
    Notice = 5,
    Informational = 6,
    Debug = 7,
};

/// How severe an event is. The table (also in docs/events.md):
/// - failed handshake, TLS required but not used, client certificate rejected, any policy refusal,
///   deferral by a TLS policy rule: Warning; any other deferral: Notice; bounce: Error;
/// - certificate expired: Error; expiring: threshold (or, without one, days left) <= 1: Error,
///   <= 14: Warning, otherwise Notice; certificate or trust anchor removed: Notice;
/// - everything else (connections, successful handshakes, accepted and delivered messages,
///   certificates created, imported, activated ...): Informational.
Severity severityOf(const Event& event);
Severity severityOf(const TlsSessionEvent& event);
Severity severityOf(const CertificateEvent& event);

/// "emergency" ... "debug", as syslog names them (ECS log.level).
std::string_view toString(Severity severity);
/// The syslog numeric code 0-7 (ECS event.severity, syslog PRI).
int syslogCode(Severity severity);
/// CEF's 0-10 scale: Debug 0, Informational 1, Notice 3, Warning 5, Error 7, Critical 8,
/// Alert 9, Emergency 10.
int cefSeverity(Severity severity);
/// LEEF's 1-10 `sev`: as CEF, but Debug is 1 (LEEF has no 0).
int leefSeverity(Severity severity);
/// OCSF severity_id: Debug/Informational 1, Notice 2 (Low), Warning 3 (Medium), Error 4 (High),
/// Critical/Alert 5 (Critical), Emergency 6 (Fatal).
int ocsfSeverityId(Severity severity);
/// OCSF's caption for ocsfSeverityId: "Informational", "Low", "Medium", "High", ...
std::string_view ocsfSeverityName(Severity severity);

}  // namespace tlsgate::siem
