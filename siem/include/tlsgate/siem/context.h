// What a SIEM formatter needs to know besides the event: who we are and how to label records.
// Plain data, built once from the configuration; no I/O, never fails.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tlsgate::siem {

/// The private enterprise number in our syslog SD-ID (`tlsgate@<PEN>`). tlsgate has none
/// registered, so this is 32473, the number RFC 5612 reserves for documentation and examples.
/// Change it here (or per deployment through FormatContext::enterpriseNumber) once one is assigned.
inline constexpr std::uint32_t kDocumentationPen = 32473;

/// Syslog facilities, numbered as in RFC 5424 section 6.2.1.
enum class SyslogFacility : std::uint8_t {
    Kern = 0,
    User = 1,
    Mail = 2,
    Daemon = 3,
    Auth = 4,
    Syslog = 5,
    Lpr = 6,
    News = 7,
    Uucp = 8,
    Cron = 9,
    Authpriv = 10,
    Ftp = 11,
    Ntp = 12,
    Audit = 13,
    Alert = 14,
    Clock = 15,
    Local0 = 16,
    Local1 = 17,
    Local2 = 18,
    Local3 = 19,
    Local4 = 20,
    Local5 = 21,
    Local6 = 22,
    Local7 = 23,
};

/// The facility named as in syslog.conf ("mail", "local0", ...); nullopt for an unknown name.
std::optional<SyslogFacility> syslogFacilityFromName(std::string_view name);

/// Everything the formatters read besides the event itself.
struct FormatContext {
    std::string observerHost;  ///< this gateway's host name: ECS observer.hostname, syslog HOSTNAME
    std::string productVersion;  ///< tlsgate's version, e.g. "0.1.0": CEF/LEEF header, metadata
    std::string appName = "tlsgate";  ///< syslog APP-NAME
    std::string procId;               ///< syslog PROCID (usually the pid); empty gives "-"
    SyslogFacility facility = SyslogFacility::Mail;      ///< syslog PRI = facility * 8 + severity
    std::uint32_t enterpriseNumber = kDocumentationPen;  ///< syslog SD-ID `tlsgate@<number>`
    /// LEEF attribute delimiter. Tab (the LEEF default) leaves the header's delimiter field out;
    /// '=', '|', CR, LF and non-ASCII bytes cannot delimit and are treated as tab.
    char leefDelimiter = '\t';
};

}  // namespace tlsgate::siem
