// The LEEF 2.0 formatter: standard keys plus our flat fields, with docs/events.md's replacement
// rule (LEEF has no escaping). Pure; never throws on event content.
#include <cstdio>

#include <cctype>

#include "tlsgate/siem/escaping.h"
#include "tlsgate/siem/formatters.h"
#include "tlsgate/siem/record_fields.h"
#include "tlsgate/siem/severity.h"

namespace tlsgate::siem {

bool usableLeefDelimiter(char c) {
    const auto b = static_cast<unsigned char>(c);
    // Letters, digits and the characters of our keys and fixed values (devTimeFormat's
    // "yyyy-MM-dd'T'HH:mm:ss.SSSX") would split records where no field ends. A space cannot
    // either: values are full of them, and the replacement for a delimiter in a value is one.
    const bool inKeysOrValues =
        std::isalnum(b) != 0 || c == '-' || c == ':' || c == '.' || c == '\'' || c == '_';
    return b < 0x80 && !inKeysOrValues && c != '=' && c != '|' && c != '\r' && c != '\n' &&
           c != '\0' && c != ' ';
}

namespace {

/// The header's delimiter field: the character itself when printable, "xHH" otherwise.
std::string delimiterSpec(char c) {
    const auto b = static_cast<unsigned char>(c);
    if (b > 0x20 && b < 0x7F) {
        return std::string(1, c);
    }
    char buffer[8];
    std::snprintf(buffer, sizeof buffer, "x%02X", static_cast<unsigned>(b));
    return buffer;
}

}  // namespace

std::string formatLeef(const Event& event, const FormatContext& context) {
    return formatLeef(event, context, flatFieldsOf(event));
}

std::string formatLeef(const Event& event, const FormatContext& context, const FlatFields& fields) {
    const char delimiter =
        usableLeefDelimiter(context.leefDelimiter) ? context.leefDelimiter : '\t';
    const TimePoint at = std::visit([](const auto& e) { return e.at; }, event);

    std::string out;
    out.reserve(768);  // a session record is 350 to 650 bytes
    out += "LEEF:2.0|tlsgate|tlsgate|";
    appendLeef(out, context.productVersion, delimiter);
    out += '|';
    appendLeef(out, actionOf(event), delimiter);
    out += '|';
    if (delimiter != '\t') {
        out += delimiterSpec(delimiter);
        out += '|';
    }

    bool first = true;
    const auto add = [&](std::string_view key, std::string_view value) {
        if (value.empty()) {
            return;
        }
        if (!first) {
            out += delimiter;
        }
        first = false;
        out.append(key);
        out += '=';
        appendLeef(out, value, delimiter);
    };
    add("devTime", rfc3339Millis(at));
    add("devTimeFormat", "yyyy-MM-dd'T'HH:mm:ss.SSSX");
    add("sev", std::to_string(leefSeverity(severityOf(event))));
    add("cat", categoryOf(event));
    add("observerHostname", context.observerHost);
    for (const auto& [name, value] : fields) {
        add(name, value);
    }
    return out;
}

}  // namespace tlsgate::siem
