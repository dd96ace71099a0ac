// The SMTP session state machine. One table says which command is legal in which state; one
// function changes state (and logs old -> new); the policy functions decide, the session acts.
// Runs on its connection's thread; run() catches everything and answers 421 where it can.
#include "tlsgate/gateway/session.h"

#include <Poco/Logger.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstring>
#include <ctime>

#include "tlsgate/certmgr/certificate.h"

namespace tlsgate::gateway {

using smtp::Reply;
using smtp::Verb;

// ------------------------------------------------------------------------------------------
// SocketTransport

Transport::ReadResult SocketTransport::read(char* buffer, std::size_t size) {
    if (ssl_) {
        // An idle TLS session waits here, not inside SSL_read(): between records OpenSSL then
        // holds no read buffer for it (SSL_MODE_RELEASE_BUFFERS), ~17 KiB per idle session.
        if (SSL_pending(ssl_.get()) == 0 && SSL_has_pending(ssl_.get()) == 0) {
            pollfd pfd{fd_, POLLIN, 0};
            const int timeoutMs = timeout_.count() < 0
                                      ? -1
                                      : static_cast<int>(std::min<std::chrono::seconds::rep>(
                                                             timeout_.count(), INT_MAX / 1000) *
                                                         1000);
            int ready = 0;
            do {
                ready = ::poll(&pfd, 1, timeoutMs);
            } while (ready < 0 && errno == EINTR);
            if (ready == 0) {
                return {ReadStatus::Timeout, 0, {}};
            }
            if (ready < 0) {
                return {ReadStatus::Error, 0, std::strerror(errno)};
            }
        }
        ERR_clear_error();
        const int n =
            SSL_read(ssl_.get(), buffer, static_cast<int>(std::min<std::size_t>(size, 1 << 30)));
        if (n > 0) {
            return {ReadStatus::Data, static_cast<std::size_t>(n), {}};
        }
        const int error = SSL_get_error(ssl_.get(), n);
        if (error == SSL_ERROR_ZERO_RETURN) {
            return {ReadStatus::Eof, 0, {}};
        }
        if ((error == SSL_ERROR_SYSCALL || error == SSL_ERROR_WANT_READ) &&
            (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return {ReadStatus::Timeout, 0, {}};
        }
        if (error == SSL_ERROR_SYSCALL && n == 0) {
            return {ReadStatus::Eof, 0, {}};
        }
        std::string reason = certmgr::drainOpensslErrors();
        return {ReadStatus::Error, 0, reason.empty() ? std::strerror(errno) : reason};
    }
    while (true) {
        const ssize_t n = ::recv(fd_, buffer, size, 0);
        if (n > 0) {
            return {ReadStatus::Data, static_cast<std::size_t>(n), {}};
        }
        if (n == 0) {
            return {ReadStatus::Eof, 0, {}};
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return {ReadStatus::Timeout, 0, {}};
        }
        return {ReadStatus::Error, 0, std::strerror(errno)};
    }
}

bool SocketTransport::write(std::string_view data) {
    while (!data.empty()) {
        if (ssl_) {
            ERR_clear_error();
            const int n = SSL_write(ssl_.get(), data.data(),
                                    static_cast<int>(std::min<std::size_t>(data.size(), 1 << 30)));
            if (n <= 0) {
                certmgr::drainOpensslErrors();
                return false;
            }
            data.remove_prefix(static_cast<std::size_t>(n));
            continue;
        }
        const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

void SocketTransport::setTimeout(std::chrono::seconds timeout) {
    if (timeout == timeout_) {
        return;  // set before every read: two system calls saved on almost every one
    }
    timeout_ = timeout;
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(timeout.count());
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

HandshakeResult SocketTransport::startTls(const ServerTlsContext& context) {
    return acceptTls(context, fd_, ssl_);
}

// ------------------------------------------------------------------------------------------
// Session

std::string_view toString(SessionState state) {
    switch (state) {
        case SessionState::Connected:
            return "connected";
        case SessionState::Ready:
            return "ready";
        case SessionState::Mail:
            return "mail";
        case SessionState::Rcpt:
            return "rcpt";
        case SessionState::Data:
            return "data";
        case SessionState::Closing:
            return "closing";
    }
    return "unknown";
}

std::string newSessionId() {
    std::array<unsigned char, 6> bytes{};
    if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
        certmgr::drainOpensslErrors();
        static std::atomic<std::uint64_t> counter{0};
        const auto n = ++counter ^ static_cast<std::uint64_t>(std::time(nullptr));
        std::memcpy(bytes.data(), &n, bytes.size());
    }
    static const char* const kHex = "0123456789abcdef";
    std::string id;
    for (unsigned char b : bytes) {
        id += kHex[b >> 4];
        id += kHex[b & 0x0f];
    }
    return id;
}

namespace {

/// On the session thread's stack: 4 KiB (a command line, or a part of DATA) rather than a TLS
/// record's 16 KiB. The pages of a large frame are touched (stack clash probing) and stay
/// resident while the connection is open: measured, 16 KiB cost 12 KiB more per idle TLS session.
constexpr std::size_t kReadChunk = 4096;

/// The states a command is legal in; outside them the table's reply is sent instead.
using StateSet = std::uint32_t;
constexpr StateSet bit(SessionState s) {
    return StateSet{1} << static_cast<unsigned>(s);
}
constexpr StateSet kAnyState = bit(SessionState::Connected) | bit(SessionState::Ready) |
                               bit(SessionState::Mail) | bit(SessionState::Rcpt);

/// Keeps header text on one line and free of anything a client could use to forge headers.
std::string headerSafe(std::string_view text) {
    std::string out;
    for (char c : text.substr(0, 255)) {
        const auto u = static_cast<unsigned char>(c);
        out += (u < 0x20 || u == 0x7f || c == '(' || c == ')') ? '_' : c;
    }
    return out;
}

}  // namespace

struct Session::CommandSpec {
    Verb verb;
    StateSet allowedIn;
    Reply outOfOrder;  ///< sent when the command arrives in another state
    void (Session::*proceed)(const smtp::Command&);
};

/// The command table: where each command is legal, and what it does there.
const std::vector<Session::CommandSpec>& Session::commandTable() {
    static const std::vector<CommandSpec> table = {
        {Verb::Helo, kAnyState, {}, &Session::onHelo},
        {Verb::Ehlo, kAnyState, {}, &Session::onEhlo},
        {Verb::StartTls, kAnyState, {}, &Session::onStartTls},
        {Verb::Mail,
         bit(SessionState::Ready),
         {503, "5.5.1", "Error: send HELO/EHLO first"},
         &Session::onMail},
        {Verb::Rcpt,
         bit(SessionState::Mail) | bit(SessionState::Rcpt),
         {503, "5.5.1", "Error: need MAIL command"},
         &Session::onRcpt},
        {Verb::Data,
         bit(SessionState::Rcpt),
         {503, "5.5.1", "Error: need RCPT command"},
         &Session::onData},
        {Verb::Rset, kAnyState, {}, &Session::onRset},
        {Verb::Noop, kAnyState, {}, &Session::onNoop},
        {Verb::Quit, kAnyState, {}, &Session::onQuit},
        {Verb::Vrfy, kAnyState, {}, &Session::onVrfy},
        {Verb::Help, kAnyState, {}, &Session::onHelp},
    };
    return table;
}

Session::Session(const SessionServices& services, Transport& transport, PeerInfo peer)
    : services_(services),
      config_(services.config),
      settings_(config_->receive),
      transport_(transport),
      peer_(std::move(peer)),
      id_(newSessionId()),
      log_(Poco::Logger::get("tlsgate.smtp")),
      started_(std::chrono::steady_clock::now()),
      input_(config_->receive.commandLineLimit - 2) {}

Session::~Session() = default;

void Session::enterState(SessionState next) {
    if (log_.debug()) {
        log_.debug("session=" + id_ + " state " + std::string(toString(state_)) + " -> " +
                   std::string(toString(next)));
    }
    state_ = next;
}

void Session::replyRaw(const std::string& wire, int code) {
    output_ += wire;
    if (code >= 400) {
        ++errors_;
    }
}

void Session::reply(const Reply& r) {
    replyRaw(r.wire(), r.code);
}

bool Session::flush() {
    if (output_.empty()) {
        return true;
    }
    bytesOut_ += output_.size();
    const bool ok = transport_.write(output_);
    output_.clear();
    return ok;
}

bool Session::readLine(smtp::LineBuffer::Next& next, std::chrono::seconds timeout) {
    // The whole line must arrive within `timeout`, not each read: a client sending one byte at a
    // time does not keep a session (and its thread) for longer.
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
        next = input_.next();
        if (next.status != smtp::LineBuffer::Status::NeedMore) {
            return true;
        }
        if (!flush()) {
            return false;
        }
        const auto left =
            std::chrono::ceil<std::chrono::seconds>(deadline - std::chrono::steady_clock::now());
        std::array<char, kReadChunk> buffer;
        Transport::ReadResult result{Transport::ReadStatus::Timeout, 0, {}};
        if (left.count() > 0) {
            transport_.setTimeout(left);
            result = transport_.read(buffer.data(), buffer.size());
        }
        switch (result.status) {
            case Transport::ReadStatus::Data:
                bytesIn_ += result.bytes;
                input_.append(std::string_view(buffer.data(), result.bytes));
                break;
            case Transport::ReadStatus::Timeout:
                log_.information("session=" + id_ + " timeout after " +
                                 std::string(toString(state_)) + " from " + peer_.address);
                reply({421, "4.4.2", config_->gateway.hostname + " Error: timeout exceeded"});
                flush();
                return false;
            case Transport::ReadStatus::Eof:
                log_.information("session=" + id_ + " lost connection after " +
                                 std::string(toString(state_)) + " from " + peer_.address);
                return false;
            case Transport::ReadStatus::Error:
                log_.information("session=" + id_ + " read error after " +
                                 std::string(toString(state_)) + " from " + peer_.address + ": " +
                                 result.error);
                return false;
        }
    }
}

TlsSessionEvent Session::event(TlsSessionEventKind kind) const {
    TlsSessionEvent e;
    e.kind = kind;
    e.at = std::chrono::system_clock::now();
    e.sessionId = id_;
    e.direction = Direction::Inbound;
    e.peerAddress = peer_.address;
    e.peerPort = peer_.port;
    e.localAddress = peer_.localAddress;
    e.localPort = peer_.localPort;
    e.peerName = clientName_;
    e.tls = tlsActive_;
    if (tlsActive_) {
        e.tlsVersion = tls_.version;
        e.cipher = tls_.cipher;
        e.cipherBits = tls_.cipherBits;
        e.group = tls_.group;
        e.serverName = tls_.serverName;
        if (tls_.clientCert) {
            e.peerCertSubject = tls_.clientCert->subject;
            e.peerCertIssuer = tls_.clientCert->issuer;
            e.peerCertSha256 = tls_.clientCert->sha256Fingerprint;
            e.peerCertSerial = tls_.clientCert->serial;
            e.peerCertVerified = tls_.clientCertVerified;
        }
    }
    return e;
}

void Session::publish(TlsSessionEvent e) const {
    if (services_.bus != nullptr) {
        services_.bus->publish(Event{std::move(e)});
    }
}

void Session::count(Counters::Counter Counters::*counter, std::uint64_t n) const {
    if (services_.counters != nullptr) {
        (services_.counters->*counter).fetch_add(n, std::memory_order_relaxed);
    }
}

void Session::refuse(const Refusal& refusal) {
    if (refusal.rule == "tls-required") {
        count(&Counters::rejectedTlsRequired);
    } else if (refusal.rule == "client-certificate-required") {
        count(&Counters::clientCertRejections);
    } else if (refusal.rule == "relay-denied") {
        count(&Counters::relayDenied);
    }
    reply(refusal.reply);
    log_.information("session=" + id_ + " reject: " + std::to_string(refusal.reply.code) + " " +
                     refusal.reply.enhanced + " " + refusal.reply.text + " from " + peer_.address +
                     " rule=" + refusal.rule);
    auto e = event(TlsSessionEventKind::PolicyDecision);
    e.rule = refusal.rule;
    e.reason = refusal.reason;
    e.success = false;
    publish(std::move(e));
    if (refusal.closeAfter) {
        enterState(SessionState::Closing);
    }
}

void Session::resetTransaction() {
    mail_ = {};
    recipients_.clear();
}

void Session::run() {
    count(&Counters::inboundConnections);
    if (services_.counters != nullptr) {
        services_.counters->openSessions.fetch_add(1);
    }
    try {
        auto connected = event(TlsSessionEventKind::Connected);
        publish(connected);
        log_.information("session=" + id_ + " connect from " + peer_.address + ":" +
                         std::to_string(peer_.port));
        serve();
    } catch (const std::exception& e) {
        log_.error("session=" + id_ + " failed: " + e.what());
        reply({421, "4.3.0", config_->gateway.hostname + " Error: internal error, closing"});
        flush();
    }
    try {
        flush();
        auto closed = event(TlsSessionEventKind::Closed);
        closed.durationMs = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::steady_clock::now() - started_)
                                .count();
        closed.bytesIn = bytesIn_;
        closed.bytesOut = bytesOut_;
        closed.commands = commands_;
        publish(closed);
        log_.information("session=" + id_ + " disconnect from " + peer_.address + " commands=" +
                         std::to_string(commands_) + " errors=" + std::to_string(errors_) +
                         " duration_ms=" + std::to_string(closed.durationMs));
    } catch (...) {
        // Nothing left to report to: the connection is going away.
    }
    if (services_.counters != nullptr) {
        services_.counters->openSessions.fetch_sub(1);
        if (tlsActive_) {
            services_.counters->openTlsSessions.fetch_sub(1);
        }
    }
}

void Session::serve() {
    reply({220, "", config_->gateway.hostname + " ESMTP tlsgate"});
    while (state_ != SessionState::Closing) {
        smtp::LineBuffer::Next line;
        if (!readLine(line, settings_.commandTimeout)) {
            return;
        }
        if (++commands_ > settings_.maxCommands) {
            refuse({{421, "4.7.0", config_->gateway.hostname + " Error: too many commands"},
                    "limit:max_commands",
                    "more than " + std::to_string(settings_.maxCommands) + " commands",
                    true});
            break;
        }
        if (line.status == smtp::LineBuffer::Status::TooLong) {
            reply({500, "5.5.2", "Error: line too long"});
        } else if (line.line.find_first_of(std::string_view("\0\r", 2)) != std::string::npos) {
            // NUL and bare CR have no place in a command; never let them reach a reply or a file.
            reply({500, "5.5.2", "Error: bad character in command"});
        } else {
            const smtp::Command command = smtp::parseCommand(line.line);
            const ReceiveTlsFacts facts{tlsActive_, tls_.clientCertPresented,
                                        tls_.clientCertVerified, tls_.clientCertVerifyError};
            const auto& table = commandTable();
            const auto spec = std::find_if(table.begin(), table.end(), [&](const CommandSpec& s) {
                return s.verb == command.verb;
            });
            if (spec == table.end()) {
                reply({502, "5.5.2", "Error: command not recognized"});
            } else if (auto refusal = checkCommand(settings_, command.verb, facts)) {
                refuse(*refusal);
            } else if ((spec->allowedIn & bit(state_)) == 0) {
                Reply r = spec->outOfOrder;
                if (command.verb == Verb::Mail && state_ != SessionState::Connected) {
                    r = {503, "5.5.1", "Error: nested MAIL command"};
                } else if (command.verb == Verb::Data && state_ == SessionState::Mail) {
                    r = {554, "5.5.1", "Error: no valid recipients"};
                }
                reply(r);
            } else {
                (this->*spec->proceed)(command);
            }
        }
        if (errors_ > settings_.maxErrors && state_ != SessionState::Closing) {
            refuse({{421, "4.7.0", config_->gateway.hostname + " Error: too many errors"},
                    "limit:max_errors",
                    "more than " + std::to_string(settings_.maxErrors) + " errors",
                    true});
        }
    }
}

void Session::onHelo(const smtp::Command& c) {
    if (c.argument.empty()) {
        reply({501, "5.5.4", "Syntax: HELO hostname"});
        return;
    }
    resetTransaction();
    clientName_ = c.argument.substr(0, 255);
    esmtp_ = false;
    reply({250, "", config_->gateway.hostname});
    enterState(SessionState::Ready);
}

void Session::onEhlo(const smtp::Command& c) {
    if (c.argument.empty()) {
        reply({501, "5.5.4", "Syntax: EHLO hostname"});
        return;
    }
    resetTransaction();
    clientName_ = c.argument.substr(0, 255);
    esmtp_ = true;
    const bool tlsAvailable = services_.tls != nullptr && services_.tls->current() != nullptr;
    std::vector<std::string> lines = {config_->gateway.hostname, "PIPELINING",
                                      "SIZE " + std::to_string(settings_.maxMessageSize)};
    const bool offer = offerStartTls(settings_.tlsLevel, tlsActive_, tlsAvailable);
    if (offer) {
        lines.push_back("STARTTLS");
    }
    lines.push_back("ENHANCEDSTATUSCODES");
    lines.push_back("8BITMIME");
    replyRaw(smtp::multilineWire(250, lines), 250);
    if (offer) {
        count(&Counters::startTlsAdvertised);
        publish(event(TlsSessionEventKind::StartTlsOffered));
    } else if (!tlsActive_) {
        auto e = event(TlsSessionEventKind::StartTlsOffered);
        e.success = false;  // not advertised, and why
        e.reason = settings_.tlsLevel == ReceiveTlsLevel::NoTls
                       ? "not advertised: receive.tls_level = none"
                       : "not advertised: no usable server certificate";
        publish(std::move(e));
    }
    enterState(SessionState::Ready);
}

void Session::onStartTls(const smtp::Command& c) {
    if (settings_.tlsLevel == ReceiveTlsLevel::NoTls) {
        reply({502, "5.5.1", "Error: command not implemented"});
        return;
    }
    if (tlsActive_) {
        reply({503, "5.5.1", "Error: TLS already active"});
        return;
    }
    if (!c.argument.empty()) {
        reply({501, "5.5.4", "Syntax: STARTTLS"});
        return;
    }
    if (state_ == SessionState::Connected) {
        reply({503, "5.5.1", "Error: send EHLO first"});
        return;
    }
    if (state_ == SessionState::Mail || state_ == SessionState::Rcpt) {
        reply({503, "5.5.1", "Error: MAIL transaction in progress"});
        return;
    }
    tlsContext_ = services_.tls != nullptr ? services_.tls->current() : nullptr;
    if (!tlsContext_) {
        reply({454, "4.7.0", "TLS not available due to local problem"});
        log_.warning("session=" + id_ + " STARTTLS refused: no usable server certificate");
        return;
    }
    reply({220, "2.0.0", "Ready to start TLS"});
    if (!flush()) {
        enterState(SessionState::Closing);
        return;
    }
    // Anything pipelined after STARTTLS was sent in plaintext: it must never be executed inside
    // the TLS session (CVE-2011-0411).
    if (input_.buffered() > 0) {
        log_.warning("session=" + id_ + " discarding " + std::to_string(input_.buffered()) +
                     " bytes pipelined after STARTTLS from " + peer_.address);
        input_.clear();
    }
    transport_.setTimeout(settings_.commandTimeout);
    count(&Counters::startTlsStarted);
    tls_ = transport_.startTls(*tlsContext_);
    if (!tls_.ok) {
        count(&Counters::inboundHandshakesFailed);
        log_.information("session=" + id_ + " TLS handshake failed from " + peer_.address + ": " +
                         tls_.error);
        auto e = event(TlsSessionEventKind::HandshakeFailed);
        e.reason = tls_.error;
        e.success = false;
        publish(std::move(e));
        tls_ = {};
        enterState(SessionState::Closing);
        return;
    }
    tlsActive_ = true;
    if (services_.counters != nullptr) {
        services_.counters->openTlsSessions.fetch_add(1);
    }
    logTlsEstablished();
    publish(event(TlsSessionEventKind::HandshakeSucceeded));
    if (tls_.clientCertPresented) {
        count(&Counters::clientCertsPresented);
        count(tls_.clientCertVerified ? &Counters::clientCertsVerified
                                      : &Counters::clientCertsFailed);
        auto e = event(TlsSessionEventKind::ClientCertificate);
        e.success = tls_.clientCertVerified;
        e.reason = tls_.clientCertVerified ? "verified" : tls_.clientCertVerifyError;
        publish(std::move(e));
    }
    // RFC 3207 4.2: forget everything learned before TLS; the client must say EHLO again.
    resetTransaction();
    clientName_.clear();
    enterState(SessionState::Connected);
}

void Session::logTlsEstablished() const {
    const char* trust = !tls_.clientCertPresented ? "Anonymous"
                        : tls_.clientCertVerified ? "Trusted"
                                                  : "Untrusted";
    std::string line = "session=" + id_ + " " + trust + " TLS connection established from " +
                       (clientName_.empty() ? "unknown" : clientName_) + "[" + peer_.address +
                       "]: " + tls_.version + " with cipher " + tls_.cipher + " (" +
                       std::to_string(tls_.cipherBits) + "/" + std::to_string(tls_.cipherBits) +
                       " bits)";
    if (!tls_.group.empty()) {
        line += " key-exchange " + tls_.group;
    }
    if (!tls_.serverName.empty()) {
        line += " sni=" + tls_.serverName;
    }
    if (tls_.clientCert) {
        line +=
            " client_subject=\"" + tls_.clientCert->subject +
            "\" client_sha256=" + tls_.clientCert->sha256Fingerprint +
            (tls_.clientCertVerified ? "" : " verify_error=\"" + tls_.clientCertVerifyError + "\"");
    }
    log_.information(line);
}

void Session::onMail(const smtp::Command& c) {
    auto parsed = smtp::parseMailArgument(c.argument, settings_.maxMessageSize);
    if (auto* error = std::get_if<Reply>(&parsed)) {
        reply(*error);
        return;
    }
    mail_ = std::get<smtp::MailParameters>(parsed);
    reply({250, "2.1.0", "Ok"});
    enterState(SessionState::Mail);
}

void Session::onRcpt(const smtp::Command& c) {
    auto parsed = smtp::parseRcptArgument(c.argument);
    if (auto* error = std::get_if<Reply>(&parsed)) {
        reply(*error);
        return;
    }
    const std::string& recipient = std::get<std::string>(parsed);
    if (static_cast<int>(recipients_.size()) >= settings_.maxRecipients) {
        reply({452, "4.5.3", "Error: too many recipients"});
        return;
    }
    if (auto refusal = checkRelay(settings_, peer_.address, recipient)) {
        refuse(*refusal);
        return;
    }
    recipients_.push_back(recipient);
    reply({250, "2.1.5", "Ok"});
    enterState(SessionState::Rcpt);
}

void Session::onData(const smtp::Command& c) {
    if (!c.argument.empty()) {
        reply({501, "5.5.4", "Syntax: DATA"});
        return;
    }
    if (services_.spool == nullptr) {
        reply({451, "4.3.0", "Error: queue not available"});
        return;
    }
    Envelope envelope;
    envelope.sender = mail_.reversePath;
    envelope.recipients = recipients_;
    envelope.sessionId = id_;
    envelope.clientAddress = peer_.address;
    envelope.clientName = clientName_;
    envelope.tls = tlsActive_;
    envelope.tlsVersion = tls_.version;
    envelope.tlsCipher = tls_.cipher;
    envelope.clientCertSha256 = tls_.clientCert ? tls_.clientCert->sha256Fingerprint : "";
    envelope.eightBitMime = mail_.eightBitMime;
    envelope.received = std::chrono::system_clock::now();

    std::optional<Spool::Writer> writer;
    std::string spoolError;
    bool noSpace = false;
    try {
        writer.emplace(services_.spool->begin(envelope));
        writer->append(receivedHeader(writer->queueId()));
    } catch (const SpoolError& e) {
        spoolError = e.what();
        noSpace = e.noSpace();
        writer.reset();
    }
    if (!writer) {
        log_.error("session=" + id_ + " cannot spool: " + spoolError);
        reply(noSpace ? Reply{452, "4.3.1", "Insufficient system storage"}
                      : Reply{451, "4.3.0", "Error: queue file write error"});
        return;
    }
    reply({354, "", "End data with <CR><LF>.<CR><LF>"});
    enterState(SessionState::Data);
    input_.setMaxLineLength(settings_.textLineLimit - 2);  // the limits count the CRLF
    smtp::DataReader reader(settings_.maxMessageSize);
    std::string chunk;
    bool complete = false;
    while (!complete) {
        smtp::LineBuffer::Next line;
        if (!readLine(line, settings_.dataTimeout)) {
            enterState(SessionState::Closing);
            return;  // the writer's destructor drops the partial message: never acknowledged
        }
        chunk.clear();
        complete = reader.feed(line, chunk) == smtp::DataReader::Result::End;
        if (!chunk.empty() && spoolError.empty()) {
            try {
                writer->append(chunk);
            } catch (const SpoolError& e) {
                spoolError = e.what();
                noSpace = e.noSpace();
            }
        }
    }
    input_.setMaxLineLength(settings_.commandLineLimit - 2);
    enterState(SessionState::Ready);
    const std::vector<std::string> recipients = std::move(recipients_);
    const std::string sender = mail_.reversePath;
    resetTransaction();
    if (reader.tooBig() || reader.sawTooLongLine()) {
        count(&Counters::messagesRejected);
    }
    if (reader.tooBig()) {
        reply({552, "5.3.4", "Error: message file too big"});
        return;
    }
    if (reader.sawTooLongLine()) {
        reply({552, "5.3.4",
               "Error: message line longer than " + std::to_string(settings_.textLineLimit) +
                   " characters"});
        return;
    }
    std::string queueId;
    if (spoolError.empty()) {
        try {
            queueId = writer->commit();
        } catch (const SpoolError& e) {
            spoolError = e.what();
            noSpace = e.noSpace();
        }
    }
    if (!spoolError.empty()) {
        log_.error("session=" + id_ + " cannot spool: " + spoolError);
        reply(noSpace ? Reply{452, "4.3.1", "Insufficient system storage"}
                      : Reply{451, "4.3.0", "Error: queue file write error"});
        return;
    }
    log_.information("session=" + id_ + " queued " + queueId + " from=<" + sender + "> nrcpt=" +
                     std::to_string(recipients.size()) + " size=" + std::to_string(reader.size()) +
                     (tlsActive_ ? " tls=" + tls_.version : std::string(" tls=none")));
    count(&Counters::messagesAccepted);
    count(&Counters::bytesAccepted, reader.size());
    auto e = event(TlsSessionEventKind::MessageAccepted);
    e.queueId = queueId;
    e.messageSize = reader.size();
    e.sender = sender;
    e.recipientCount = static_cast<int>(recipients.size());
    publish(std::move(e));
    reply({250, "2.0.0", "Ok: queued as " + queueId});
    if (services_.onMessageQueued) {
        services_.onMessageQueued(queueId);
    }
}

void Session::onRset(const smtp::Command&) {
    resetTransaction();
    reply({250, "2.0.0", "Ok"});
    if (state_ != SessionState::Connected) {
        enterState(SessionState::Ready);
    }
}

void Session::onNoop(const smtp::Command&) {
    reply({250, "2.0.0", "Ok"});
}

void Session::onQuit(const smtp::Command&) {
    reply({221, "2.0.0", "Bye"});
    enterState(SessionState::Closing);
}

void Session::onVrfy(const smtp::Command& c) {
    if (c.argument.empty()) {
        reply({501, "5.5.4", "Syntax: VRFY address"});
        return;
    }
    reply({252, "2.0.0", "Cannot VRFY user, but will accept message and attempt delivery"});
}

void Session::onHelp(const smtp::Command&) {
    reply({214, "2.0.0", "Commands: HELO EHLO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP STARTTLS"});
}

std::string Session::receivedHeader(const std::string& queueId) const {
    std::string h = "Received: from " + headerSafe(clientName_.empty() ? "unknown" : clientName_) +
                    " (unknown [" + peer_.address + "])\r\n";
    if (tlsActive_) {
        h += "\t(using " + tls_.version + " with cipher " + tls_.cipher + " (" +
             std::to_string(tls_.cipherBits) + "/" + std::to_string(tls_.cipherBits) + " bits)";
        if (!tls_.group.empty()) {
            h += "\r\n\t key-exchange " + tls_.group;
        }
        h += ")\r\n";
        if (settings_.clientCertificate == ClientCertMode::DoNotRequest) {
            h += "\t(No client certificate requested)\r\n";
        } else if (!tls_.clientCert) {
            h += "\t(Client did not present a certificate)\r\n";
        } else {
            h += "\t(Client CN \"" + headerSafe(tls_.clientCert->commonName) + "\", Issuer \"" +
                 headerSafe(tls_.clientCert->issuer) + "\" (" +
                 (tls_.clientCertVerified
                      ? std::string("verified OK")
                      : "not verified: " + headerSafe(tls_.clientCertVerifyError)) +
                 "))\r\n";
        }
    }
    h += "\tby " + config_->gateway.hostname + " (tlsgate) with " +
         std::string(esmtp_ ? (tlsActive_ ? "ESMTPS" : "ESMTP") : (tlsActive_ ? "SMTPS" : "SMTP")) +
         " id " + queueId + "\r\n";
    if (recipients_.size() == 1) {
        h += "\tfor <" + headerSafe(recipients_.front()) + ">";
    }
    h += "; " + smtp::rfc5322Date(std::chrono::system_clock::now()) + "\r\n";
    return h;
}

}  // namespace tlsgate::gateway
