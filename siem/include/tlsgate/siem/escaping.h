// The escaping and replacement rules of each SIEM format, one function per rule (docs/events.md,
// "Escaping"). Pure functions over UTF-8 text; they never fail: invalid UTF-8 becomes U+FFFD.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace tlsgate::siem {

/// The text with every invalid UTF-8 sequence (stray continuation byte, truncated or overlong
/// sequence, surrogate, code point above U+10FFFF) replaced by U+FFFD, one per bad byte.
std::string sanitizeUtf8(std::string_view text);

/// A JSON string literal, quotes included: `"` and `\` escaped, control characters as \n, \t ...
/// or \u00XX; non-ASCII UTF-8 passes unchanged.
std::string jsonQuote(std::string_view text);
/// Appends jsonQuote(text) to `out` (the formatters' form: no temporary string).
void appendJsonQuoted(std::string& out, std::string_view text);

/// A CEF header field: `\` -> `\\`, `|` -> `\|`; CR, LF and other control characters -> space.
std::string escapeCefHeader(std::string_view text);
/// A CEF extension value: `\` -> `\\`, `=` -> `\=`, LF -> `\n`, CR -> `\r` (backslash + letter);
/// tab passes; other control characters -> space.
std::string escapeCefValue(std::string_view text);
/// Appends escapeCefValue(text) to `out`.
void appendCefValue(std::string& out, std::string_view text);

/// A LEEF header field or attribute value. LEEF has no escape character, so tab, CR, LF, `|`,
/// the delimiter and every other control character are each replaced by one space.
std::string replaceLeef(std::string_view text, char delimiter);
/// Appends replaceLeef(text, delimiter) to `out`.
void appendLeef(std::string& out, std::string_view text, char delimiter);

/// An RFC 5424 SD-PARAM value (without the quotes): `"` -> `\"`, `\` -> `\\`, `]` -> `\]`;
/// control characters (tab, CR, LF included) -> space, so a record never spans lines.
std::string escapeSdParamValue(std::string_view text);
/// Appends escapeSdParamValue(text) to `out`.
void appendSdParamValue(std::string& out, std::string_view text);
/// An RFC 5424 SD-NAME (SD-ID or PARAM-NAME): printable ASCII except '=', ' ', ']' and '"'; any
/// other byte becomes '_'; cut to 32 characters.
std::string sdName(std::string_view text);
/// An RFC 5424 header field: printable ASCII (33-126), any other byte becomes '_'; cut to
/// `maxLength`; empty gives the NILVALUE "-".
std::string syslogHeaderField(std::string_view text, std::size_t maxLength);

}  // namespace tlsgate::siem
