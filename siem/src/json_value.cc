// JsonValue: the ordered JSON builder of the ECS and OCSF formatters. Pure; setting a path through
// a non-object value replaces that value with an object (formatters never do).
#include "tlsgate/siem/json_value.h"

#include "tlsgate/siem/escaping.h"

namespace tlsgate::siem {

JsonValue JsonValue::object() {
    JsonValue v;
    v.value_ = Object{};
    return v;
}

JsonValue JsonValue::array() {
    JsonValue v;
    v.value_ = Array{};
    return v;
}

JsonValue* JsonValue::member(std::string_view key) {
    if (!isObject()) {
        value_ = Object{};
    }
    auto& members = std::get<Object>(value_);
    std::string quoted;
    appendJsonQuoted(quoted, key);  // members keep their key as JSON text, ready to be written
    for (auto& [name, value] : members) {
        if (name == quoted) {
            return &value;
        }
    }
    if (members.capacity() == 0) {
        members.reserve(8);  // the formatters' objects mostly hold a handful of members
    }
    auto& added = members.emplace_back();  // (constructing the pair in place trips GCC 12's
    added.first = std::move(quoted);       // maybe-uninitialized on the variant)
    return &added.second;
}

JsonValue& JsonValue::set(std::string_view path, JsonValue value) {
    JsonValue* target = this;
    while (true) {
        const auto dot = path.find('.');
        if (dot == std::string_view::npos) {
            *target->member(path) = std::move(value);
            return *this;
        }
        target = target->member(path.substr(0, dot));
        if (!target->isObject()) {
            *target = object();
        }
        path.remove_prefix(dot + 1);
    }
}

JsonValue& JsonValue::setIfNotEmpty(std::string_view path, std::string_view value) {
    if (!value.empty()) {
        set(path, JsonValue(value));
    }
    return *this;
}

JsonValue& JsonValue::push(JsonValue value) {
    if (!isArray()) {
        value_ = Array{};
    }
    std::get<Array>(value_).push_back(std::move(value));
    return *this;
}

std::string JsonValue::dump() const {
    std::string out;
    out.reserve(1024);  // a whole ECS or OCSF record, mostly
    dumpTo(out);
    return out;
}

void JsonValue::dumpTo(std::string& out) const {
    struct Writer {
        std::string& out;
        void operator()(std::monostate) const { out += "null"; }
        void operator()(bool b) const { out += b ? "true" : "false"; }
        void operator()(std::int64_t n) const { out += std::to_string(n); }
        void operator()(std::uint64_t n) const { out += std::to_string(n); }
        void operator()(const std::string& s) const { appendJsonQuoted(out, s); }
        void operator()(const Array& a) const {
            out += '[';
            for (std::size_t i = 0; i < a.size(); ++i) {
                if (i != 0) {
                    out += ',';
                }
                a[i].dumpTo(out);
            }
            out += ']';
        }
        void operator()(const Object& o) const {
            out += '{';
            for (std::size_t i = 0; i < o.size(); ++i) {
                if (i != 0) {
                    out += ',';
                }
                out += o[i].first;
                out += ':';
                o[i].second.dumpTo(out);
            }
            out += '}';
        }
    };
    std::visit(Writer{out}, value_);
}

}  // namespace tlsgate::siem
