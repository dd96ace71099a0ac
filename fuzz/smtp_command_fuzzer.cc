// libFuzzer target: the SMTP command path without I/O (smtp_protocol.h). The input is what a
// client writes; LineBuffer gets it in chunks, every line goes through parseCommand and the
// MAIL/RCPT argument parsers. Invariants: no line longer than the limit, nothing buffered beyond
// limit + 2 once the lines are taken, accepted addresses free of control characters, replies with
// one CRLF. Input layout: byte 0 picks the line limits, byte 1 the chunking, the rest is the
// stream.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "fuzz_support.h"
#include "tlsgate/gateway/smtp_protocol.h"

namespace smtp = tlsgate::gateway::smtp;
using tlsgate::fuzz::check;

namespace {

// Limits without the CRLF, as the session passes them (command_line_limit - 2, ...).
constexpr std::size_t kCommandLimits[] = {1, 8, 62, 510, 998};
constexpr std::size_t kTextLimits[] = {78, 998, 4094};
constexpr std::uint64_t kMaxSize = 10240000;

bool hasControl(std::string_view text) {
    for (const char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f) {
            return true;
        }
    }
    return false;
}

void checkReply(const smtp::Reply& reply) {
    check(reply.code >= 200 && reply.code <= 599, "reply code out of range");
    const std::string wire = reply.wire();
    check(wire.size() >= 6 && wire.ends_with("\r\n"), "reply wire without CRLF", wire);
    check(wire.find_first_of("\r\n") == wire.size() - 2, "CR or LF inside a reply", wire);
}

void parseLine(const std::string& line) {
    const smtp::Command command = smtp::parseCommand(line);
    check(command.verbText.size() <= 16, "verbText longer than 16", command.verbText);
    check(command.argument.empty() ||
              (command.argument.back() != ' ' && command.argument.back() != '\t'),
          "argument keeps trailing blanks", command.argument);
    (void)smtp::toString(command.verb);

    const auto mail = smtp::parseMailArgument(command.argument, kMaxSize);
    if (const auto* parameters = std::get_if<smtp::MailParameters>(&mail)) {
        check(parameters->reversePath.size() <= 256, "reverse path over 256 accepted");
        check(!hasControl(parameters->reversePath), "control character in an accepted sender",
              parameters->reversePath);
        check(!parameters->size || *parameters->size <= kMaxSize, "SIZE above the limit accepted");
        (void)smtp::domainOf(parameters->reversePath);
    } else {
        const auto& reply = std::get<smtp::Reply>(mail);
        check(reply.code == 501 || reply.code == 555 || reply.code == 552,
              "unexpected MAIL refusal code");
        checkReply(reply);
    }

    const auto rcpt = smtp::parseRcptArgument(command.argument);
    if (const auto* mailbox = std::get_if<std::string>(&rcpt)) {
        check(!mailbox->empty() && mailbox->size() <= 256, "recipient size out of range", *mailbox);
        check(!hasControl(*mailbox), "control character in an accepted recipient", *mailbox);
        (void)smtp::domainOf(*mailbox);
    } else {
        const auto& reply = std::get<smtp::Reply>(rcpt);
        check(reply.code == 501 || reply.code == 555, "unexpected RCPT refusal code");
        checkReply(reply);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) {
        return 0;
    }
    const std::size_t commandLimit = kCommandLimits[data[0] % 5];
    const std::size_t textLimit = kTextLimits[(data[0] / 5) % 3];
    const std::string_view stream(reinterpret_cast<const char*>(data) + 2, size - 2);

    smtp::LineBuffer buffer(commandLimit);
    std::size_t limit = commandLimit;
    std::size_t previousLimit = commandLimit;
    bool inData = false;
    for (const std::string_view chunk : tlsgate::fuzz::splitIntoChunks(stream, data[1])) {
        buffer.append(chunk);
        for (;;) {
            smtp::LineBuffer::Next next = buffer.next();
            if (next.status == smtp::LineBuffer::Status::NeedMore) {
                break;
            }
            if (next.status == smtp::LineBuffer::Status::TooLong) {
                continue;
            }
            check(next.line.size() <= limit, "line longer than the limit returned", next.line);
            check(next.line.find('\n') == std::string::npos, "LF inside a returned line");
            if (inData) {
                // The session switches to the DATA line limit after 354 and back after ".".
                if (next.line == "." && !next.bareLf) {
                    inData = false;
                    limit = commandLimit;
                    buffer.setMaxLineLength(limit);
                }
                continue;
            }
            parseLine(next.line);
            if (smtp::parseCommand(next.line).verb == smtp::Verb::Data) {
                inData = true;
                limit = textLimit;
                buffer.setMaxLineLength(limit);
            }
        }
        const std::size_t bound = std::max(limit, previousLimit) + 2;
        check(buffer.buffered() <= bound, "LineBuffer holds more than limit + 2 after draining",
              std::to_string(buffer.buffered()) + " > " + std::to_string(bound));
        previousLimit = limit;
    }
    return 0;
}
