// A streaming JSON object writer for the hot formatters: members go straight into the output in
// the order written, no tree and no allocation beyond the text. Strings are sanitized to valid
// UTF-8 and escaped as JsonValue does. No I/O.
#pragma once

#include <charconv>
#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "tlsgate/siem/escaping.h"

namespace tlsgate::siem {

/// A member name, checked when the program is compiled: a string literal of 1 to 40 printable
/// ASCII characters other than '"' and '\\', so it is written as it is, without escaping.
class JsonKey {
  public:
    static constexpr std::size_t kMaxSize = 40;
    template <std::size_t N>
    consteval JsonKey(const char (&text)[N])  // NOLINT: implicit, from literals only
        : text_(text, N - 1) {
        if (N < 2 || N - 1 > kMaxSize) {
            throw "JsonKey: 1 to 40 characters";  // a compile error (consteval)
        }
        for (const char c : text_) {
            if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') {
                throw "JsonKey: printable ASCII without '\"' or '\\'";
            }
        }
    }
    constexpr std::string_view text() const { return text_; }

  private:
    std::string_view text_;
};

/// Writes one JSON object. A nested object opened with open() is written only once a member is
/// written into it, so members that turn out empty leave no "{}" behind.
class JsonWriter {
  public:
    JsonWriter();

    /// Opens the nested object `key` (written lazily).
    JsonWriter& open(JsonKey key);
    /// Closes the innermost object opened with open().
    JsonWriter& close();

    JsonWriter& string(JsonKey key, std::string_view value);
    /// string() only when `value` is not empty.
    JsonWriter& stringIfNotEmpty(JsonKey key, std::string_view value);
    JsonWriter& boolean(JsonKey key, bool value);
    template <std::integral T>
    requires(!std::same_as<T, bool>) JsonWriter& number(JsonKey key, T value) {
        member(key);
        char digits[24];
        const auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
        out_.append(digits, end);
        return *this;
    }
    /// An array of strings.
    JsonWriter& strings(JsonKey key, std::initializer_list<std::string_view> values);

    /// Closes every open object; the compact JSON text, no newline.
    std::string finish();

  private:
    /// Writes what is pending of the enclosing objects, then the comma and `"key":`.
    void member(JsonKey key);
    /// Appends `"key":` after a comma unless `first`, with one append.
    void name(JsonKey key, bool first);

    struct Level {
        JsonKey key;
        bool written = false;  ///< "{" is in the output
        bool first = true;     ///< no member yet
    };
    std::string out_;
    std::vector<Level> levels_;  ///< [0]: the document itself
};

}  // namespace tlsgate::siem
