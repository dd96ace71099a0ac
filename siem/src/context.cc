// Syslog facility names for FormatContext; pure lookups, unknown names give nullopt.
#include "tlsgate/siem/context.h"

#include <array>
#include <utility>

namespace tlsgate::siem {

std::optional<SyslogFacility> syslogFacilityFromName(std::string_view name) {
    static constexpr std::array<std::pair<std::string_view, SyslogFacility>, 24> kNames{{
        {"kern", SyslogFacility::Kern},         {"user", SyslogFacility::User},
        {"mail", SyslogFacility::Mail},         {"daemon", SyslogFacility::Daemon},
        {"auth", SyslogFacility::Auth},         {"syslog", SyslogFacility::Syslog},
        {"lpr", SyslogFacility::Lpr},           {"news", SyslogFacility::News},
        {"uucp", SyslogFacility::Uucp},         {"cron", SyslogFacility::Cron},
        {"authpriv", SyslogFacility::Authpriv}, {"ftp", SyslogFacility::Ftp},
        {"ntp", SyslogFacility::Ntp},           {"audit", SyslogFacility::Audit},
        {"alert", SyslogFacility::Alert},       {"clock", SyslogFacility::Clock},
        {"local0", SyslogFacility::Local0},     {"local1", SyslogFacility::Local1},
        {"local2", SyslogFacility::Local2},     {"local3", SyslogFacility::Local3},
        {"local4", SyslogFacility::Local4},     {"local5", SyslogFacility::Local5},
        {"local6", SyslogFacility::Local6},     {"local7", SyslogFacility::Local7},
    }};
    for (const auto& [text, facility] : kNames) {
        if (text == name) {
            return facility;
        }
    }
    return std::nullopt;
}

}  // namespace tlsgate::siem
