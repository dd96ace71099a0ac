// The RFC 5424 formatter: header, one SD-ELEMENT "tlsgate@<PEN>" carrying the flat fields, and the
// caller's body as MSG (docs/events.md, "Syslog"). Pure; never throws on event content.
#include "tlsgate/siem/escaping.h"
#include "tlsgate/siem/formatters.h"
#include "tlsgate/siem/record_fields.h"
#include "tlsgate/siem/severity.h"

namespace tlsgate::siem {
namespace {

// RFC 5424 section 6: header field lengths.
constexpr std::size_t kHostnameMax = 255;
constexpr std::size_t kAppNameMax = 48;
constexpr std::size_t kProcIdMax = 128;
constexpr std::size_t kMsgIdMax = 32;

}  // namespace

std::string formatSyslog(const Event& event, const FormatContext& context, std::string_view body) {
    return formatSyslog(event, context, body, flatFieldsOf(event));
}

std::string formatSyslog(const Event& event, const FormatContext& context, std::string_view body,
                         const FlatFields& fields) {
    const Severity severity = severityOf(event);
    const TimePoint at = std::visit([](const auto& e) { return e.at; }, event);
    const int pri = static_cast<int>(context.facility) * 8 + syslogCode(severity);

    std::string out;
    out.reserve(768 + body.size());  // the header and structured data of a session: 400 to 700
    out += '<';
    out += std::to_string(pri);
    out += ">1 ";
    out += rfc3339Millis(at);
    out += ' ';
    out += syslogHeaderField(context.observerHost, kHostnameMax);
    out += ' ';
    out += syslogHeaderField(context.appName, kAppNameMax);
    out += ' ';
    out += syslogHeaderField(context.procId, kProcIdMax);
    out += ' ';
    out += syslogHeaderField(actionOf(event), kMsgIdMax);
    out += " [";
    out += sdName("tlsgate@" + std::to_string(context.enterpriseNumber));
    for (const auto& [name, value] : fields) {
        // The names are our literals, valid SD-NAMEs as they are (a test checks every one).
        out += ' ';
        out.append(name);
        out += "=\"";
        appendSdParamValue(out, value);
        out += '"';
    }
    out += ']';
    if (!body.empty()) {
        out += ' ';
        out.append(body);
    }
    return out;
}

std::string formatText(const Event& event) {
    return summaryOf(event);
}

}  // namespace tlsgate::siem
