// libFuzzer target: every SIEM formatter (siem/include/tlsgate/siem/formatters.h) on a session
// event and a certificate event whose strings, numbers, kinds and format context come from the
// input (FuzzedDataProvider). Invariants from docs/events.md "Escaping": ECS and OCSF are one
// strict JSON object (valid UTF-8, no duplicate keys); RFC 5424, CEF, LEEF and text never contain
// CR or LF; the syslog header and structured data follow RFC 5424's grammar; CEF extension keys
// are the documented ones and every '=' in a value is escaped; LEEF attributes are the documented
// keys and no value holds the delimiter or '|'; every record is valid UTF-8.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.h"
#include "tlsgate/common/event.h"
#include "tlsgate/siem/context.h"
#include "tlsgate/siem/escaping.h"
#include "tlsgate/siem/formatters.h"

namespace siem = tlsgate::siem;
using tlsgate::fuzz::check;

namespace {

// ----------------------------------------------------------------------------------------------
// Strict JSON (RFC 8259) and UTF-8 checks.

bool validUtf8(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        std::size_t n = 0;
        std::uint32_t cp = 0;
        if (c < 0x80) {
            ++i;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
            cp = c & 0x1Fu;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            cp = c & 0x0Fu;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            cp = c & 0x07u;
        } else {
            return false;
        }
        for (std::size_t k = 1; k <= n; ++k) {
            if (i + k >= s.size()) {
                return false;
            }
            const auto d = static_cast<unsigned char>(s[i + k]);
            if ((d & 0xC0u) != 0x80u) {
                return false;
            }
            cp = (cp << 6) | (d & 0x3Fu);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF)) {
            return false;
        }
        i += n + 1;
    }
    return true;
}

class JsonChecker {
  public:
    explicit JsonChecker(std::string_view text) : s_(text) {}
    /// True when the whole text is one JSON object and nothing else.
    bool wholeObject() {
        skipSpace();
        if (peek() != '{' || !value(0)) {
            return false;
        }
        skipSpace();
        return pos_ == s_.size();
    }
    std::string error;

  private:
    char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
    void skipSpace() {
        while (pos_ < s_.size() &&
               (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) {
            ++pos_;
        }
    }
    bool fail(const char* what) {
        error = std::string(what) + " at " + std::to_string(pos_);
        return false;
    }
    bool literal(std::string_view word) {
        if (s_.substr(pos_, word.size()) != word) {
            return fail("bad literal");
        }
        pos_ += word.size();
        return true;
    }
    bool string(std::string* out) {
        ++pos_;  // the opening quote
        std::string text;
        while (pos_ < s_.size()) {
            const char c = s_[pos_];
            if (c == '"') {
                ++pos_;
                if (out != nullptr) {
                    *out = std::move(text);
                }
                return true;
            }
            if (static_cast<unsigned char>(c) < 0x20) {
                return fail("raw control character in a string");
            }
            if (c == '\\') {
                const char e = pos_ + 1 < s_.size() ? s_[pos_ + 1] : '\0';
                if (e == 'u') {
                    for (std::size_t k = 2; k < 6; ++k) {
                        if (pos_ + k >= s_.size() ||
                            std::isxdigit(static_cast<unsigned char>(s_[pos_ + k])) == 0) {
                            return fail("bad \\u escape");
                        }
                    }
                    text.append(s_.substr(pos_, 6));
                    pos_ += 6;
                    continue;
                }
                if (std::string_view("\"\\/bfnrt").find(e) == std::string_view::npos || e == '\0') {
                    return fail("bad escape");
                }
                text += c;
                text += e;
                pos_ += 2;
                continue;
            }
            text += c;
            ++pos_;
        }
        return fail("unterminated string");
    }
    bool number() {
        const std::size_t start = pos_;
        if (peek() == '-') {
            ++pos_;
        }
        if (peek() == '0') {
            ++pos_;
        } else if (peek() >= '1' && peek() <= '9') {
            while (peek() >= '0' && peek() <= '9') {
                ++pos_;
            }
        } else {
            return fail("bad number");
        }
        if (peek() == '.') {
            ++pos_;
            if (!(peek() >= '0' && peek() <= '9')) {
                return fail("bad fraction");
            }
            while (peek() >= '0' && peek() <= '9') {
                ++pos_;
            }
        }
        if (peek() == 'e' || peek() == 'E') {
            ++pos_;
            if (peek() == '+' || peek() == '-') {
                ++pos_;
            }
            if (!(peek() >= '0' && peek() <= '9')) {
                return fail("bad exponent");
            }
            while (peek() >= '0' && peek() <= '9') {
                ++pos_;
            }
        }
        return pos_ > start;
    }
    bool value(int depth) {
        if (depth > 64) {
            return fail("too deep");
        }
        skipSpace();
        switch (peek()) {
            case '{': {
                ++pos_;
                std::set<std::string> keys;
                skipSpace();
                if (peek() == '}') {
                    ++pos_;
                    return true;
                }
                for (;;) {
                    skipSpace();
                    if (peek() != '"') {
                        return fail("object key expected");
                    }
                    std::string key;
                    if (!string(&key)) {
                        return false;
                    }
                    if (!keys.insert(key).second) {
                        return fail("duplicate key");
                    }
                    skipSpace();
                    if (peek() != ':') {
                        return fail("':' expected");
                    }
                    ++pos_;
                    if (!value(depth + 1)) {
                        return false;
                    }
                    skipSpace();
                    if (peek() == ',') {
                        ++pos_;
                        continue;
                    }
                    if (peek() == '}') {
                        ++pos_;
                        return true;
                    }
                    return fail("',' or '}' expected");
                }
            }
            case '[': {
                ++pos_;
                skipSpace();
                if (peek() == ']') {
                    ++pos_;
                    return true;
                }
                for (;;) {
                    if (!value(depth + 1)) {
                        return false;
                    }
                    skipSpace();
                    if (peek() == ',') {
                        ++pos_;
                        continue;
                    }
                    if (peek() == ']') {
                        ++pos_;
                        return true;
                    }
                    return fail("',' or ']' expected");
                }
            }
            case '"':
                return string(nullptr);
            case 't':
                return literal("true");
            case 'f':
                return literal("false");
            case 'n':
                return literal("null");
            default:
                return number();
        }
    }

    std::string_view s_;
    std::size_t pos_ = 0;
};

// ----------------------------------------------------------------------------------------------
// The other formats.

bool hasCrOrLf(std::string_view s) {
    return s.find_first_of("\r\n") != std::string_view::npos;
}

bool isControl(char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
}

const std::set<std::string_view>& flatFieldNames() {
    static const std::set<std::string_view> names = {"action",
                                                     "outcome",
                                                     "sessionId",
                                                     "direction",
                                                     "src",
                                                     "srcPort",
                                                     "dst",
                                                     "dstPort",
                                                     "peerName",
                                                     "tls",
                                                     "tlsVersion",
                                                     "cipher",
                                                     "cipherBits",
                                                     "group",
                                                     "sni",
                                                     "peerCertSubject",
                                                     "peerCertIssuer",
                                                     "peerCertSerial",
                                                     "peerCertSha256",
                                                     "peerCertVerified",
                                                     "rule",
                                                     "reason",
                                                     "queueId",
                                                     "sender",
                                                     "recipientCount",
                                                     "messageSize",
                                                     "durationMs",
                                                     "bytesIn",
                                                     "bytesOut",
                                                     "commands",
                                                     "certId",
                                                     "subject",
                                                     "sha256",
                                                     "notAfter",
                                                     "daysLeft",
                                                     "thresholdDays",
                                                     "role",
                                                     "detail"};
    return names;
}

/// "<PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD-ID name="value" ...]" then " BODY" or nothing.
void checkSyslog(const std::string& record, std::string_view body) {
    check(!hasCrOrLf(record), "CR or LF in an RFC 5424 record", record);
    check(validUtf8(record), "RFC 5424 record is not valid UTF-8", record);
    check(record.size() > 4 && record[0] == '<', "RFC 5424 record without PRI", record);
    const std::size_t close = record.find('>');
    check(close != std::string::npos && close >= 2 && close <= 4, "bad PRI", record);
    const int pri = std::stoi(record.substr(1, close - 1));
    check(pri >= 0 && pri <= 191, "PRI out of range", record);
    check(record.compare(close + 1, 2, "1 ") == 0, "no version 1", record);
    std::size_t pos = close + 3;
    for (int field = 0; field < 5; ++field) {  // TIMESTAMP HOSTNAME APP-NAME PROCID MSGID
        const std::size_t space = record.find(' ', pos);
        check(space != std::string::npos && space > pos, "missing header field", record);
        for (std::size_t i = pos; i < space; ++i) {
            const auto b = static_cast<unsigned char>(record[i]);
            check(b >= 33 && b <= 126, "header field byte outside 33-126", record);
        }
        static constexpr std::size_t kMax[] = {32, 255, 48, 128, 32};
        check(space - pos <= kMax[field], "header field too long", record);
        pos = space + 1;
    }
    check(pos < record.size() && record[pos] == '[', "no structured data", record);
    ++pos;
    // SD-ID
    const std::size_t idStart = pos;
    while (pos < record.size() && record[pos] != ' ' && record[pos] != ']') {
        const auto b = static_cast<unsigned char>(record[pos]);
        check(b >= 33 && b <= 126 && record[pos] != '=' && record[pos] != '"', "bad SD-ID byte",
              record);
        ++pos;
    }
    check(pos - idStart >= 1 && pos - idStart <= 32, "bad SD-ID length", record);
    std::set<std::string> names;
    while (pos < record.size() && record[pos] == ' ') {
        ++pos;
        const std::size_t nameStart = pos;
        while (pos < record.size() && record[pos] != '=') {
            const auto b = static_cast<unsigned char>(record[pos]);
            check(b >= 33 && b <= 126 && record[pos] != ']' && record[pos] != '"' &&
                      record[pos] != ' ',
                  "bad PARAM-NAME byte", record);
            ++pos;
        }
        const std::string name = record.substr(nameStart, pos - nameStart);
        check(!name.empty() && name.size() <= 32, "bad PARAM-NAME length", record);
        check(flatFieldNames().count(name) == 1, "undocumented SD-PARAM", name);
        check(names.insert(name).second, "repeated SD-PARAM", name);
        check(record.compare(pos, 2, "=\"") == 0, "PARAM-NAME not followed by =\"", record);
        pos += 2;
        for (;;) {
            check(pos < record.size(), "unterminated PARAM-VALUE", record);
            const char c = record[pos];
            if (c == '\\') {
                check(
                    pos + 1 < record.size() && (record[pos + 1] == '"' || record[pos + 1] == '\\' ||
                                                record[pos + 1] == ']'),
                    "backslash not escaping \", \\ or ] in a PARAM-VALUE", record);
                pos += 2;
                continue;
            }
            check(c != ']', "unescaped ] in a PARAM-VALUE", record);
            check(!isControl(c), "control character in a PARAM-VALUE", record);
            ++pos;
            if (c == '"') {
                break;
            }
        }
    }
    check(pos < record.size() && record[pos] == ']', "structured data not closed", record);
    ++pos;
    if (body.empty()) {
        check(pos == record.size(), "bytes after the structured data", record);
    } else {
        check(record.compare(pos, std::string::npos, " " + std::string(body)) == 0,
              "body not appended as given", record);
    }
}

const std::set<std::string_view>& cefKeys() {
    static const std::set<std::string_view> keys = {"rt",
                                                    "act",
                                                    "outcome",
                                                    "cat",
                                                    "dvchost",
                                                    "msg",
                                                    "deviceDirection",
                                                    "proto",
                                                    "app",
                                                    "src",
                                                    "spt",
                                                    "dst",
                                                    "dpt",
                                                    "shost",
                                                    "dhost",
                                                    "suser",
                                                    "externalId",
                                                    "cn1",
                                                    "cn1Label",
                                                    "cn2",
                                                    "cn2Label",
                                                    "cn3",
                                                    "cn3Label",
                                                    "fsize",
                                                    "in",
                                                    "out",
                                                    "cs1",
                                                    "cs1Label",
                                                    "cs2",
                                                    "cs2Label",
                                                    "cs3",
                                                    "cs3Label",
                                                    "cs4",
                                                    "cs4Label",
                                                    "cs5",
                                                    "cs5Label",
                                                    "cs6",
                                                    "cs6Label",
                                                    "flexString1",
                                                    "flexString1Label",
                                                    "flexString2",
                                                    "flexString2Label",
                                                    "deviceCustomDate1",
                                                    "deviceCustomDate1Label"};
    return keys;
}

/// CEF text as the escaping rule says: valid UTF-8, then `\`, `=`, LF, CR escaped; tab kept;
/// other controls -> space.
std::string expectedCefValue(std::string_view text) {
    std::string out;
    for (const char c : siem::sanitizeUtf8(text)) {
        if (c == '\\' || c == '=') {
            out += '\\';
            out += c;
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\r') {
            out += "\\r";
        } else if (c != '\t' && isControl(c)) {
            out += ' ';
        } else {
            out += c;
        }
    }
    return out;
}

/// Returns the extension's key -> raw (escaped) value.
std::vector<std::pair<std::string, std::string>> checkCef(const std::string& record) {
    check(!hasCrOrLf(record), "CR or LF in a CEF record", record);
    check(validUtf8(record), "CEF record is not valid UTF-8", record);
    std::size_t pos = 0;
    std::vector<std::string> header;
    std::string field;
    while (header.size() < 7) {
        check(pos < record.size(), "CEF header with fewer than 8 fields", record);
        const char c = record[pos];
        if (c == '\\') {
            check(pos + 1 < record.size() && (record[pos + 1] == '\\' || record[pos + 1] == '|'),
                  "backslash not escaping \\ or | in a CEF header", record);
            field += record[pos + 1];
            pos += 2;
            continue;
        }
        check(!isControl(c), "control character in a CEF header", record);
        if (c == '|') {
            header.push_back(field);
            field.clear();
        } else {
            field += c;
        }
        ++pos;
    }
    check(header[0] == "CEF:0" && header[1] == "tlsgate" && header[2] == "tlsgate",
          "bad CEF header prefix", record);
    const std::string_view ext(record.data() + pos, record.size() - pos);
    // Unescaped '=' marks a key: key = [A-Za-z0-9_]+ right before it, preceded by start or space.
    std::vector<std::size_t> equals;
    for (std::size_t i = 0; i < ext.size(); ++i) {
        if (ext[i] == '\\') {
            check(i + 1 < ext.size() &&
                      std::string_view("\\=nr").find(ext[i + 1]) != std::string_view::npos,
                  "bad escape in a CEF extension", record);
            ++i;
            continue;
        }
        check(ext[i] == '\t' || !isControl(ext[i]), "control character in a CEF extension", record);
        if (ext[i] == '=') {
            equals.push_back(i);
        }
    }
    std::vector<std::pair<std::string, std::string>> pairs;
    std::vector<std::size_t> keyStarts;
    for (const std::size_t eq : equals) {
        std::size_t start = eq;
        while (start > 0 && std::isalnum(static_cast<unsigned char>(ext[start - 1])) != 0) {
            --start;
        }
        check(start < eq, "unescaped '=' without a key before it (injection)", record);
        check(start == 0 || ext[start - 1] == ' ', "CEF key not preceded by a space", record);
        keyStarts.push_back(start);
    }
    check(ext.empty() || (!keyStarts.empty() && keyStarts.front() == 0),
          "CEF extension does not start with a key", record);
    std::set<std::string> seen;
    for (std::size_t k = 0; k < equals.size(); ++k) {
        const std::string key(ext.substr(keyStarts[k], equals[k] - keyStarts[k]));
        const std::size_t valueEnd = k + 1 < equals.size() ? keyStarts[k + 1] - 1 : ext.size();
        check(cefKeys().count(key) == 1, "undocumented CEF key (or injected)", key);
        check(seen.insert(key).second, "repeated CEF key", key);
        pairs.emplace_back(key, std::string(ext.substr(equals[k] + 1, valueEnd - equals[k] - 1)));
    }
    return pairs;
}

std::string delimiterSpec(char c) {
    const auto b = static_cast<unsigned char>(c);
    if (b > 0x20 && b < 0x7F) {
        return std::string(1, c);
    }
    char buffer[8];
    std::snprintf(buffer, sizeof buffer, "x%02X", static_cast<unsigned>(b));
    return buffer;
}

void checkLeef(const std::string& record, char requested) {
    check(!hasCrOrLf(record), "CR or LF in a LEEF record", record);
    check(validUtf8(record), "LEEF record is not valid UTF-8", record);
    const auto b = static_cast<unsigned char>(requested);
    // The documented rule (docs/events.md): besides '=', '|', CR, LF, NUL and non-ASCII, letters,
    // digits and the characters of keys and fixed values cannot delimit either.
    const bool inKeysOrValues = std::isalnum(b) != 0 || requested == '-' || requested == ':' ||
                                requested == '.' || requested == '\'' || requested == '_';
    const bool usable = b < 0x80 && !inKeysOrValues && requested != '=' && requested != '|' &&
                        requested != '\r' && requested != '\n' && requested != '\0' &&
                        requested != ' ';
    const char delimiter = usable ? requested : '\t';
    std::vector<std::string_view> fields;
    std::string_view rest(record);
    const std::size_t headerFields = delimiter == '\t' ? 5 : 6;
    for (std::size_t i = 0; i < headerFields; ++i) {
        const std::size_t bar = rest.find('|');
        check(bar != std::string_view::npos, "LEEF header with too few fields", record);
        fields.push_back(rest.substr(0, bar));
        rest.remove_prefix(bar + 1);
    }
    check(rest.find('|') == std::string_view::npos, "'|' in a LEEF attribute", record);
    check(fields[0] == "LEEF:2.0" && fields[1] == "tlsgate" && fields[2] == "tlsgate",
          "bad LEEF header prefix", record);
    if (delimiter != '\t') {
        check(fields[5] == delimiterSpec(delimiter), "LEEF delimiter field wrong", record);
    }
    std::set<std::string_view> seen;
    while (!rest.empty()) {
        const std::size_t end = rest.find(delimiter);
        const std::string_view attribute = rest.substr(0, end);
        const std::size_t eq = attribute.find('=');
        check(eq != std::string_view::npos && eq > 0, "LEEF attribute without key=", record);
        const std::string_view key = attribute.substr(0, eq);
        const bool known = flatFieldNames().count(key) == 1 || key == "devTime" ||
                           key == "devTimeFormat" || key == "sev" || key == "cat" ||
                           key == "observerHostname";
        check(known, "undocumented LEEF attribute (or injected)", std::string(key));
        check(seen.insert(key).second, "repeated LEEF attribute", std::string(key));
        for (const char c : attribute.substr(eq + 1)) {
            check(!isControl(c), "control character in a LEEF value", record);
        }
        if (end == std::string_view::npos) {
            break;
        }
        rest.remove_prefix(end + 1);
    }
}

void checkJson(const std::string& record, const char* format) {
    check(validUtf8(record), "JSON record is not valid UTF-8", record);
    JsonChecker checker(record);
    const bool ok = checker.wholeObject();
    check(ok, format, checker.error + ": " + record);
    check(!hasCrOrLf(record), "JSON record spans lines", record);
}

void checkText(const std::string& text) {
    check(validUtf8(text), "text body is not valid UTF-8", text);
    check(std::none_of(text.begin(), text.end(), isControl), "control character in the text", text);
}

void formatAll(const tlsgate::Event& event, const siem::FormatContext& context,
               std::string_view reasonOrDetail) {
    const std::string ecs = siem::formatEcs(event, context);
    checkJson(ecs, "ECS record is not one JSON object");
    const std::string ocsf = siem::formatOcsf(event, context);
    checkJson(ocsf, "OCSF record is not one JSON object");
    const std::string cef = siem::formatCef(event, context);
    const auto pairs = checkCef(cef);
    for (const auto& [key, value] : pairs) {
        if (key == "msg") {
            check(value == expectedCefValue(reasonOrDetail), "CEF msg not escaped as documented",
                  value);
        }
    }
    const std::string leef = siem::formatLeef(event, context);
    checkLeef(leef, context.leefDelimiter);
    const std::string text = siem::formatText(event);
    checkText(text);
    for (const std::string* body : {&text, &cef, &leef, &ecs}) {
        checkSyslog(siem::formatSyslog(event, context, *body), *body);
    }
    checkSyslog(siem::formatSyslog(event, context, {}), {});
}

tlsgate::TimePoint timeFrom(FuzzedDataProvider& in) {
    // 1950 to 2262: what system_clock's nanoseconds can hold (TimePoint cannot say more).
    const auto ms = in.ConsumeIntegralInRange<std::int64_t>(-631152000000, 9200000000000);
    return tlsgate::TimePoint(
        std::chrono::duration_cast<tlsgate::TimePoint::duration>(std::chrono::milliseconds(ms)));
}

std::string text(FuzzedDataProvider& in) {
    return in.ConsumeRandomLengthString(64);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    FuzzedDataProvider in(data, size);

    siem::FormatContext context;
    context.observerHost = text(in);
    context.productVersion = text(in);
    context.appName = text(in);
    context.procId = text(in);
    context.facility = static_cast<siem::SyslogFacility>(in.ConsumeIntegralInRange<int>(0, 23));
    context.enterpriseNumber = in.ConsumeIntegral<std::uint32_t>();
    context.leefDelimiter = in.ConsumeBool() ? '\t' : in.ConsumeIntegral<char>();
    // A letter or digit as LEEF delimiter breaks the record (keys and the devTimeFormat value
    // contain it): a known finding, kept in fuzz/regressions/siem_format/. Fuzzing maps those
    // to '^' so that it finds other things; the regression replay (TLSGATE_FUZZ_ALL_DELIMITERS=1)
    // keeps them.
    static const bool allDelimiters = std::getenv("TLSGATE_FUZZ_ALL_DELIMITERS") != nullptr;
    if (!allDelimiters && std::isalnum(static_cast<unsigned char>(context.leefDelimiter)) != 0) {
        context.leefDelimiter = '^';
    }

    tlsgate::TlsSessionEvent s;
    s.kind = static_cast<tlsgate::TlsSessionEventKind>(
        in.ConsumeIntegralInRange<int>(0, static_cast<int>(tlsgate::TlsSessionEventKind::Closed)));
    s.at = timeFrom(in);
    s.direction = in.ConsumeBool() ? tlsgate::Direction::Inbound : tlsgate::Direction::Outbound;
    s.sessionId = text(in);
    s.peerAddress = text(in);
    s.peerPort = in.ConsumeIntegral<std::uint16_t>();
    s.localAddress = text(in);
    s.localPort = in.ConsumeIntegral<std::uint16_t>();
    s.peerName = text(in);
    s.tlsVersion = text(in);
    s.cipher = text(in);
    s.group = text(in);
    s.peerCertSubject = text(in);
    s.peerCertIssuer = text(in);
    s.peerCertSha256 = text(in);
    s.peerCertSerial = text(in);
    if (in.ConsumeBool()) {
        s.peerCertVerified = in.ConsumeBool();
    }
    s.cipherBits = in.ConsumeIntegral<int>();
    s.serverName = text(in);
    s.rule = text(in);
    s.reason = text(in);
    s.success = in.ConsumeBool();
    s.tls = in.ConsumeBool();
    s.queueId = text(in);
    s.messageSize = in.ConsumeIntegral<std::uint64_t>();
    s.sender = text(in);
    s.recipientCount = in.ConsumeIntegral<int>();
    s.durationMs = in.ConsumeIntegralInRange<std::int64_t>(0, 315360000000);  // 10 years
    s.bytesIn = in.ConsumeIntegral<std::uint64_t>();
    s.bytesOut = in.ConsumeIntegral<std::uint64_t>();
    s.commands = in.ConsumeIntegral<int>();

    tlsgate::CertificateEvent c;
    c.kind = static_cast<tlsgate::CertificateEventKind>(in.ConsumeIntegralInRange<int>(
        0, static_cast<int>(tlsgate::CertificateEventKind::CaRemoved)));
    c.at = timeFrom(in);
    c.certId = text(in);
    c.subject = text(in);
    c.sha256Fingerprint = text(in);
    if (in.ConsumeBool()) {
        c.notAfter = timeFrom(in);
    }
    c.daysLeft = in.ConsumeIntegralInRange<std::int64_t>(-3000000, 3000000);
    if (in.ConsumeBool()) {
        c.thresholdDays = in.ConsumeIntegral<int>();
    }
    c.role = text(in);
    c.detail = in.ConsumeRemainingBytesAsString();

    formatAll(tlsgate::Event{s}, context, s.reason);
    formatAll(tlsgate::Event{c}, context, c.detail);
    return 0;
}
