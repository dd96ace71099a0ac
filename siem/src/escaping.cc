// The escaping and replacement rules of each SIEM format (docs/events.md, "Escaping"). Pure; never
// fails: invalid UTF-8 becomes U+FFFD first, then each rule works byte by byte.
#include "tlsgate/siem/escaping.h"

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

}  // namespace

std::string sanitizeUtf8(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size();) {
        const std::size_t length = validSequenceLength(text, i);
        if (length == 0) {
            out += kReplacementCharacter;
            ++i;
        } else {
            out.append(text.substr(i, length));
            i += length;
        }
    }
    return out;
}

std::string jsonQuote(std::string_view text) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out = "\"";
    for (const char c : sanitizeUtf8(text)) {
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            case '\b':
                out += "\\b";
                break;
            case '\f':
                out += "\\f";
                break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    const auto b = static_cast<unsigned char>(c);
                    out += "\\u00";
                    out += kHex[b >> 4];
                    out += kHex[b & 0x0F];
                } else {
                    out += c;
                }
        }
    }
    out += '"';
    return out;
}

std::string escapeCefHeader(std::string_view text) {
    std::string out;
    for (const char c : sanitizeUtf8(text)) {
        if (c == '\\' || c == '|') {
            out += '\\';
            out += c;
        } else if (isControl(c)) {
            out += ' ';
        } else {
            out += c;
        }
    }
    return out;
}

std::string escapeCefValue(std::string_view text) {
    std::string out;
    for (const char c : sanitizeUtf8(text)) {
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

std::string replaceLeef(std::string_view text, char delimiter) {
    std::string out;
    for (const char c : sanitizeUtf8(text)) {
        out += (c == '|' || c == delimiter || isControl(c)) ? ' ' : c;
    }
    return out;
}

std::string escapeSdParamValue(std::string_view text) {
    std::string out;
    for (const char c : sanitizeUtf8(text)) {
        if (c == '"' || c == '\\' || c == ']') {
            out += '\\';
            out += c;
        } else if (isControl(c)) {
            out += ' ';
        } else {
            out += c;
        }
    }
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
