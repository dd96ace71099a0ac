// JsonWriter: the streaming JSON object writer of the ECS formatter. Pure.
#include "tlsgate/siem/json_writer.h"

namespace tlsgate::siem {

JsonWriter::JsonWriter() {
    out_.reserve(1024);  // an ECS record, mostly
    out_ += '{';
    levels_.reserve(8);
    levels_.push_back(Level{"document", true, true});
}

JsonWriter& JsonWriter::open(JsonKey key) {
    levels_.push_back(Level{key, false, true});
    return *this;
}

JsonWriter& JsonWriter::close() {
    if (levels_.size() > 1) {
        if (levels_.back().written) {
            out_ += '}';
        }
        levels_.pop_back();
    }
    return *this;
}

void JsonWriter::member(JsonKey key) {
    // The innermost written level, then every pending one inside it, outermost first.
    std::size_t i = levels_.size() - 1;
    while (!levels_[i].written) {
        --i;
    }
    for (++i; i < levels_.size(); ++i) {
        Level& outer = levels_[i - 1];
        name(levels_[i].key, outer.first);
        outer.first = false;
        out_ += '{';
        levels_[i].written = true;
    }
    Level& level = levels_.back();
    name(key, level.first);
    level.first = false;
}

void JsonWriter::name(JsonKey key, bool first) {
    char piece[JsonKey::kMaxSize + 4];
    std::size_t n = 0;
    if (!first) {
        piece[n++] = ',';
    }
    piece[n++] = '"';
    n += key.text().copy(piece + n, JsonKey::kMaxSize);
    piece[n++] = '"';
    piece[n++] = ':';
    out_.append(piece, n);
}

JsonWriter& JsonWriter::string(JsonKey key, std::string_view value) {
    member(key);
    appendJsonQuoted(out_, value);
    return *this;
}

JsonWriter& JsonWriter::stringIfNotEmpty(JsonKey key, std::string_view value) {
    if (!value.empty()) {
        string(key, value);
    }
    return *this;
}

JsonWriter& JsonWriter::boolean(JsonKey key, bool value) {
    member(key);
    out_ += value ? "true" : "false";
    return *this;
}

JsonWriter& JsonWriter::strings(JsonKey key, std::initializer_list<std::string_view> values) {
    member(key);
    out_ += '[';
    bool first = true;
    for (const auto value : values) {
        if (!first) {
            out_ += ',';
        }
        first = false;
        appendJsonQuoted(out_, value);
    }
    out_ += ']';
    return *this;
}

std::string JsonWriter::finish() {
    while (levels_.size() > 1) {
        close();
    }
    out_ += '}';
    return std::move(out_);
}

}  // namespace tlsgate::siem
