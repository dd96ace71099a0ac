// A small ordered JSON document builder for the ECS and OCSF formatters: keys keep the order they
// were set in, dotted paths make nested objects, strings are sanitized to valid UTF-8. No I/O.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace tlsgate::siem {

/// A JSON value: null, bool, integer, string, array or object (with ordered keys).
class JsonValue {
  public:
    using Array = std::vector<JsonValue>;
    /// Members in the order they were set; each key is kept as its JSON string literal.
    using Object = std::vector<std::pair<std::string, JsonValue>>;

    JsonValue() = default;  ///< null
    JsonValue(bool value) : value_(value) {}
    JsonValue(int value) : value_(static_cast<std::int64_t>(value)) {}
    JsonValue(std::int64_t value) : value_(value) {}
    JsonValue(std::uint64_t value) : value_(value) {}
    JsonValue(std::string value) : value_(std::move(value)) {}
    JsonValue(std::string_view value) : value_(std::string(value)) {}
    JsonValue(const char* value) : value_(std::string(value)) {}

    static JsonValue object();
    static JsonValue array();

    /// Sets `path` ("a.b.c": keys separated by dots) in this object, making the intermediate
    /// objects; replaces an existing value. Returns *this for chaining.
    JsonValue& set(std::string_view path, JsonValue value);
    /// Sets `path` only when `value` is not empty.
    JsonValue& setIfNotEmpty(std::string_view path, std::string_view value);
    /// Appends to this array.
    JsonValue& push(JsonValue value);

    bool isObject() const { return std::holds_alternative<Object>(value_); }
    bool isArray() const { return std::holds_alternative<Array>(value_); }

    /// Compact JSON text, no newline.
    std::string dump() const;

  private:
    void dumpTo(std::string& out) const;
    JsonValue* member(std::string_view key);

    std::variant<std::monostate, bool, std::int64_t, std::uint64_t, std::string, Array, Object>
        value_;
};

}  // namespace tlsgate::siem
