// The SMTP wire format without I/O: replies, command lines, MAIL/RCPT arguments, line framing and
// the DATA reader. Pure functions of their input; malformed input yields a Reply, never a throw.
#include "tlsgate/gateway/smtp_protocol.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <ctime>
#include <limits>

namespace tlsgate::gateway::smtp {

namespace {

constexpr std::size_t kMaxVerbText = 16;
constexpr std::size_t kMaxPath = 256;         // RFC 5321 4.5.3.1.3
constexpr std::size_t kMaxDomain = 255;       // RFC 5321 4.5.3.1.2
constexpr std::size_t kMaxLabel = 63;         // RFC 1035 2.3.4
constexpr std::size_t kMaxEchoedOption = 64;  // client text quoted back in a reply
constexpr std::size_t kCompactThreshold = 4096;

Reply mailSyntax() {
    return {501, "5.5.4", "Syntax: MAIL FROM:<address>"};
}
Reply rcptSyntax() {
    return {501, "5.5.4", "Syntax: RCPT TO:<address>"};
}
Reply badSender() {
    return {501, "5.1.7", "Bad sender address syntax"};
}
Reply badRecipient() {
    return {501, "5.1.3", "Bad recipient address syntax"};
}
Reply badSize() {
    return {501, "5.5.4", "Bad message size syntax"};
}
Reply sizeExceeded() {
    return {552, "5.3.4", "Message size exceeds fixed maximum message size"};
}

/// The option as the client wrote it, made safe to quote back: printable ASCII, bounded length.
Reply unsupportedOption(std::string_view option) {
    std::string shown;
    for (const char c : option.substr(0, kMaxEchoedOption)) {
        const auto u = static_cast<unsigned char>(c);
        shown.push_back(u > 0x20 && u < 0x7f ? c : '?');
    }
    if (option.size() > kMaxEchoedOption) {
        shown += "...";
    }
    return {555, "5.5.4", "Unsupported option: " + shown};
}

char asciiLower(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return asciiLower(x) == asciiLower(y);
           });
}

bool startsWithIgnoreCase(std::string_view s, std::string_view prefix) {
    return s.size() >= prefix.size() && equalsIgnoreCase(s.substr(0, prefix.size()), prefix);
}

bool isBlank(char c) {
    return c == ' ' || c == '\t';
}

bool isControl(char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
}

std::string_view trimBlanks(std::string_view s) {
    while (!s.empty() && isBlank(s.front())) {
        s.remove_prefix(1);
    }
    while (!s.empty() && isBlank(s.back())) {
        s.remove_suffix(1);
    }
    return s;
}

bool isLetterOrDigit(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/// "[192.0.2.1]" or "[IPv6:2001:db8::1]"; general address literals (tag:content) are refused.
bool validAddressLiteral(std::string_view literal) {
    if (literal.size() < 3 || literal.front() != '[' || literal.back() != ']') {
        return false;
    }
    std::string_view inner = literal.substr(1, literal.size() - 2);
    int family = AF_INET;
    if (startsWithIgnoreCase(inner, "IPv6:")) {
        family = AF_INET6;
        inner.remove_prefix(5);
    }
    // Only what addresses are made of: inet_pton reads up to a NUL and would ignore the rest.
    if (!std::all_of(inner.begin(), inner.end(), [](char c) {
            return std::isxdigit(static_cast<unsigned char>(c)) != 0 || c == '.' || c == ':';
        })) {
        return false;
    }
    const std::string text(inner);  // inet_pton wants a terminated string
    std::array<unsigned char, 16> address{};
    return inet_pton(family, text.c_str(), address.data()) == 1;
}

/// Letters, digits and hyphens in dot-separated labels, or an address literal.
bool validDomain(std::string_view domain) {
    if (!domain.empty() && domain.front() == '[') {
        return validAddressLiteral(domain);
    }
    if (domain.empty() || domain.size() > kMaxDomain) {
        return false;
    }
    std::size_t label = 0;
    for (const char c : domain) {
        if (c == '.') {
            if (label == 0) {
                return false;
            }
            label = 0;
        } else if (isLetterOrDigit(c) || c == '-') {
            if (++label > kMaxLabel) {
                return false;
            }
        } else {
            return false;
        }
    }
    return label > 0;
}

/// Characters a dot-string local part may not hold unquoted (RFC 5322 specials, blanks, controls).
bool forbiddenInDotString(char c) {
    return isControl(c) || c == ' ' ||
           std::string_view("()<>[]:;@\\,\"").find(c) != std::string_view::npos;
}

/// Local-part "@" domain, the local part a dot-string or one quoted string. Lenient about dots
/// (real senders use "a..b") and 8-bit bytes; strict about controls, blanks and a second "@".
bool validMailbox(std::string_view mailbox) {
    std::size_t i = 0;
    if (!mailbox.empty() && mailbox.front() == '"') {
        for (i = 1; i < mailbox.size(); ++i) {
            const char c = mailbox[i];
            if (isControl(c)) {
                return false;
            }
            if (c == '\\') {
                if (++i == mailbox.size() || isControl(mailbox[i])) {
                    return false;
                }
            } else if (c == '"') {
                break;
            }
        }
        if (i >= mailbox.size()) {
            return false;  // unterminated quoted string
        }
        ++i;  // past the closing quote
        if (i == 2) {
            return false;  // "" is no local part
        }
    } else {
        while (i < mailbox.size() && mailbox[i] != '@') {
            if (forbiddenInDotString(mailbox[i])) {
                return false;
            }
            ++i;
        }
        if (i == 0) {
            return false;
        }
    }
    if (i >= mailbox.size() || mailbox[i] != '@') {
        return false;
    }
    return validDomain(mailbox.substr(i + 1));
}

/// Strips an RFC 5321 source route ("@a,@b:") after checking its domains; nullopt when malformed.
std::optional<std::string_view> stripSourceRoute(std::string_view path) {
    if (path.empty() || path.front() != '@') {
        return path;
    }
    const std::size_t colon = path.find(':');
    if (colon == std::string_view::npos) {
        return std::nullopt;
    }
    std::string_view route = path.substr(0, colon);
    while (true) {
        const std::size_t comma = route.find(',');
        const std::string_view hop = route.substr(0, comma);
        if (hop.size() < 2 || hop.front() != '@' || !validDomain(hop.substr(1))) {
            return std::nullopt;
        }
        if (comma == std::string_view::npos) {
            break;
        }
        route.remove_prefix(comma + 1);
    }
    return path.substr(colon + 1);
}

/// An argument split at its path: "FROM:<path> params" gives path and params.
struct PathAndParameters {
    std::string_view path;        ///< between the brackets
    std::string_view parameters;  ///< after the closing bracket, without leading blanks
};

/// Checks the keyword ("FROM:", "TO:"), skips blanks after it (Postfix is lenient there too) and
/// finds the closing bracket outside quoted strings. nullopt on a syntax error.
std::optional<PathAndParameters> splitPath(std::string_view argument, std::string_view keyword) {
    if (!startsWithIgnoreCase(argument, keyword)) {
        return std::nullopt;
    }
    argument.remove_prefix(keyword.size());
    while (!argument.empty() && isBlank(argument.front())) {
        argument.remove_prefix(1);
    }
    if (argument.empty() || argument.front() != '<') {
        return std::nullopt;
    }
    bool quoted = false;
    for (std::size_t i = 1; i < argument.size(); ++i) {
        const char c = argument[i];
        if (quoted && c == '\\') {
            ++i;
        } else if (c == '"') {
            quoted = !quoted;
        } else if (!quoted && c == '>') {
            std::string_view rest = argument.substr(i + 1);
            if (!rest.empty() && !isBlank(rest.front())) {
                return std::nullopt;  // "<a@b.example>junk"
            }
            return PathAndParameters{argument.substr(1, i - 1), trimBlanks(rest)};
        }
    }
    return std::nullopt;
}

/// The next blank-separated word of `parameters`, removed from it; empty when none is left.
std::string_view nextWord(std::string_view& parameters) {
    while (!parameters.empty() && isBlank(parameters.front())) {
        parameters.remove_prefix(1);
    }
    std::size_t end = 0;
    while (end < parameters.size() && !isBlank(parameters[end])) {
        ++end;
    }
    const std::string_view word = parameters.substr(0, end);
    parameters.remove_prefix(end);
    return word;
}

/// SIZE= value; nullopt unless all digits. Values past 2^64 saturate (they exceed any limit).
std::optional<std::uint64_t> parseSize(std::string_view value) {
    if (value.empty()) {
        return std::nullopt;
    }
    std::uint64_t size = 0;
    constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
    for (const char c : value) {
        if (c < '0' || c > '9') {
            return std::nullopt;
        }
        const auto digit = static_cast<std::uint64_t>(c - '0');
        size = size > (kMax - digit) / 10 ? kMax : size * 10 + digit;
    }
    return size;
}

}  // namespace

std::string Reply::wire() const {
    std::string out = std::to_string(code);
    out += ' ';
    if (!enhanced.empty()) {
        out += enhanced;
        out += ' ';
    }
    out += text;
    out += "\r\n";
    return out;
}

std::string multilineWire(int code, const std::vector<std::string>& lines) {
    const std::string prefix = std::to_string(code);
    std::string out;
    for (std::size_t i = 0; i < lines.size(); ++i) {
        out += prefix;
        out += i + 1 < lines.size() ? '-' : ' ';
        out += lines[i];
        out += "\r\n";
    }
    return out;
}

namespace {

struct VerbName {
    Verb verb;
    std::string_view name;
};

constexpr std::array<VerbName, 11> kVerbs{{
    {Verb::Helo, "HELO"},
    {Verb::Ehlo, "EHLO"},
    {Verb::Mail, "MAIL"},
    {Verb::Rcpt, "RCPT"},
    {Verb::Data, "DATA"},
    {Verb::Rset, "RSET"},
    {Verb::Noop, "NOOP"},
    {Verb::Quit, "QUIT"},
    {Verb::Vrfy, "VRFY"},
    {Verb::Help, "HELP"},
    {Verb::StartTls, "STARTTLS"},
}};

}  // namespace

std::string_view toString(Verb verb) {
    for (const auto& v : kVerbs) {
        if (v.verb == verb) {
            return v.name;
        }
    }
    return "UNKNOWN";
}

Command parseCommand(std::string_view line) {
    Command command;
    const std::size_t space = line.find(' ');
    const std::string_view verb = line.substr(0, space);
    command.verbText = std::string(verb.substr(0, kMaxVerbText));
    for (const auto& v : kVerbs) {
        if (equalsIgnoreCase(verb, v.name)) {
            command.verb = v.verb;
            break;
        }
    }
    if (space != std::string_view::npos) {
        command.argument = std::string(trimBlanks(line.substr(space + 1)));
    }
    return command;
}

std::variant<MailParameters, Reply> parseMailArgument(std::string_view argument,
                                                      std::uint64_t maxSize) {
    const auto split = splitPath(argument, "FROM:");
    if (!split) {
        return mailSyntax();
    }
    if (split->path.size() > kMaxPath) {
        return badSender();
    }
    MailParameters mail;
    if (!split->path.empty()) {
        const auto mailbox = stripSourceRoute(split->path);
        if (!mailbox || !validMailbox(*mailbox)) {
            return badSender();
        }
        mail.reversePath = std::string(*mailbox);
    }
    std::string_view parameters = split->parameters;
    for (std::string_view word = nextWord(parameters); !word.empty(); word = nextWord(parameters)) {
        const std::size_t equals = word.find('=');
        const std::string_view keyword = word.substr(0, equals);
        const std::string_view value =
            equals == std::string_view::npos ? std::string_view() : word.substr(equals + 1);
        if (equalsIgnoreCase(keyword, "SIZE")) {
            const auto size = parseSize(value);
            if (!size) {
                return badSize();
            }
            if (*size > maxSize) {
                return sizeExceeded();
            }
            mail.size = size;
        } else if (equalsIgnoreCase(keyword, "BODY") && equalsIgnoreCase(value, "7BIT")) {
            mail.eightBitMime = false;
        } else if (equalsIgnoreCase(keyword, "BODY") && equalsIgnoreCase(value, "8BITMIME")) {
            mail.eightBitMime = true;
        } else {
            return unsupportedOption(word);
        }
    }
    return mail;
}

std::variant<std::string, Reply> parseRcptArgument(std::string_view argument) {
    const auto split = splitPath(argument, "TO:");
    if (!split) {
        return rcptSyntax();
    }
    if (split->path.size() > kMaxPath) {
        return badRecipient();
    }
    std::string_view parameters = split->parameters;
    if (const std::string_view word = nextWord(parameters); !word.empty()) {
        return unsupportedOption(word);
    }
    if (equalsIgnoreCase(split->path, "postmaster")) {
        return std::string(split->path);
    }
    const auto mailbox = stripSourceRoute(split->path);
    if (!mailbox || !validMailbox(*mailbox)) {
        return badRecipient();
    }
    return std::string(*mailbox);
}

std::string domainOf(std::string_view mailbox) {
    std::size_t at = std::string_view::npos;
    bool quoted = false;
    for (std::size_t i = 0; i < mailbox.size(); ++i) {
        const char c = mailbox[i];
        if (quoted && c == '\\') {
            ++i;
        } else if (c == '"') {
            quoted = !quoted;
        } else if (!quoted && c == '@') {
            at = i;
        }
    }
    std::string domain;
    if (at != std::string_view::npos) {
        for (const char c : mailbox.substr(at + 1)) {
            domain.push_back(asciiLower(c));
        }
    }
    return domain;
}

// ------------------------------------------------------------------------------------------
// LineBuffer
//
// buffer_[start_, end) holds what was not yet returned. The last, unterminated line starts at
// tailStart_ and never exceeds maxLineLength_ + 1 bytes (the line plus a CR awaiting its LF):
// beyond that append() keeps only that much of it and drops the rest up to the next LF
// (discarding_). next() reports such a line as TooLong as soon as it reaches it. When the dropped
// line finally ends with a bare LF after it was reported, an empty bare-LF line is queued in its
// place, so the DATA reader still sees that the next line does not follow a CRLF.

LineBuffer::LineBuffer(std::size_t maxLineLength) : maxLineLength_(maxLineLength) {}

void LineBuffer::append(std::string_view bytes) {
    if (discarding_) {
        const std::size_t lf = bytes.find('\n');
        if (lf == std::string_view::npos) {
            if (!bytes.empty()) {
                discardedCr_ = bytes.back() == '\r';
            }
            return;
        }
        const bool crlf = lf > 0 ? bytes[lf - 1] == '\r' : discardedCr_;
        discarding_ = false;
        discardedCr_ = false;
        if (buffer_.size() > tailStart_) {
            // Not reported yet: terminate the truncated line with its real line ending, padded
            // so that it is longer than the limit whatever the limit is now.
            buffer_.resize(tailStart_ + maxLineLength_ + 1, ' ');
            buffer_.back() = ' ';
            buffer_ += crlf ? "\r\n" : "\n";
        } else if (!crlf) {
            buffer_ += '\n';
        }
        tailStart_ = buffer_.size();
        bytes.remove_prefix(lf + 1);
    }
    if (bytes.empty()) {
        return;
    }
    const std::size_t lf = bytes.rfind('\n');
    const std::size_t tail = lf == std::string_view::npos
                                 ? buffer_.size() - tailStart_ + bytes.size()
                                 : bytes.size() - lf - 1;
    if (lf != std::string_view::npos) {
        tailStart_ = buffer_.size() + lf + 1;
    }
    const std::size_t keep = maxLineLength_ + 1;
    if (tail <= keep) {
        buffer_.append(bytes);
        return;
    }
    // The last line cannot end within the limit: keep its first bytes (so that next() reports it
    // in order) and drop the rest up to its LF.
    const std::size_t room =
        tailStart_ + keep > buffer_.size() ? tailStart_ + keep - buffer_.size() : 0;
    buffer_.append(bytes.substr(0, room));
    discarding_ = true;
    discardedCr_ = bytes.back() == '\r';
}

LineBuffer::Next LineBuffer::next() {
    Next result;
    if (start_ == buffer_.size()) {
        compact();
        return result;
    }
    scanned_ = std::max(scanned_, start_);
    const std::size_t lf = buffer_.find('\n', scanned_);
    if (lf == std::string::npos) {
        scanned_ = buffer_.size();
        const std::size_t length = buffer_.size() - start_;
        const bool overlong = discarding_ || length > maxLineLength_ + 1 ||
                              (length == maxLineLength_ + 1 && buffer_.back() != '\r');
        if (overlong) {
            if (!discarding_) {
                discarding_ = true;
                discardedCr_ = buffer_.back() == '\r';
            }
            start_ = buffer_.size();
            tailStart_ = buffer_.size();
            compact();
            result.status = Status::TooLong;
        }
        return result;
    }
    result.bareLf = lf == start_ || buffer_[lf - 1] != '\r';
    const std::size_t end = result.bareLf ? lf : lf - 1;
    if (end - start_ > maxLineLength_) {
        result.status = Status::TooLong;
    } else {
        result.status = Status::Line;
        result.line.assign(buffer_, start_, end - start_);
    }
    start_ = lf + 1;
    scanned_ = start_;
    compact();
    return result;
}

void LineBuffer::compact() {
    if (start_ == buffer_.size()) {
        buffer_.clear();
        start_ = 0;
        scanned_ = 0;
        tailStart_ = 0;
    } else if (start_ >= kCompactThreshold && start_ >= buffer_.size() - start_) {
        // Erasing costs at most what was consumed since the last erase: amortised O(1) a byte.
        buffer_.erase(0, start_);
        scanned_ -= start_;
        tailStart_ -= start_;
        start_ = 0;
    }
}

std::size_t LineBuffer::buffered() const {
    return buffer_.size() - start_;
}

void LineBuffer::clear() {
    buffer_.clear();
    start_ = 0;
    scanned_ = 0;
    tailStart_ = 0;
    discarding_ = false;
    discardedCr_ = false;
}

void LineBuffer::setMaxLineLength(std::size_t maxLineLength) {
    maxLineLength_ = maxLineLength;
}

// ------------------------------------------------------------------------------------------
// DataReader

DataReader::DataReader(std::uint64_t maxSize) : maxSize_(maxSize) {}

DataReader::Result DataReader::feed(const LineBuffer::Next& line, std::string& out) {
    if (line.status == LineBuffer::Status::NeedMore) {
        return Result::More;
    }
    sawBareLf_ = sawBareLf_ || line.bareLf;
    if (line.status == LineBuffer::Status::TooLong) {
        // Its bytes are gone; the session refuses the message at the end of DATA.
        sawTooLongLine_ = true;
        previousEndedCrlf_ = !line.bareLf;
        return Result::More;
    }
    // RFC 5321 4.1.1.4: only CRLF "." CRLF ends the data. A bare LF ends a content line (it is
    // stored as CRLF) but never takes part in the end sequence: no SMTP smuggling.
    if (line.line == "." && !line.bareLf && previousEndedCrlf_) {
        return Result::End;
    }
    previousEndedCrlf_ = !line.bareLf;
    std::string_view content = line.line;
    if (!content.empty() && content.front() == '.') {
        content.remove_prefix(1);
    }
    const std::uint64_t add = content.size() + 2;
    if (!tooBig_) {
        if (add > maxSize_ - size_) {
            tooBig_ = true;
        } else {
            out.append(content);
            out.append("\r\n");
            size_ += add;
        }
    }
    return Result::More;
}

std::string rfc5322Date(TimePoint t) {
    const std::time_t seconds = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    char text[64];
    std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    return text;
}

}  // namespace tlsgate::gateway::smtp
