// The SMTP wire format without I/O: command lines, MAIL/RCPT arguments, line framing and the DATA
// reader with dot-unstuffing. Every limit is enforced here; these are what the fuzzers drive.
// Pure and single-threaded (one instance per session); malformed input yields a Reply, not a throw.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "tlsgate/common/clock.h"

namespace tlsgate::gateway::smtp {

/// One SMTP reply: code, enhanced status code (may be empty, e.g. for 220/221 greetings), text.
struct Reply {
    int code = 250;
    std::string enhanced;  ///< "5.5.2"; empty for replies that carry none
    std::string text;
    /// Wire form, CRLF-terminated; `lines` adds continuation lines ("250-...").
    std::string wire() const;
    bool operator==(const Reply&) const = default;
};

/// A multi-line reply (EHLO): every line but the last uses "code-".
std::string multilineWire(int code, const std::vector<std::string>& lines);

enum class Verb { Helo, Ehlo, Mail, Rcpt, Data, Rset, Noop, Quit, Vrfy, Help, StartTls, Unknown };
std::string_view toString(Verb verb);

struct Command {
    Verb verb = Verb::Unknown;
    std::string verbText;  ///< as the client wrote it (for logs), at most 16 characters
    std::string argument;  ///< after the first space, trailing blanks removed
};

/// "Wed, 25 Nov 2026 14:35:50 +0000": the date form of Received:, Date: and DSNs (RFC 5322).
std::string rfc5322Date(TimePoint t);

/// Parses one command line (without its line ending). Verbs are case-insensitive.
Command parseCommand(std::string_view line);

struct MailParameters {
    std::string reversePath;            ///< without <>; empty for the null sender <>
    std::optional<std::uint64_t> size;  ///< SIZE=
    bool eightBitMime = false;          ///< BODY=8BITMIME
};

/// "FROM:<a@b.example> SIZE=123 BODY=8BITMIME". Refuses: syntax (501 5.5.4), unknown parameter
/// (555 5.5.4), a path over 256 characters (501 5.1.7), SIZE above `maxSize` (552 5.3.4).
std::variant<MailParameters, Reply> parseMailArgument(std::string_view argument,
                                                      std::uint64_t maxSize);

/// "TO:<a@b.example>" (postmaster without domain accepted). Returns the mailbox without <>.
/// Refuses syntax (501 5.5.4), parameters (555 5.5.4), an address over 256 characters (501 5.1.3).
std::variant<std::string, Reply> parseRcptArgument(std::string_view argument);

/// The domain part of a mailbox ("b.example" of "a@b.example"), lower-cased; empty when none.
std::string domainOf(std::string_view mailbox);

/// Splits a byte stream into lines. A line ends with CRLF; a bare LF also ends a line but is
/// reported (`bareLf`) so the DATA reader can refuse to treat it as part of the end-of-data
/// sequence (SMTP smuggling). Lines longer than the limit are reported as TooLong and skipped up
/// to their end.
class LineBuffer {
  public:
    explicit LineBuffer(std::size_t maxLineLength);

    enum class Status { Line, NeedMore, TooLong };
    struct Next {
        Status status = Status::NeedMore;
        std::string line;     ///< without the line ending
        bool bareLf = false;  ///< ended with LF not preceded by CR
    };

    void append(std::string_view bytes);
    /// The next complete line, if any.
    Next next();
    /// Bytes received and not yet returned as lines (pipelined input).
    std::size_t buffered() const;
    /// Drops everything buffered: after STARTTLS, plaintext sent before the handshake must never
    /// be read as commands of the TLS session.
    void clear();
    void setMaxLineLength(std::size_t maxLineLength);

  private:
    void compact();

    std::string buffer_;
    std::size_t start_ = 0;      ///< bytes before this offset were returned already
    std::size_t scanned_ = 0;    ///< [start_, scanned_) holds no LF: never searched twice
    std::size_t tailStart_ = 0;  ///< start of the last, unterminated line in buffer_
    std::size_t maxLineLength_;
    bool discarding_ = false;   ///< inside an overlong line: bytes are dropped up to its LF
    bool discardedCr_ = false;  ///< the last byte dropped was a CR (to tell CRLF from bare LF)
};

/// Reads the lines of a DATA section (RFC 5321 4.5.2): removes one leading dot, recognises the end
/// (a line "." whose own line ending and the previous one's are both CRLF), stores content lines
/// with CRLF (a bare LF is normalised to CRLF), and counts the size against the limit. Past the
/// limit it keeps reading to the end but stores nothing more, so the session can answer 552.
class DataReader {
  public:
    DataReader(std::uint64_t maxSize);

    enum class Result { More, End };
    /// Feeds one line as LineBuffer returned it. `out` receives the content to store.
    Result feed(const LineBuffer::Next& line, std::string& out);
    bool tooBig() const { return tooBig_; }
    std::uint64_t size() const { return size_; }  ///< bytes of content (with CRLFs), capped
    bool sawBareLf() const { return sawBareLf_; }
    bool sawTooLongLine() const { return sawTooLongLine_; }

  private:
    std::uint64_t maxSize_;
    std::uint64_t size_ = 0;
    bool tooBig_ = false;
    bool previousEndedCrlf_ = true;  ///< DATA's own command line ended with CRLF
    bool sawBareLf_ = false;
    bool sawTooLongLine_ = false;
};

}  // namespace tlsgate::gateway::smtp
