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

/// Writes one JSON object. A nested object opened with open() is written only once a member is
/// written into it, so members that turn out empty leave no "{}" behind.
class JsonWriter {
  public:
    JsonWriter();

    /// Opens the nested object `key` (written lazily). `key` must stay valid until close().
    JsonWriter& open(std::string_view key);
    /// Closes the innermost object opened with open().
    JsonWriter& close();

    JsonWriter& string(std::string_view key, std::string_view value);
    /// string() only when `value` is not empty.
    JsonWriter& stringIfNotEmpty(std::string_view key, std::string_view value);
    JsonWriter& boolean(std::string_view key, bool value);
    template <std::integral T>
    requires(!std::same_as<T, bool>) JsonWriter& number(std::string_view key, T value) {
        member(key);
        char digits[24];
        const auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
        out_.append(digits, end);
        return *this;
    }
    /// An array of strings.
    JsonWriter& strings(std::string_view key, std::initializer_list<std::string_view> values);

    /// Closes every open object; the compact JSON text, no newline.
    std::string finish();

  private:
    /// Writes what is pending of the enclosing objects, then the comma and `"key":`.
    void member(std::string_view key);

    struct Level {
        std::string_view key;
        bool written = false;  ///< "{" is in the output
        bool first = true;     ///< no member yet
    };
    std::string out_;
    std::vector<Level> levels_;  ///< [0]: the document itself
};

}  // namespace tlsgate::siem
