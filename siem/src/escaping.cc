// The escaping and replacement rules of each SIEM format (docs/events.md, "Escaping"). Pure; never
// fails: invalid UTF-8 becomes U+FFFD first, then each rule works byte by byte.
#include "tlsgate/siem/escaping.h"

#include <array>
#include <cstdint>

namespace tlsgate::siem {
namespace {

constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";  // U+FFFD

bool isControl(char c) {
    const auto b = static_cast<unsigned char>(c);
    return b < 0x20 || b == 0x7F;
}

/// Length of the valid UTF-8 sequence starting at text[i], or 0 when it is invalid.
std::size_t validSequenceLength(std::string_view text, std::size_t i) {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
    const unsigned char lead = byte(i);
    if (lead < 0x80) {
        return 1;
    }
    std::size_t length = 0;
    std::uint32_t codePoint = 0;
    std::uint32_t minimum = 0;
    if ((lead & 0xE0) == 0xC0) {
        length = 2;
        codePoint = lead & 0x1Fu;
        minimum = 0x80;
    } else if ((lead & 0xF0) == 0xE0) {
        length = 3;
        codePoint = lead & 0x0Fu;
        minimum = 0x800;
    } else if ((lead & 0xF8) == 0xF0) {
        length = 4;
        codePoint = lead & 0x07u;
        minimum = 0x10000;
    } else {
        return 0;  // continuation byte or 0xF8..0xFF
    }
    if (i + length > text.size()) {
        return 0;
    }
    for (std::size_t k = 1; k < length; ++k) {
        if ((byte(i + k) & 0xC0) != 0x80) {
            return 0;
        }
        codePoint = (codePoint << 6) | (byte(i + k) & 0x3Fu);
    }
    if (codePoint < minimum || codePoint > 0x10FFFF ||
        (codePoint >= 0xD800 && codePoint <= 0xDFFF)) {
        return 0;
    }
    return length;
}

/// Appends `text` to `out` with invalid UTF-8 replaced by U+FFFD (one per bad byte) and every
/// byte for which `special(byte)` holds handed to `escape(out, byte)` instead. Runs of ordinary
/// bytes are appended at once: the common, all-plain value costs one scan and one copy.
template <typename Special, typename Escape>
void appendSanitized(std::string& out, std::string_view text, Special special, Escape escape) {
    std::size_t run = 0;  // start of the ordinary bytes not yet appended
    std::size_t i = 0;
    while (i < text.size()) {
        const auto b = static_cast<unsigned char>(text[i]);
        const std::size_t length = b < 0x80 ? 1 : validSequenceLength(text, i);
        if (length == 1 && !special(static_cast<char>(b))) {
            ++i;
            continue;
        }
        out.append(text.substr(run, i - run));
        if (length == 0) {
            out += kReplacementCharacter;
            ++i;
        } else {
            // A special byte, or a multi-byte sequence: each of its bytes goes through the rule.
            for (std::size_t k = i; k < i + length; ++k) {
                if (special(text[k])) {
                    escape(out, text[k]);
                } else {
                    out += text[k];
                }
            }
            i += length;
        }
        run = i;
    }
    out.append(text.substr(run));
}

/// The escape of CEF headers and SD-PARAM values: a control character becomes a space, any other
/// special character gets a backslash before it.
void backslashOrSpace(std::string& out, char c) {
    if (isControl(c)) {
        out += ' ';
    } else {
        out += '\\';
        out += c;
    }
}

template <typename Special, typename Escape>
std::string sanitized(std::string_view text, Special special, Escape escape) {
    std::string out;
    out.reserve(text.size());
    appendSanitized(out, text, special, escape);
    return out;
}

}  // namespace

std::string sanitizeUtf8(std::string_view text) {
    return sanitized(
        text, [](char) { return false; }, [](std::string&, char) {});
}

void appendJsonQuoted(std::string& out, std::string_view text) {
    static constexpr char kHex[] = "0123456789abcdef";
    // Fast path: printable ASCII without '"' or '\\' (keys, names, addresses) is copied as is.
    static constexpr auto kPlain = [] {
        std::array<bool, 256> plain{};
        for (int b = 0x20; b < 0x80; ++b) {
            plain[static_cast<std::size_t>(b)] = b != '"' && b != '\\';
        }
        return plain;
    }();
    std::size_t plain = 0;
    while (plain < text.size() && kPlain[static_cast<unsigned char>(text[plain])]) {
        ++plain;
    }
    if (plain == text.size()) {
        // One size change and one copy: this path writes every key and most values of an ECS
        // record, where appending quote, text and quote separately cost a third of the record.
        const std::size_t at = out.size();
        out.resize(at + text.size() + 2);
        char* p = out.data() + at;
        *p = '"';
        text.copy(p + 1, text.size());
        p[text.size() + 1] = '"';
        return;
    }
    out += '"';
    appendSanitized(
        out, text,
        [](char c) { return c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20; },
        [](std::string& o, char c) {
            switch (c) {
                case '"':
                    o += "\\\"";
                    break;
                case '\\':
                    o += "\\\\";
                    break;
                case '\n':
                    o += "\\n";
                    break;
                case '\r':
                    o += "\\r";
                    break;
                case '\t':
                    o += "\\t";
                    break;
                case '\b':
                    o += "\\b";
                    break;
                case '\f':
                    o += "\\f";
                    break;
                default: {
                    const auto b = static_cast<unsigned char>(c);
                    o += "\\u00";
                    o += kHex[b >> 4];
                    o += kHex[b & 0x0F];
                }
            }
        });
    out += '"';
}

std::string jsonQuote(std::string_view text) {
    std::string out;
    out.reserve(text.size() + 2);
    appendJsonQuoted(out, text);
    return out;
}

std::string escapeCefHeader(std::string_view text) {
    return sanitized(
        text, [](char c) { return c == '\\' || c == '|' || isControl(c); }, backslashOrSpace);
}

void appendCefValue(std::string& out, std::string_view text) {
    appendSanitized(
        out, text, [](char c) { return c == '\\' || c == '=' || (c != '\t' && isControl(c)); },
        [](std::string& o, char c) {
            if (c == '\n') {
                o += "\\n";
            } else if (c == '\r') {
                o += "\\r";
            } else if (isControl(c)) {
                o += ' ';
            } else {
                o += '\\';
                o += c;
            }
        });
}

std::string escapeCefValue(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    appendCefValue(out, text);
    return out;
}

void appendLeef(std::string& out, std::string_view text, char delimiter) {
    appendSanitized(
        out, text, [delimiter](char c) { return c == '|' || c == delimiter || isControl(c); },
        [](std::string& o, char) { o += ' '; });
}

std::string replaceLeef(std::string_view text, char delimiter) {
    std::string out;
    out.reserve(text.size());
    appendLeef(out, text, delimiter);
    return out;
}

void appendSdParamValue(std::string& out, std::string_view text) {
    appendSanitized(
        out, text, [](char c) { return c == '"' || c == '\\' || c == ']' || isControl(c); },
        backslashOrSpace);
}

std::string escapeSdParamValue(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    appendSdParamValue(out, text);
    return out;
}

std::string sdName(std::string_view text) {
    std::string out;
    for (const char c : text.substr(0, 32)) {
        const auto b = static_cast<unsigned char>(c);
        const bool allowed = b >= 33 && b <= 126 && c != '=' && c != ']' && c != '"';
        out += allowed ? c : '_';
    }
    return out;
}

std::string syslogHeaderField(std::string_view text, std::size_t maxLength) {
    if (text.empty()) {
        return "-";
    }
    std::string out;
    for (const char c : text.substr(0, maxLength)) {
        const auto b = static_cast<unsigned char>(c);
        out += (b >= 33 && b <= 126) ? c : '_';
    }
    return out;
}

}  // namespace tlsgate::siem
