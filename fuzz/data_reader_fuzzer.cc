// libFuzzer target: the DATA section (LineBuffer + DataReader of smtp_protocol.h): dot-unstuffing,
// the end-of-data sequence, bare LF and CR, overlong lines and the size limit. The input is what a
// client writes after 354, fed in chunks; the result is compared with a plain reference reading
// of RFC 5321 4.5.2 and with the same stream fed in one piece. Input layout: byte 0 picks the line
// and size limits, byte 1 the chunking, the rest is the stream.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz_support.h"
#include "tlsgate/gateway/smtp_protocol.h"

namespace smtp = tlsgate::gateway::smtp;
using tlsgate::fuzz::check;

namespace {

constexpr std::size_t kLineLimits[] = {1, 8, 78, 998, 4094};  // text_line_limit - 2
constexpr std::uint64_t kSizeLimits[] = {0, 2, 64, 1000, 10240000};

struct Outcome {
    bool ended = false;
    std::string content;
    std::uint64_t size = 0;
    bool tooBig = false;
    bool sawBareLf = false;
    bool sawTooLongLine = false;
};

Outcome readData(std::string_view stream, std::uint8_t chunking, std::size_t lineLimit,
                 std::uint64_t maxSize) {
    smtp::LineBuffer buffer(lineLimit);
    smtp::DataReader reader(maxSize);
    Outcome out;
    for (const std::string_view chunk : tlsgate::fuzz::splitIntoChunks(stream, chunking)) {
        buffer.append(chunk);
        for (;;) {
            const smtp::LineBuffer::Next next = buffer.next();
            if (reader.feed(next, out.content) == smtp::DataReader::Result::End) {
                out.ended = true;
                break;
            }
            if (next.status == smtp::LineBuffer::Status::NeedMore) {
                break;
            }
        }
        check(buffer.buffered() <= lineLimit + 2 || out.ended,
              "LineBuffer holds more than limit + 2 after draining");
        if (out.ended) {
            break;
        }
    }
    out.size = reader.size();
    out.tooBig = reader.tooBig();
    out.sawBareLf = reader.sawBareLf();
    out.sawTooLongLine = reader.sawTooLongLine();
    return out;
}

/// The reference: lines end at LF (CRLF when a CR precedes it); only "." after a CRLF-ended line
/// and itself ended by CRLF ends the data; one leading dot is removed; each line is stored with
/// CRLF until it would pass the limit. Returns nullopt when a line is over the limit (the reader
/// then refuses the message, so only the framing must agree).
std::optional<Outcome> reference(std::string_view stream, std::size_t lineLimit,
                                 std::uint64_t maxSize) {
    Outcome out;
    bool previousCrlf = true;
    while (true) {
        const std::size_t lf = stream.find('\n');
        if (lf == std::string_view::npos) {
            if (stream.size() > lineLimit + 1 ||
                (stream.size() == lineLimit + 1 && stream.back() != '\r')) {
                return std::nullopt;  // an unterminated line already over the limit
            }
            break;
        }
        const bool crlf = lf > 0 && stream[lf - 1] == '\r';
        std::string_view line = stream.substr(0, crlf ? lf - 1 : lf);
        stream.remove_prefix(lf + 1);
        if (line.size() > lineLimit) {
            return std::nullopt;
        }
        out.sawBareLf = out.sawBareLf || !crlf;
        if (line == "." && crlf && previousCrlf) {
            out.ended = true;
            break;
        }
        previousCrlf = crlf;
        if (!line.empty() && line.front() == '.') {
            line.remove_prefix(1);
        }
        if (!out.tooBig) {
            if (line.size() + 2 > maxSize - out.size) {
                out.tooBig = true;
            } else {
                out.content.append(line);
                out.content.append("\r\n");
                out.size += line.size() + 2;
            }
        }
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) {
        return 0;
    }
    const std::size_t lineLimit = kLineLimits[data[0] % 5];
    const std::uint64_t maxSize = kSizeLimits[(data[0] / 5) % 5];
    const std::string_view stream(reinterpret_cast<const char*>(data) + 2, size - 2);

    const Outcome chunked = readData(stream, data[1], lineLimit, maxSize);
    check(chunked.size <= maxSize, "size above the limit");
    check(chunked.size == chunked.content.size(), "size() differs from the bytes stored");
    for (std::size_t i = 0; i < chunked.content.size(); ++i) {
        if (chunked.content[i] == '\n') {
            check(i > 0 && chunked.content[i - 1] == '\r', "bare LF in the stored content",
                  chunked.content);
        }
    }
    check(chunked.content.empty() || chunked.content.ends_with("\r\n"),
          "stored content does not end with CRLF", chunked.content);

    // The same stream in one piece: the framing must not depend on how the reads were cut.
    const Outcome whole = readData(stream, 0, lineLimit, maxSize);
    check(chunked.ended == whole.ended, "end of data depends on the chunking");
    check(chunked.sawBareLf == whole.sawBareLf, "bare LF seen depends on the chunking");
    check(chunked.sawTooLongLine == whole.sawTooLongLine, "too long depends on the chunking");
    if (!whole.sawTooLongLine) {
        check(chunked.content == whole.content, "content depends on the chunking");
        check(chunked.tooBig == whole.tooBig, "too big depends on the chunking");
    }

    if (const std::optional<Outcome> expected = reference(stream, lineLimit, maxSize)) {
        check(!chunked.sawTooLongLine, "a line within the limit reported too long");
        check(chunked.ended == expected->ended, "end of data differs from RFC 5321 4.5.2", stream);
        check(chunked.content == expected->content, "stored content differs from the reference",
              chunked.content);
        check(chunked.tooBig == expected->tooBig, "too big differs from the reference");
        check(chunked.sawBareLf == expected->sawBareLf, "bare LF differs from the reference");
    }
    return 0;
}
