// Unit tests of the SMTP wire format: replies, command parsing, MAIL/RCPT arguments, line framing
// (pipelining, overlong lines) and the DATA reader (dot-unstuffing, end detection, smuggling).
// Pure and fast: no sockets; failures are reported by GoogleTest assertions.
#include "tlsgate/gateway/smtp_protocol.h"

#include <gtest/gtest.h>

#include <chrono>
#include <limits>
#include <string>
#include <vector>

namespace tlsgate::gateway::smtp {
namespace {

using Status = LineBuffer::Status;

// ------------------------------------------------------------------------------------------
// Helpers

/// One LineBuffer result in a comparable, printable form.
struct Framed {
    Status status;
    std::string line;
    bool bareLf;
    bool operator==(const Framed&) const = default;
};

void PrintTo(const Framed& f, std::ostream* os) {
    *os << (f.status == Status::Line      ? "Line"
            : f.status == Status::TooLong ? "TooLong"
                                          : "NeedMore")
        << "(\"" << f.line << "\"" << (f.bareLf ? ", bareLf" : "") << ")";
}

/// Drains every complete line currently available.
void drain(LineBuffer& buffer, std::vector<Framed>& out) {
    for (auto next = buffer.next(); next.status != Status::NeedMore; next = buffer.next()) {
        out.push_back({next.status, next.line, next.bareLf});
    }
}

/// Feeds `input` in pieces of `chunk` bytes, draining after each piece.
std::vector<Framed> frame(std::string_view input, std::size_t maxLine, std::size_t chunk) {
    LineBuffer buffer(maxLine);
    std::vector<Framed> out;
    for (std::size_t i = 0; i < input.size(); i += chunk) {
        buffer.append(input.substr(i, chunk));
        drain(buffer, out);
    }
    return out;
}

std::vector<Framed> frameAtOnce(std::string_view input, std::size_t maxLine) {
    return frame(input, maxLine, std::max<std::size_t>(input.size(), 1));
}

/// What a DATA section produced, and the lines that followed it.
struct DataOutcome {
    bool ended = false;
    std::string content;
    std::uint64_t size = 0;
    bool tooBig = false;
    bool sawBareLf = false;
    bool sawTooLongLine = false;
    std::vector<std::string> after;  ///< lines after the end of data (pipelined commands)
};

DataOutcome readData(std::string_view input, std::uint64_t maxSize, std::size_t lineLimit = 1000,
                     std::size_t chunk = std::numeric_limits<std::size_t>::max()) {
    LineBuffer buffer(lineLimit);
    DataReader reader(maxSize);
    DataOutcome outcome;
    for (std::size_t i = 0; i < input.size(); i += chunk) {
        buffer.append(input.substr(i, chunk));
        for (auto next = buffer.next(); next.status != Status::NeedMore; next = buffer.next()) {
            if (outcome.ended) {
                outcome.after.push_back(next.line);
            } else if (reader.feed(next, outcome.content) == DataReader::Result::End) {
                outcome.ended = true;
            }
        }
    }
    outcome.size = reader.size();
    outcome.tooBig = reader.tooBig();
    outcome.sawBareLf = reader.sawBareLf();
    outcome.sawTooLongLine = reader.sawTooLongLine();
    return outcome;
}

template <class T>
T expectValue(const std::variant<T, Reply>& result) {
    if (const Reply* reply = std::get_if<Reply>(&result)) {
        ADD_FAILURE() << "refused: " << reply->wire();
        return T{};
    }
    return std::get<T>(result);
}

template <class T>
Reply expectReply(const std::variant<T, Reply>& result) {
    if (!std::holds_alternative<Reply>(result)) {
        ADD_FAILURE() << "accepted, expected a refusal";
        return Reply{0, "", ""};
    }
    return std::get<Reply>(result);
}

const Reply kMailSyntax{501, "5.5.4", "Syntax: MAIL FROM:<address>"};
const Reply kRcptSyntax{501, "5.5.4", "Syntax: RCPT TO:<address>"};
const Reply kBadSender{501, "5.1.7", "Bad sender address syntax"};
const Reply kBadRecipient{501, "5.1.3", "Bad recipient address syntax"};
const Reply kTooBig{552, "5.3.4", "Message size exceeds fixed maximum message size"};

// ------------------------------------------------------------------------------------------
// Replies

TEST(SmtpReply, WireWithEnhancedCode) {
    EXPECT_EQ((Reply{250, "2.1.0", "Ok"}.wire()), "250 2.1.0 Ok\r\n");
}

TEST(SmtpReply, WireWithoutEnhancedCode) {
    EXPECT_EQ((Reply{220, "", "mx.example ESMTP"}.wire()), "220 mx.example ESMTP\r\n");
}

TEST(SmtpReply, MultilineUsesDashOnAllButTheLastLine) {
    EXPECT_EQ(multilineWire(250, {"mx.example", "PIPELINING", "SIZE 10240000"}),
              "250-mx.example\r\n250-PIPELINING\r\n250 SIZE 10240000\r\n");
    EXPECT_EQ(multilineWire(250, {"mx.example"}), "250 mx.example\r\n");
}

// ------------------------------------------------------------------------------------------
// Commands

TEST(SmtpCommand, RecognisesEveryVerbCaseInsensitively) {
    const std::vector<std::pair<std::string, Verb>> cases = {
        {"helo a.example", Verb::Helo}, {"EhLo a.example", Verb::Ehlo},
        {"mail FROM:<>", Verb::Mail},   {"Rcpt TO:<a@b.example>", Verb::Rcpt},
        {"data", Verb::Data},           {"RSET", Verb::Rset},
        {"noop", Verb::Noop},           {"QuIt", Verb::Quit},
        {"VRFY x", Verb::Vrfy},         {"help", Verb::Help},
        {"starttls", Verb::StartTls},
    };
    for (const auto& [line, verb] : cases) {
        EXPECT_EQ(parseCommand(line).verb, verb) << line;
    }
}

TEST(SmtpCommand, UnknownVerbs) {
    EXPECT_EQ(parseCommand("XYZZY now").verb, Verb::Unknown);
    EXPECT_EQ(parseCommand("MAILFROM:<a@b.example>").verb, Verb::Unknown);
    EXPECT_EQ(parseCommand("STARTTLSX").verb, Verb::Unknown);
    EXPECT_EQ(parseCommand("").verb, Verb::Unknown);
    EXPECT_EQ(parseCommand(" NOOP").verb, Verb::Unknown);
}

TEST(SmtpCommand, VerbTextKeepsSpellingAndIsTruncated) {
    EXPECT_EQ(parseCommand("eHlo x").verbText, "eHlo");
    const Command c = parseCommand(std::string(40, 'A') + " arg");
    EXPECT_EQ(c.verb, Verb::Unknown);
    EXPECT_EQ(c.verbText, std::string(16, 'A'));
}

TEST(SmtpCommand, ArgumentIsTrimmed) {
    EXPECT_EQ(parseCommand("MAIL FROM:<a@b.example> SIZE=1").argument, "FROM:<a@b.example> SIZE=1");
    EXPECT_EQ(parseCommand("MAIL   FROM:<a@b.example> \t ").argument, "FROM:<a@b.example>");
    EXPECT_EQ(parseCommand("QUIT").argument, "");
    EXPECT_EQ(parseCommand("NOOP \t").argument, "");
}

TEST(SmtpCommand, VerbNames) {
    EXPECT_EQ(toString(Verb::StartTls), "STARTTLS");
    EXPECT_EQ(toString(Verb::Ehlo), "EHLO");
    EXPECT_EQ(toString(Verb::Unknown), "UNKNOWN");
}

// ------------------------------------------------------------------------------------------
// MAIL FROM

TEST(SmtpMail, PlainSender) {
    const auto mail = expectValue(parseMailArgument("FROM:<a@b.example>", 1000));
    EXPECT_EQ(mail.reversePath, "a@b.example");
    EXPECT_FALSE(mail.size.has_value());
    EXPECT_FALSE(mail.eightBitMime);
}

TEST(SmtpMail, NullSender) {
    EXPECT_EQ(expectValue(parseMailArgument("FROM:<>", 1000)).reversePath, "");
    EXPECT_EQ(expectValue(parseMailArgument("FROM:<> SIZE=10", 1000)).size, 10u);
}

TEST(SmtpMail, LenientKeywordAndBlanks) {
    EXPECT_EQ(expectValue(parseMailArgument("from:<a@b.example>", 1000)).reversePath,
              "a@b.example");
    EXPECT_EQ(expectValue(parseMailArgument("FROM: <a@b.example>", 1000)).reversePath,
              "a@b.example");
    EXPECT_EQ(expectValue(parseMailArgument("FROM:  <a@b.example>   SIZE=5", 1000)).size, 5u);
}

TEST(SmtpMail, SizeAndBody) {
    const auto mail =
        expectValue(parseMailArgument("FROM:<a@b.example> SIZE=1000 body=8bitmime", 1000));
    EXPECT_EQ(mail.size, 1000u);
    EXPECT_TRUE(mail.eightBitMime);
    EXPECT_FALSE(expectValue(parseMailArgument("FROM:<a@b.example> BODY=7BIT", 1000)).eightBitMime);
}

TEST(SmtpMail, SizeOverLimit) {
    EXPECT_EQ(expectReply(parseMailArgument("FROM:<a@b.example> SIZE=1001", 1000)), kTooBig);
    EXPECT_EQ(expectReply(parseMailArgument("FROM:<> SIZE=999999999999999999999999", 1000)),
              kTooBig);
    // 2^64 + 5 must not wrap around to 5.
    EXPECT_EQ(expectReply(parseMailArgument("FROM:<> SIZE=18446744073709551621", 1000)), kTooBig);
}

TEST(SmtpMail, SizeNotNumeric) {
    for (const char* argument : {"FROM:<a@b.example> SIZE=12a", "FROM:<a@b.example> SIZE=",
                                 "FROM:<a@b.example> SIZE", "FROM:<a@b.example> SIZE=-1"}) {
        const Reply reply = expectReply(parseMailArgument(argument, 1000));
        EXPECT_EQ(reply.code, 501) << argument;
        EXPECT_EQ(reply.enhanced, "5.5.4") << argument;
    }
}

TEST(SmtpMail, UnknownParameter) {
    EXPECT_EQ(expectReply(parseMailArgument("FROM:<a@b.example> AUTH=<>", 1000)),
              (Reply{555, "5.5.4", "Unsupported option: AUTH=<>"}));
    EXPECT_EQ(expectReply(parseMailArgument("FROM:<a@b.example> BODY=BINARYMIME", 1000)),
              (Reply{555, "5.5.4", "Unsupported option: BODY=BINARYMIME"}));
    EXPECT_EQ(expectReply(parseMailArgument("FROM:<a@b.example> SMTPUTF8", 1000)).code, 555);
}

TEST(SmtpMail, SyntaxErrors) {
    for (const char* argument :
         {"FROM:a@b.example", "FROM:", "", "TO:<a@b.example>", "FROM <a@b.example>",
          "FROM:<a@b.example", "FROM:<a@b.example>SIZE=10", "FROM:<\"a@b.example>"}) {
        EXPECT_EQ(expectReply(parseMailArgument(argument, 1000)), kMailSyntax) << argument;
    }
}

TEST(SmtpMail, BadAddresses) {
    for (const char* argument :
         {"FROM:<a b@example.com>", "FROM:< a@example.com>", "FROM:<a@example.com >",
          "FROM:<a\x01@example.com>", "FROM:<a@b@example.com>", "FROM:<user>",
          "FROM:<a@exa mple.com>", "FROM:<@a.example:>", "FROM:<@:a@b.example>"}) {
        EXPECT_EQ(expectReply(parseMailArgument(argument, 1000)), kBadSender) << argument;
    }
}

TEST(SmtpMail, QuotedLocalPart) {
    EXPECT_EQ(expectValue(parseMailArgument("FROM:<\"a b\"@example.com>", 1000)).reversePath,
              "\"a b\"@example.com");
    EXPECT_EQ(expectValue(parseMailArgument("FROM:<\"a>b\"@example.com> SIZE=1", 1000)).size, 1u);
}

TEST(SmtpMail, SourceRouteIsStripped) {
    EXPECT_EQ(expectValue(parseMailArgument("FROM:<@a.example,@b.example:user@c.example>", 1000))
                  .reversePath,
              "user@c.example");
}

TEST(SmtpMail, PathLengthLimit) {
    const std::string domain = "@example.com";
    const std::string longest = std::string(256 - domain.size(), 'a') + domain;
    EXPECT_EQ(expectValue(parseMailArgument("FROM:<" + longest + ">", 100)).reversePath, longest);
    EXPECT_EQ(expectReply(parseMailArgument("FROM:<a" + longest + ">", 100)), kBadSender);
    const std::string address300 = std::string(300 - domain.size(), 'x') + domain;
    EXPECT_EQ(expectReply(parseMailArgument("FROM:<" + address300 + ">", 100)), kBadSender);
}

// ------------------------------------------------------------------------------------------
// RCPT TO

TEST(SmtpRcpt, PlainRecipientKeepsSpelling) {
    EXPECT_EQ(expectValue(parseRcptArgument("TO:<a@b.example>")), "a@b.example");
    EXPECT_EQ(expectValue(parseRcptArgument("to: <A@B.Example>")), "A@B.Example");
}

TEST(SmtpRcpt, Postmaster) {
    EXPECT_EQ(expectValue(parseRcptArgument("TO:<postmaster>")), "postmaster");
    EXPECT_EQ(expectValue(parseRcptArgument("TO:<PostMaster>")), "PostMaster");
    EXPECT_EQ(expectReply(parseRcptArgument("TO:<webmaster>")), kBadRecipient);
}

TEST(SmtpRcpt, AddressLiterals) {
    EXPECT_EQ(expectValue(parseRcptArgument("TO:<u@[192.0.2.1]>")), "u@[192.0.2.1]");
    EXPECT_EQ(expectValue(parseRcptArgument("TO:<u@[IPv6:2001:db8::1]>")), "u@[IPv6:2001:db8::1]");
    for (const char* argument : {"TO:<u@[192.0.2.256]>", "TO:<u@[2001:db8::1]>",
                                 "TO:<u@[IPv6:192.0.2.1]>", "TO:<u@[tag:xyz]>", "TO:<u@[]>"}) {
        EXPECT_EQ(expectReply(parseRcptArgument(argument)), kBadRecipient) << argument;
    }
}

TEST(SmtpRcpt, BadMailboxes) {
    for (const char* argument :
         {"TO:<>", "TO:<user>", "TO:<user@>", "TO:<@b.example>", "TO:<a@b@c.example>",
          "TO:<a@exa_mple.com>", "TO:<a@example..com>", "TO:<a@example.com.>",
          "TO:<a b@example.com>", "TO:<a@example.com\t>", "TO:<a\x7f@example.com>",
          "TO:<\"\"@example.com>", "TO:<\"a\"b@example.com>"}) {
        EXPECT_EQ(expectReply(parseRcptArgument(argument)), kBadRecipient) << argument;
    }
}

TEST(SmtpRcpt, QuotedAtSignAndSourceRoute) {
    EXPECT_EQ(expectValue(parseRcptArgument("TO:<\"a@b\"@example.com>")), "\"a@b\"@example.com");
    EXPECT_EQ(expectValue(parseRcptArgument("TO:<@relay.example:u@example.com>")), "u@example.com");
}

TEST(SmtpRcpt, ParametersAreRefused) {
    EXPECT_EQ(expectReply(parseRcptArgument("TO:<a@b.example> NOTIFY=NEVER")),
              (Reply{555, "5.5.4", "Unsupported option: NOTIFY=NEVER"}));
    EXPECT_EQ(expectValue(parseRcptArgument("TO:<a@b.example>   ")), "a@b.example");
}

TEST(SmtpRcpt, SyntaxErrors) {
    for (const char* argument :
         {"TO:a@b.example", "FROM:<a@b.example>", "TO:<a@b.example", "TO:<a@b.example>x", ""}) {
        EXPECT_EQ(expectReply(parseRcptArgument(argument)), kRcptSyntax) << argument;
    }
}

TEST(SmtpRcpt, TooLong) {
    const std::string address = std::string(288, 'r') + "@example.com";
    EXPECT_EQ(expectReply(parseRcptArgument("TO:<" + address + ">")), kBadRecipient);
}

TEST(SmtpDomainOf, LowerCasedPartAfterLastUnquotedAt) {
    EXPECT_EQ(domainOf("a@B.Example"), "b.example");
    EXPECT_EQ(domainOf("\"x@y\"@Example.COM"), "example.com");
    EXPECT_EQ(domainOf("\"x@y\""), "");
    EXPECT_EQ(domainOf("postmaster"), "");
    EXPECT_EQ(domainOf("u@[IPv6:2001:DB8::1]"), "[ipv6:2001:db8::1]");
}

// ------------------------------------------------------------------------------------------
// Line framing

TEST(SmtpLineBuffer, SplitsLinesAndFlagsBareLf) {
    LineBuffer buffer(100);
    buffer.append("A\r\nB\nC\rD\r\n\r\n");
    EXPECT_EQ(buffer.buffered(), 12u);
    std::vector<Framed> lines;
    drain(buffer, lines);
    EXPECT_EQ(lines, (std::vector<Framed>{{Status::Line, "A", false},
                                          {Status::Line, "B", true},
                                          {Status::Line, "C\rD", false},
                                          {Status::Line, "", false}}));
    EXPECT_EQ(buffer.buffered(), 0u);
}

TEST(SmtpLineBuffer, WaitsForTheLineEnding) {
    LineBuffer buffer(100);
    buffer.append("EHLO x");
    EXPECT_EQ(buffer.next().status, Status::NeedMore);
    EXPECT_EQ(buffer.buffered(), 6u);
    buffer.append("\r");
    EXPECT_EQ(buffer.next().status, Status::NeedMore);
    buffer.append("\nNO");
    const auto next = buffer.next();
    EXPECT_EQ(next.status, Status::Line);
    EXPECT_EQ(next.line, "EHLO x");
    EXPECT_FALSE(next.bareLf);
    EXPECT_EQ(buffer.buffered(), 2u);
}

TEST(SmtpLineBuffer, PipelinedInputSplitAnywhereGivesTheSameLines) {
    const std::string transcript =
        "EHLO client.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\n"
        "RCPT TO:<e@f.example>\r\n" +
        std::string(80, 'x') + "\r\nDATA\r\n\r\n.\r\nQUIT\r\n";
    const std::vector<Framed> expected = {
        {Status::Line, "EHLO client.example", false},
        {Status::Line, "MAIL FROM:<a@b.example>", false},
        {Status::Line, "RCPT TO:<c@d.example>", true},
        {Status::Line, "RCPT TO:<e@f.example>", false},
        {Status::TooLong, "", false},
        {Status::Line, "DATA", false},
        {Status::Line, "", false},
        {Status::Line, ".", false},
        {Status::Line, "QUIT", false},
    };
    EXPECT_EQ(frameAtOnce(transcript, 64), expected);
    EXPECT_EQ(frame(transcript, 64, 1), expected);
    for (std::size_t split = 1; split < transcript.size(); ++split) {
        LineBuffer buffer(64);
        std::vector<Framed> lines;
        buffer.append(std::string_view(transcript).substr(0, split));
        drain(buffer, lines);
        buffer.append(std::string_view(transcript).substr(split));
        drain(buffer, lines);
        ASSERT_EQ(lines, expected) << "split at " << split;
    }
}

TEST(SmtpLineBuffer, LineAtTheLimit) {
    EXPECT_EQ(frameAtOnce("0123456789\r\n", 10),
              (std::vector<Framed>{{Status::Line, "0123456789", false}}));
    EXPECT_EQ(frameAtOnce("0123456789\n", 10),
              (std::vector<Framed>{{Status::Line, "0123456789", true}}));
    EXPECT_EQ(frameAtOnce("0123456789A\r\nok\r\n", 10),
              (std::vector<Framed>{{Status::TooLong, "", false}, {Status::Line, "ok", false}}));
    // Reported as soon as it cannot end within the limit, not only when its end arrives.
    LineBuffer early(10);
    early.append("0123456789A");
    EXPECT_EQ(early.next().status, Status::TooLong);
    EXPECT_EQ(early.next().status, Status::NeedMore);
    LineBuffer waiting(10);
    waiting.append("0123456789\r");
    EXPECT_EQ(waiting.next().status, Status::NeedMore);
    // The CR after a line of exactly the limit must not make it look overlong.
    EXPECT_EQ(frame("0123456789\r\n", 10, 1),
              (std::vector<Framed>{{Status::Line, "0123456789", false}}));
}

TEST(SmtpLineBuffer, EndlessLineIsReportedOnceAndNotBuffered) {
    constexpr std::size_t kLimit = 1000;
    LineBuffer buffer(kLimit);
    const std::string kilobyte(1024, 'z');
    int tooLong = 0;
    for (int i = 0; i < 1024; ++i) {
        buffer.append(kilobyte);
        ASSERT_LT(buffer.buffered(), kLimit + 64);
        for (auto next = buffer.next(); next.status != Status::NeedMore; next = buffer.next()) {
            EXPECT_EQ(next.status, Status::TooLong);
            ++tooLong;
        }
    }
    EXPECT_EQ(tooLong, 1);
    buffer.append("zzz\r\nQUIT\r\n");
    std::vector<Framed> lines;
    drain(buffer, lines);
    EXPECT_EQ(lines, (std::vector<Framed>{{Status::Line, "QUIT", false}}));
}

TEST(SmtpLineBuffer, OneMegabyteInOneAppendIsNotBuffered) {
    constexpr std::size_t kLimit = 1000;
    LineBuffer buffer(kLimit);
    buffer.append("NOOP\r\n" + std::string(1 << 20, 'z'));
    EXPECT_LT(buffer.buffered(), kLimit + 64);
    buffer.append(std::string(1 << 20, 'z'));
    EXPECT_LT(buffer.buffered(), kLimit + 64);
    buffer.append("\r\nQUIT\r\n");
    std::vector<Framed> lines;
    drain(buffer, lines);
    EXPECT_EQ(lines, (std::vector<Framed>{{Status::Line, "NOOP", false},
                                          {Status::TooLong, "", false},
                                          {Status::Line, "QUIT", false}}));
}

TEST(SmtpLineBuffer, OverlongLineKeepsItsLineEnding) {
    // Reported before its end arrived: a bare LF end shows as an empty bare-LF line.
    EXPECT_EQ(
        frame(std::string(30, 'x') + "\n.\r\n", 10, 1),
        (std::vector<Framed>{
            {Status::TooLong, "", false}, {Status::Line, "", true}, {Status::Line, ".", false}}));
    EXPECT_EQ(frame(std::string(30, 'x') + "\r\n.\r\n", 10, 1),
              (std::vector<Framed>{{Status::TooLong, "", false}, {Status::Line, ".", false}}));
    // Complete when read: the flag tells.
    EXPECT_EQ(frameAtOnce(std::string(30, 'x') + "\n.\r\n", 10),
              (std::vector<Framed>{{Status::TooLong, "", true}, {Status::Line, ".", false}}));
    // Truncated by append() and ended before next() ran: still the real ending, even when the
    // kept part ends with a CR.
    for (const std::string ending : {"\n", "\r\n"}) {
        LineBuffer buffer(10);
        buffer.append(std::string(10, 'x') + "\r" + std::string(20, 'y'));
        buffer.append(ending + "ok\r\n");
        std::vector<Framed> lines;
        drain(buffer, lines);
        EXPECT_EQ(lines, (std::vector<Framed>{{Status::TooLong, "", ending == "\n"},
                                              {Status::Line, "ok", false}}));
    }
}

TEST(SmtpLineBuffer, ClearDropsPlaintextAndDiscarding) {
    LineBuffer buffer(100);
    buffer.append("STARTTLS\r\nMAIL FROM:<evil@example.com>\r\npartial");
    EXPECT_EQ(buffer.next().line, "STARTTLS");
    buffer.clear();
    EXPECT_EQ(buffer.buffered(), 0u);
    EXPECT_EQ(buffer.next().status, Status::NeedMore);
    buffer.append(std::string(500, 'z'));
    EXPECT_EQ(buffer.next().status, Status::TooLong);
    buffer.clear();
    buffer.append("EHLO x\r\n");
    std::vector<Framed> lines;
    drain(buffer, lines);
    EXPECT_EQ(lines, (std::vector<Framed>{{Status::Line, "EHLO x", false}}));
}

TEST(SmtpLineBuffer, SetMaxLineLength) {
    LineBuffer buffer(5);
    buffer.setMaxLineLength(20);
    buffer.append("0123456789\r\n");
    EXPECT_EQ(buffer.next().line, "0123456789");
    buffer.setMaxLineLength(5);
    buffer.append("0123456789\r\n");
    EXPECT_EQ(buffer.next().status, Status::TooLong);
}

// Large inputs: every line comes out once and nothing stays buffered. (How fast this is belongs
// to the benchmarks, not to a timed assertion here.)
TEST(SmtpLineBuffer, ManyPipelinedLinesAreErasedAmortised) {
    constexpr std::size_t kLines = 400000;
    std::string many;
    for (std::size_t i = 0; i < kLines; ++i) {
        many += "NOOP\r\n";
    }
    LineBuffer buffer(1000);
    buffer.append(many);
    std::size_t count = 0;
    for (auto next = buffer.next(); next.status == Status::Line; next = buffer.next()) {
        ++count;
    }
    EXPECT_EQ(count, kLines);
    EXPECT_EQ(buffer.buffered(), 0u);
}

TEST(SmtpLineBuffer, SlowLongLineIsScannedOnce) {
    constexpr std::size_t kLong = 100000;
    LineBuffer slow(kLong);
    for (std::size_t i = 0; i < kLong; ++i) {
        slow.append("a");
        ASSERT_EQ(slow.next().status, Status::NeedMore);
    }
    slow.append("\r\n");
    EXPECT_EQ(slow.next().line.size(), kLong);
}

// ------------------------------------------------------------------------------------------
// DATA

TEST(SmtpData, EndsAtCrlfDotCrlf) {
    const auto outcome = readData("Subject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n", 1000);
    EXPECT_TRUE(outcome.ended);
    EXPECT_EQ(outcome.content, "Subject: x\r\n\r\nbody\r\n");
    EXPECT_EQ(outcome.size, outcome.content.size());
    EXPECT_EQ(outcome.after, std::vector<std::string>{"QUIT"});
    EXPECT_FALSE(outcome.sawBareLf);
    EXPECT_FALSE(outcome.tooBig);
}

TEST(SmtpData, EmptyMessage) {
    const auto outcome = readData(".\r\n", 1000);
    EXPECT_TRUE(outcome.ended);
    EXPECT_EQ(outcome.content, "");
    EXPECT_EQ(outcome.size, 0u);
}

TEST(SmtpData, DotUnstuffing) {
    const auto outcome = readData("..hidden\r\n...\r\n.x\r\n..\r\n.\r\n", 1000);
    EXPECT_TRUE(outcome.ended);
    EXPECT_EQ(outcome.content, ".hidden\r\n..\r\nx\r\n.\r\n");
}

TEST(SmtpData, BareLfIsContentButNeverPartOfTheEnd) {
    // "\n.\n": both endings bare.
    auto outcome = readData("a\n.\nb\r\n.\r\n", 1000);
    EXPECT_TRUE(outcome.ended);
    EXPECT_EQ(outcome.content, "a\r\n\r\nb\r\n");
    EXPECT_TRUE(outcome.sawBareLf);
    // "\r\n.\n": the dot line's own ending is bare.
    outcome = readData("a\r\n.\nMAIL FROM:<x@y.example>\r\n", 1000);
    EXPECT_FALSE(outcome.ended);
    EXPECT_EQ(outcome.content, "a\r\n\r\nMAIL FROM:<x@y.example>\r\n");
    // "\n.\r\n": the previous line's ending is bare.
    outcome = readData("a\n.\r\nRCPT TO:<x@y.example>\r\n", 1000);
    EXPECT_FALSE(outcome.ended);
    EXPECT_EQ(outcome.content, "a\r\n\r\nRCPT TO:<x@y.example>\r\n");
    outcome = readData("a\n.\r\nRCPT TO:<x@y.example>\r\n.\r\nQUIT\r\n", 1000);
    EXPECT_TRUE(outcome.ended);
    EXPECT_EQ(outcome.after, std::vector<std::string>{"QUIT"});
}

TEST(SmtpData, DotCrIsNotTheEnd) {
    auto outcome = readData("a\r\n.\r", 1000);
    EXPECT_FALSE(outcome.ended);
    outcome = readData("a\r\n.\r\r\nb\r\n", 1000);
    EXPECT_FALSE(outcome.ended);
    EXPECT_EQ(outcome.content, "a\r\n\r\r\nb\r\n");
    outcome = readData("a\r\n. \r\n", 1000);
    EXPECT_FALSE(outcome.ended);
}

TEST(SmtpData, SameResultWhateverTheChunking) {
    const std::string input = "x\n.\r\n..y\r\nz\r\n.\n\r\n.\r\nNOOP\r\n";
    const auto whole = readData(input, 1000);
    EXPECT_TRUE(whole.ended);
    EXPECT_EQ(whole.content, "x\r\n\r\n.y\r\nz\r\n\r\n\r\n");
    for (std::size_t chunk = 1; chunk < input.size(); ++chunk) {
        const auto pieces = readData(input, 1000, 1000, chunk);
        EXPECT_EQ(pieces.content, whole.content) << chunk;
        EXPECT_EQ(pieces.after, whole.after) << chunk;
    }
}

TEST(SmtpData, SizeLimitReachedMidMessage) {
    std::string input;
    for (int i = 0; i < 5; ++i) {
        input += "0123456789\r\n";  // 12 bytes stored per line
    }
    input += ".\r\nQUIT\r\n";
    auto outcome = readData(input, 30);
    EXPECT_TRUE(outcome.tooBig);
    EXPECT_TRUE(outcome.ended);  // kept reading to the end
    EXPECT_EQ(outcome.content, "0123456789\r\n0123456789\r\n");
    EXPECT_EQ(outcome.size, 24u);
    EXPECT_LE(outcome.size, 30u);
    EXPECT_EQ(outcome.after, std::vector<std::string>{"QUIT"});
    // Exactly at the limit is not too big.
    outcome = readData(input, 60);
    EXPECT_FALSE(outcome.tooBig);
    EXPECT_EQ(outcome.size, 60u);
}

TEST(SmtpData, TooLongLineIsCountedNotStored) {
    const auto outcome = readData("a\r\n" + std::string(50, 'x') + "\r\nb\r\n.\r\n", 1000, 20);
    EXPECT_TRUE(outcome.ended);
    EXPECT_TRUE(outcome.sawTooLongLine);
    EXPECT_EQ(outcome.content, "a\r\nb\r\n");
}

TEST(SmtpData, OverlongLineEndingMatters) {
    const std::string overlong(50, 'x');
    for (const std::size_t chunk : {std::size_t{1}, std::size_t{7}, std::size_t{1000}}) {
        // Ended with CRLF: the following "." ends the data.
        auto outcome = readData(overlong + "\r\n.\r\nQUIT\r\n", 1000, 20, chunk);
        EXPECT_TRUE(outcome.ended) << chunk;
        EXPECT_EQ(outcome.after, std::vector<std::string>{"QUIT"}) << chunk;
        // Ended with a bare LF: no smuggling through an overlong line.
        outcome = readData(overlong + "\n.\r\nMAIL FROM:<x@y.example>\r\n", 1000, 20, chunk);
        EXPECT_FALSE(outcome.ended) << chunk;
        EXPECT_TRUE(outcome.sawBareLf) << chunk;
    }
}

TEST(SmtpData, NeedMoreIsIgnored) {
    DataReader reader(100);
    std::string out;
    EXPECT_EQ(reader.feed(LineBuffer::Next{}, out), DataReader::Result::More);
    EXPECT_EQ(out, "");
    EXPECT_EQ(reader.size(), 0u);
}

}  // namespace
}  // namespace tlsgate::gateway::smtp
