// The SIEM record formatters: pure functions event -> one record (ECS, OCSF, RFC 5424, CEF, LEEF,
// text). No I/O; never throw on event content: hostile values are escaped as docs/events.md says.
#pragma once

#include <string>
#include <string_view>

#include "tlsgate/common/event.h"
#include "tlsgate/siem/context.h"
#include "tlsgate/siem/record_fields.h"

namespace tlsgate::siem {

/// The OCSF schema version our OCSF records declare (metadata.version).
inline constexpr std::string_view kOcsfVersion = "1.1.0";
/// The ECS version our ECS records declare (ecs.version).
inline constexpr std::string_view kEcsVersion = "8.11.0";

/// One Elastic Common Schema JSON object on one line, without a trailing newline.
std::string formatEcs(const Event& event, const FormatContext& context);

/// One OCSF 1.1.0 JSON object on one line: Network Activity (4001) or Email Activity (4009) for
/// session events, Entity Management (3004) or Detection Finding (2004) for certificates.
std::string formatOcsf(const Event& event, const FormatContext& context);

/// One RFC 5424 message: "<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [tlsgate@PEN ...] BODY".
/// `body` is the MSG part as given (text, CEF, LEEF or JSON from the other formatters), without a
/// BOM; when empty, the message ends after the structured data.
std::string formatSyslog(const Event& event, const FormatContext& context, std::string_view body);
/// The same with the event's flatFieldsOf() given, for a caller that renders LEEF from them too.
std::string formatSyslog(const Event& event, const FormatContext& context, std::string_view body,
                         const FlatFields& fields);

/// One CEF:0 record, "CEF:0|tlsgate|tlsgate|VERSION|SIGNATURE_ID|NAME|SEVERITY|extensions".
std::string formatCef(const Event& event, const FormatContext& context);

/// One LEEF:2.0 record, "LEEF:2.0|tlsgate|tlsgate|VERSION|EVENT_ID|[DELIM|]key=value...".
std::string formatLeef(const Event& event, const FormatContext& context);
/// The same with the event's flatFieldsOf() given.
std::string formatLeef(const Event& event, const FormatContext& context, const FlatFields& fields);
/// Whether `c` can delimit LEEF attributes (docs/events.md); formatLeef uses tab otherwise.
bool usableLeefDelimiter(char c);

/// The plain-text body for syslog: summaryOf(event).
std::string formatText(const Event& event);

}  // namespace tlsgate::siem
