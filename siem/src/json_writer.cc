// JsonWriter: the streaming JSON object writer of the ECS formatter. Pure.
#include "tlsgate/siem/json_writer.h"

namespace tlsgate::siem {

JsonWriter::JsonWriter() {
    out_.reserve(1024);  // an ECS record, mostly
    out_ += '{';
    levels_.reserve(8);
    levels_.push_back(Level{{}, true, true});
}

JsonWriter& JsonWriter::open(std::string_view key) {
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

void JsonWriter::member(std::string_view key) {
    // The innermost written level, then every pending one inside it, outermost first.
    std::size_t i = levels_.size() - 1;
    while (!levels_[i].written) {
        --i;
    }
    for (++i; i < levels_.size(); ++i) {
        Level& outer = levels_[i - 1];
        if (!outer.first) {
            out_ += ',';
        }
        outer.first = false;
        appendJsonQuoted(out_, levels_[i].key);
        out_ += ":{";
        levels_[i].written = true;
    }
    Level& level = levels_.back();
    if (!level.first) {
        out_ += ',';
    }
    level.first = false;
    appendJsonQuoted(out_, key);
    out_ += ':';
}

JsonWriter& JsonWriter::string(std::string_view key, std::string_view value) {
    member(key);
    appendJsonQuoted(out_, value);
    return *this;
}

JsonWriter& JsonWriter::stringIfNotEmpty(std::string_view key, std::string_view value) {
    if (!value.empty()) {
        string(key, value);
    }
    return *this;
}

JsonWriter& JsonWriter::boolean(std::string_view key, bool value) {
    member(key);
    out_ += value ? "true" : "false";
    return *this;
}

JsonWriter& JsonWriter::strings(std::string_view key,
                                std::initializer_list<std::string_view> values) {
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
