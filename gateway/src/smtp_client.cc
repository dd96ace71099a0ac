// The sending side's SMTP client: the client TLS context from the certificate store, one SMTP
// transaction with one next-hop address (EHLO, STARTTLS under the send policy, MAIL/RCPT/DATA,
// QUIT), and the cache of idle connections reused by the next transaction to the same host.
// Called on delivery worker threads; deliver() never throws: every failure (connection,
// timeout, protocol, TLS policy, the server's refusals) is an outcome with a reason.
// SSL writes can raise SIGPIPE on a closed socket: the process ignores SIGPIPE (main.cc).
#include "tlsgate/gateway/smtp_client.h"

#include "tls_util.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstring>
#include <string_view>
#include <utility>

#include "tlsgate/gateway/smtp_protocol.h"

namespace tlsgate::gateway {

using tls::handshakeError;
using tls::minProtocolVersion;
using tls::setupError;

namespace {

using certmgr::drainOpensslErrors;

constexpr std::size_t kMaxReplyLineLength = 4096;
constexpr std::size_t kMaxReplyLines = 100;
constexpr std::size_t kBodyChunk = 64 * 1024;
/// How long to wait for the answer to QUIT: the message is settled, a slow goodbye is not worth
/// a worker's time.
constexpr std::chrono::seconds kQuitTimeout{10};

/// The handshake never fails over the certificate (SSL_VERIFY_NONE); the policy reads
/// SSL_get_verify_result() afterwards. A name mismatch is found before the signatures and dates
/// are checked, so verification goes on past it: X509_V_ERR_HOSTNAME_MISMATCH as the final result
/// then means "the chain verified, only the name did not match". Any other error stops there.
int continuePastNameMismatch(int preverifyOk, X509_STORE_CTX* ctx) {
    return preverifyOk != 0 || X509_STORE_CTX_get_error(ctx) == X509_V_ERR_HOSTNAME_MISMATCH ? 1
                                                                                             : 0;
}

/// The connection became unusable (closed, reset, timed out) while doing `phase`.
class ConnectionLost : public std::runtime_error {
  public:
    explicit ConnectionLost(const std::string& phase) : std::runtime_error(phase) {}
};

/// The server answered something that is not an SMTP reply.
class ProtocolError : public std::runtime_error {
  public:
    ProtocolError(std::string phase, const std::string& what)
        : std::runtime_error(what), phase_(std::move(phase)) {}
    const std::string& phase() const { return phase_; }

  private:
    std::string phase_;
};

/// Server text goes into logs and DSNs: no control characters, bounded length.
std::string printable(std::string_view text, std::size_t limit = 512) {
    std::string out;
    for (char c : text.substr(0, limit)) {
        const auto byte = static_cast<unsigned char>(c);
        out += byte < 0x20 || byte == 0x7f ? '?' : c;
    }
    if (text.size() > limit) {
        out += "...";
    }
    return out;
}

/// One SMTP reply as the server sent it: the code and the text of every line.
struct ServerReply {
    int code = 0;
    std::vector<std::string> lines;  ///< text after "250-" / "250 "

    int kind() const { return code / 100; }
    /// "550 5.1.1 no such user", continuation lines joined with spaces.
    std::string text() const {
        std::string out = std::to_string(code);
        for (const auto& line : lines) {
            if (!line.empty()) {
                out += ' ';
                out += printable(line);
            }
        }
        return out;
    }
};

/// What EHLO announced.
struct Extensions {
    bool startTls = false;
    bool pipelining = false;
    bool eightBitMime = false;
    bool sizeOffered = false;
    std::uint64_t sizeLimit = 0;  ///< 0: SIZE without a (positive) limit
};

Extensions parseExtensions(const ServerReply& reply) {
    Extensions ext;
    for (std::size_t i = 1; i < reply.lines.size(); ++i) {  // the first line is the greeting
        std::string_view line = reply.lines[i];
        const std::size_t space = line.find(' ');
        std::string keyword(line.substr(0, space));
        std::transform(keyword.begin(), keyword.end(), keyword.begin(),
                       [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
        std::string_view parameter =
            space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
        if (keyword == "STARTTLS") {
            ext.startTls = true;
        } else if (keyword == "PIPELINING") {
            ext.pipelining = true;
        } else if (keyword == "8BITMIME") {
            ext.eightBitMime = true;
        } else if (keyword == "SIZE") {
            ext.sizeOffered = true;
            std::uint64_t limit = 0;
            bool numeric = !parameter.empty() && parameter.size() <= 19;
            for (char c : parameter) {
                numeric = numeric && c >= '0' && c <= '9';
                limit = limit * 10 + static_cast<std::uint64_t>(c - '0');
            }
            ext.sizeLimit = numeric ? limit : 0;
        }
    }
    return ext;
}

/// A host that is an IP literal gets no SNI (RFC 6066) and is checked as an address.
bool isIpLiteral(const std::string& host) {
    unsigned char buffer[sizeof(in6_addr)];
    return inet_pton(AF_INET, host.c_str(), buffer) == 1 ||
           inet_pton(AF_INET6, host.c_str(), buffer) == 1;
}

/// The name used for SNI and the certificate check: without a trailing root dot.
std::string checkedName(const std::string& host) {
    if (!host.empty() && host.back() == '.') {
        return host.substr(0, host.size() - 1);
    }
    return host;
}

timeval toTimeval(std::chrono::seconds timeout) {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(std::max<std::chrono::seconds::rep>(timeout.count(), 1));
    return tv;
}

/// One TCP connection, plaintext or TLS after STARTTLS. Read and write failures throw
/// ConnectionLost, malformed replies ProtocolError. The SSL object goes before the socket.
class Connection {
  public:
    Connection() = default;
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;
    ~Connection() {
        ssl_.reset();
        if (fd_ >= 0) {
            ::close(fd_);
        }
    }

    /// Connects within `connectTimeout`; returns the reason on failure, empty on success.
    std::string connect(const std::string& address, std::uint16_t port,
                        std::chrono::seconds connectTimeout, std::chrono::seconds commandTimeout) {
        std::string numeric = address;
        if (numeric.size() > 2 && numeric.front() == '[' && numeric.back() == ']') {
            numeric = numeric.substr(1, numeric.size() - 2);
        }
        addrinfo hints{};
        hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
        hints.ai_socktype = SOCK_STREAM;
        addrinfo* found = nullptr;
        const int rc = ::getaddrinfo(numeric.c_str(), std::to_string(port).c_str(), &hints, &found);
        if (rc != 0 || found == nullptr) {
            return std::string("not a numeric address: ") + ::gai_strerror(rc);
        }
        std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owner(found, ::freeaddrinfo);

        fd_ = ::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd_ < 0) {
            return std::strerror(errno);
        }
        if (::connect(fd_, found->ai_addr, found->ai_addrlen) != 0) {
            if (errno != EINPROGRESS) {
                return std::strerror(errno);
            }
            const auto deadline = std::chrono::steady_clock::now() + connectTimeout;
            for (;;) {
                const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now());
                if (left.count() <= 0) {
                    return "connection timed out";
                }
                pollfd pfd{fd_, POLLOUT, 0};
                const int ready = ::poll(&pfd, 1, static_cast<int>(left.count()));
                if (ready > 0) {
                    break;
                }
                if (ready < 0 && errno != EINTR) {
                    return std::strerror(errno);
                }
            }
            int error = 0;
            socklen_t length = sizeof error;
            if (::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &length) != 0) {
                return std::strerror(errno);
            }
            if (error != 0) {
                return std::strerror(error);
            }
        }
        const int flags = ::fcntl(fd_, F_GETFL);
        if (flags < 0 || ::fcntl(fd_, F_SETFL, flags & ~O_NONBLOCK) != 0) {
            return std::strerror(errno);
        }
        const int one = 1;
        ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (!setTimeout(commandTimeout)) {
            return std::strerror(errno);
        }
        return {};
    }

    bool setTimeout(std::chrono::seconds timeout) {
        timeout_ = timeout;
        const timeval tv = toTimeval(timeout);
        return ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0 &&
               ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) == 0;
    }

    void send(std::string_view data, const std::string& phase) {
        while (!data.empty()) {
            if (ssl_) {
                ERR_clear_error();
                const int chunk = static_cast<int>(std::min<std::size_t>(data.size(), INT_MAX));
                const int n = SSL_write(ssl_.get(), data.data(), chunk);
                if (n <= 0) {
                    drainOpensslErrors();
                    throw ConnectionLost(phase);
                }
                data.remove_prefix(static_cast<std::size_t>(n));
            } else {
                const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
                if (n < 0 && errno == EINTR) {
                    continue;
                }
                if (n <= 0) {
                    throw ConnectionLost(phase);
                }
                data.remove_prefix(static_cast<std::size_t>(n));
            }
        }
    }

    /// Reads one (possibly multi-line) reply: at most 100 lines of at most 4096 characters.
    /// The whole reply must arrive within the command timeout: a next hop dribbling one byte at a
    /// time does not hold a worker for longer (the socket timeout alone bounds each read only).
    ServerReply readReply(const std::string& phase) {
        ServerReply reply;
        const auto deadline = std::chrono::steady_clock::now() + timeout_;
        for (;;) {
            smtp::LineBuffer::Next next = lines_.next();
            if (next.status == smtp::LineBuffer::Status::TooLong) {
                throw ProtocolError(phase, "reply line longer than " +
                                               std::to_string(kMaxReplyLineLength) + " characters");
            }
            if (next.status == smtp::LineBuffer::Status::NeedMore) {
                const auto left = std::chrono::duration_cast<std::chrono::microseconds>(
                    deadline - std::chrono::steady_clock::now());
                if (left.count() <= 0) {
                    throw ConnectionLost(phase + " (no complete reply within " +
                                         std::to_string(timeout_.count()) + " s)");
                }
                timeval tv{};
                tv.tv_sec = static_cast<time_t>(left.count() / 1000000);
                tv.tv_usec = static_cast<suseconds_t>(left.count() % 1000000);
                ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
                char buffer[4096];
                const std::size_t n = receive(buffer, sizeof buffer);
                if (n == 0) {
                    throw ConnectionLost(phase);
                }
                lines_.append(std::string_view(buffer, n));
                continue;
            }
            const std::string& line = next.line;
            const bool wellFormed = line.size() >= 3 && line[0] >= '2' && line[0] <= '5' &&
                                    std::isdigit(static_cast<unsigned char>(line[1])) != 0 &&
                                    std::isdigit(static_cast<unsigned char>(line[2])) != 0 &&
                                    (line.size() == 3 || line[3] == ' ' || line[3] == '-');
            if (!wellFormed) {
                throw ProtocolError(phase, "malformed reply \"" + printable(line, 100) + "\"");
            }
            const int code = std::stoi(line.substr(0, 3));
            if (!reply.lines.empty() && code != reply.code) {
                throw ProtocolError(phase, "reply code changed within a multi-line reply: \"" +
                                               printable(line, 100) + "\"");
            }
            reply.code = code;
            reply.lines.push_back(line.size() > 4 ? line.substr(4) : std::string());
            if (line.size() == 3 || line[3] == ' ') {
                return reply;
            }
            if (reply.lines.size() >= kMaxReplyLines) {
                throw ProtocolError(
                    phase, "reply longer than " + std::to_string(kMaxReplyLines) + " lines");
            }
        }
    }

    /// Runs the client handshake for `host`; returns the reason on failure, empty on success.
    std::string startTls(SSL_CTX& ctx, const std::string& host) {
        // Plaintext that followed the 220 must never be read as part of the TLS session.
        lines_.clear();
        ERR_clear_error();
        SslPtr ssl(SSL_new(&ctx));
        if (!ssl) {
            return "allocating a TLS session: " + drainOpensslErrors();
        }
        if (SSL_set_fd(ssl.get(), fd_) != 1) {
            return "attaching the socket: " + drainOpensslErrors();
        }
        const std::string name = checkedName(host);
        X509_VERIFY_PARAM* param = SSL_get0_param(ssl.get());
        if (isIpLiteral(name)) {
            if (X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str()) != 1) {
                return "setting the address to verify: " + drainOpensslErrors();
            }
        } else if (!name.empty()) {
            // SSL_set_tlsext_host_name() without its C-style cast.
            if (SSL_ctrl(ssl.get(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                         const_cast<char*>(name.c_str())) != 1) {
                return "setting the server name (SNI): " + drainOpensslErrors();
            }
            X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
            if (X509_VERIFY_PARAM_set1_host(param, name.c_str(), name.size()) != 1) {
                return "setting the name to verify: " + drainOpensslErrors();
            }
        }
        errno = 0;
        const int rc = SSL_connect(ssl.get());
        const int savedErrno = errno;
        if (rc != 1) {
            return handshakeError(*ssl, rc, savedErrno);
        }
        ssl_ = std::move(ssl);
        return {};
    }

    SSL* ssl() const { return ssl_.get(); }

    /// QUIT and close_notify without waiting for any answer (closing an idle cached connection).
    void quitNoWait() noexcept {
        try {
            setTimeout(std::chrono::seconds(1));
            send("QUIT\r\n", "sending QUIT");
            shutdownTls();
        } catch (const std::exception&) {
        }
        drainOpensslErrors();
    }

    /// Sends close_notify; errors are of no interest any more.
    void shutdownTls() {
        if (ssl_) {
            SSL_shutdown(ssl_.get());
            drainOpensslErrors();
        }
    }

  private:
    /// Reads what is there (blocking up to the receive timeout); 0 on end, error or timeout.
    std::size_t receive(char* buffer, std::size_t size) {
        if (ssl_) {
            ERR_clear_error();
            const int n = SSL_read(ssl_.get(), buffer, static_cast<int>(size));
            if (n > 0) {
                return static_cast<std::size_t>(n);
            }
            drainOpensslErrors();
            return 0;
        }
        for (;;) {
            const ssize_t n = ::recv(fd_, buffer, size, 0);
            if (n > 0) {
                return static_cast<std::size_t>(n);
            }
            if (n < 0 && errno == EINTR) {
                continue;
            }
            return 0;
        }
    }

    int fd_ = -1;
    SslPtr ssl_;
    std::chrono::seconds timeout_{300};
    smtp::LineBuffer lines_{kMaxReplyLineLength};
};

}  // namespace

/// An idle connection and what its first transaction established on it.
struct ConnectionCache::Entry {
    std::string key;
    std::unique_ptr<Connection> connection;
    std::shared_ptr<const ClientTlsContext> tls;  ///< the context it was made with stays alive
    Extensions ext;
    SendTlsFacts facts;
    bool tlsUsed = false;
    std::string tlsVersion;
    std::string tlsCipher;
    std::optional<certmgr::CertificateInfo> serverCert;
    int uses = 0;  ///< transactions so far
    std::chrono::steady_clock::time_point idleSince;
};

namespace {

/// What a cached connection must match to be reused: the name (SNI and the certificate check),
/// the address and port, the TLS level actually applied, our EHLO name, the client context.
std::string cacheKey(const DeliveryRequest& request) {
    const SendTlsLevel level = request.forcePlain ? SendTlsLevel::NoTls : request.level;
    return request.host + '\n' + request.address + '\n' + std::to_string(request.port) + '\n' +
           std::to_string(static_cast<int>(level)) + '\n' + request.heloName + '\n' +
           std::to_string(reinterpret_cast<std::uintptr_t>(request.tls.get()));
}

/// One transaction: the steps in order; each either goes on or settles `result_` and stops.
class Client {
  public:
    Client(const DeliveryRequest& request, DeliveryResult& result)
        : request_(request), result_(result) {}

    void run() {
        if (request_.cache != nullptr && resume()) {
            send();
            return;
        }
        connection_ = std::make_unique<Connection>();
        const std::string error = connection_->connect(
            request_.address, request_.port, request_.connectTimeout, request_.commandTimeout);
        if (!error.empty()) {
            settle(DeliveryOutcome::Deferred, "4.4.1 connect to " + peer() + ":" +
                                                  std::to_string(request_.port) + ": " + error);
            return;
        }
        result_.connected = true;
        const ServerReply greeting = connection_->readReply("receiving the initial greeting");
        if (greeting.kind() != 2) {
            // Even a 554 greeting speaks for this host only (RFC 5321 3.1): try the next one.
            settle(DeliveryOutcome::Deferred, "host " + peer() + " said: " + greeting.text());
            quit();
            return;
        }
        if (!hello(ext_)) {
            return;
        }
        SendTlsFacts& facts = result_.tlsFacts;
        facts.startTlsOffered = ext_.startTls;
        const SendTlsLevel level = request_.forcePlain ? SendTlsLevel::NoTls : request_.level;
        SendDecision decision;
        if (!request_.tls && level != SendTlsLevel::NoTls) {
            // No client context: STARTTLS cannot happen whatever the host offers.
            if (level == SendTlsLevel::Attempt) {
                decision.action = SendAction::SendPlain;
            } else {
                decision.reason =
                    "4.7.4 TLS is required, but is not available locally (no client TLS "
                    "context) to send to host " +
                    peer();
            }
        } else {
            decision = decideAfterEhlo(level, facts);
        }
        if (decision.action == SendAction::Defer) {
            result_.policyDeferred = true;
            settle(DeliveryOutcome::Deferred, decision.reason);
            quit();
            return;
        }
        if (decision.action == SendAction::StartTls && (!startTls(level) || !hello(ext_))) {
            return;
        }
        send();
    }

    /// The size check against what the server announced, then the transaction.
    void send() {
        if (ext_.sizeOffered && ext_.sizeLimit > 0 && request_.size > ext_.sizeLimit) {
            settle(DeliveryOutcome::Failed,
                   "5.3.4 message size exceeds the limit of " + request_.host);
            quit();
            return;
        }
        transaction(ext_);
    }

  private:
    std::string peer() const { return request_.host + "[" + request_.address + "]"; }

    std::string said(const ServerReply& reply, std::string_view command) const {
        return "host " + peer() + " said: " + reply.text() + " (in reply to " +
               std::string(command) + " command)";
    }

    void settle(DeliveryOutcome outcome, std::string reason) {
        result_.outcome = outcome;
        result_.reason = std::move(reason);
    }

    /// 4xx: Deferred; 5xx: Failed; anything else unexpected: Deferred.
    void settleByReply(const ServerReply& reply, std::string_view command) {
        settle(reply.kind() == 5 ? DeliveryOutcome::Failed : DeliveryOutcome::Deferred,
               said(reply, command));
    }

    /// EHLO, or HELO when EHLO is refused with 5xx. False when the result is settled.
    bool hello(Extensions& ext) {
        const std::string phase = "performing the EHLO handshake";
        connection_->send("EHLO " + request_.heloName + "\r\n", phase);
        ServerReply reply = connection_->readReply(phase);
        std::string_view command = "EHLO";
        ext = Extensions();
        if (reply.kind() == 5) {
            const std::string heloPhase = "performing the HELO handshake";
            connection_->send("HELO " + request_.heloName + "\r\n", heloPhase);
            reply = connection_->readReply(heloPhase);
            command = "HELO";
        } else if (reply.kind() == 2) {
            ext = parseExtensions(reply);
        }
        if (reply.kind() != 2) {
            // The host refuses to talk to us, not the message: another host may take it.
            settle(DeliveryOutcome::Deferred, said(reply, command));
            quit();
            return false;
        }
        return true;
    }

    /// STARTTLS, the handshake, the facts and the policy. False when the result is settled.
    bool startTls(SendTlsLevel level) {
        SendTlsFacts& facts = result_.tlsFacts;
        facts.handshakeAttempted = true;
        const std::string phase = "sending STARTTLS";
        connection_->send("STARTTLS\r\n", phase);
        const ServerReply reply = connection_->readReply(phase);
        bool plaintextUsable = false;
        if (reply.code != 220) {
            facts.handshakeError = "STARTTLS refused: " + reply.text();
            plaintextUsable = true;
        } else {
            facts.handshakeError = connection_->startTls(*request_.tls->get(), request_.host);
            facts.handshakeOk = facts.handshakeError.empty();
        }
        if (facts.handshakeOk) {
            recordSession(*connection_->ssl());
        }
        const SendDecision decision = decideAfterHandshake(level, facts);
        switch (decision.action) {
            case SendAction::SendTls:
                result_.tlsUsed = true;
                return true;
            case SendAction::RetryPlain:
                settle(DeliveryOutcome::RetryPlain, decision.reason);
                break;
            default:
                result_.policyDeferred = true;
                settle(DeliveryOutcome::Deferred, decision.reason);
                break;
        }
        if (facts.handshakeOk || plaintextUsable) {
            quit();
        }
        return false;
    }

    /// What the handshake established: version, cipher, certificate, verification.
    void recordSession(SSL& ssl) {
        SendTlsFacts& facts = result_.tlsFacts;
        result_.tlsVersion = SSL_get_version(&ssl);
        if (const SSL_CIPHER* cipher = SSL_get_current_cipher(&ssl)) {
            result_.tlsCipher = SSL_CIPHER_get_name(cipher);
        }
        certmgr::X509Ptr cert(SSL_get1_peer_certificate(&ssl));
        if (!cert) {
            facts.verifyError = "no server certificate";
            return;
        }
        try {
            result_.serverCert = certmgr::inspect(*cert);
        } catch (const std::exception&) {
            drainOpensslErrors();  // the facts below do not depend on it
        }
        const long verify = SSL_get_verify_result(&ssl);
        if (verify == X509_V_OK) {
            facts.chainVerified = true;
            facts.nameMatched = true;
        } else if (verify == X509_V_ERR_HOSTNAME_MISMATCH) {
            facts.chainVerified = true;  // verification went on past the name (see the callback)
        } else {
            facts.verifyError = X509_verify_cert_error_string(verify);
            const std::string name = checkedName(request_.host);
            facts.nameMatched =
                isIpLiteral(name)
                    ? X509_check_ip_asc(cert.get(), name.c_str(), 0) == 1
                    : X509_check_host(cert.get(), name.c_str(), name.size(),
                                      X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, nullptr) == 1;
        }
        drainOpensslErrors();
    }

    /// MAIL, RCPT, DATA, the content and the final reply.
    void transaction(const Extensions& ext) {
        auto unsafe = [](const std::string& address) {
            return address.find_first_of("\r\n<>") != std::string::npos;
        };
        if (unsafe(request_.sender) ||
            std::any_of(request_.recipients.begin(), request_.recipients.end(), unsafe)) {
            settle(DeliveryOutcome::Failed, "5.1.7 address with line breaks or angle brackets");
            quit();
            return;
        }
        std::string mail = "MAIL FROM:<" + request_.sender + ">";
        if (ext.sizeOffered && request_.size > 0) {
            mail += " SIZE=" + std::to_string(request_.size);
        }
        if (request_.eightBitMime && ext.eightBitMime) {
            mail += " BODY=8BITMIME";
        }
        mail += "\r\n";
        const std::string mailPhase = "sending MAIL FROM";
        const std::string rcptPhase = "sending RCPT TO";
        const std::string dataPhase = "sending DATA";

        std::size_t accepted = 0;
        ServerReply dataReply;
        bool dataSent = false;
        if (ext.pipelining) {
            // RFC 2920: MAIL, every RCPT and DATA in one write; the replies come in order.
            std::string batch = mail;
            for (const auto& recipient : request_.recipients) {
                batch += "RCPT TO:<" + recipient + ">\r\n";
            }
            batch += "DATA\r\n";
            connection_->send(batch, mailPhase);
            const ServerReply mailReply = connection_->readReply(mailPhase);
            if (mailReply.kind() != 2) {
                settleByReply(mailReply, "MAIL FROM");
                // Every command of the group gets its reply: read them so QUIT is not taken for
                // part of a DATA section a careless server opened anyway.
                for (std::size_t i = 0; i < request_.recipients.size(); ++i) {
                    connection_->readReply(rcptPhase);
                }
                closeUnwantedData(connection_->readReply(dataPhase), dataPhase);
                quit();
                return;
            }
            for (auto& recipient : result_.recipients) {
                accepted += recordRecipient(recipient, connection_->readReply(rcptPhase));
            }
            dataReply = connection_->readReply(dataPhase);
            dataSent = true;
        } else {
            connection_->send(mail, mailPhase);
            const ServerReply mailReply = connection_->readReply(mailPhase);
            if (mailReply.kind() != 2) {
                settleByReply(mailReply, "MAIL FROM");
                quit();
                return;
            }
            for (auto& recipient : result_.recipients) {
                connection_->send("RCPT TO:<" + recipient.recipient + ">\r\n", rcptPhase);
                accepted += recordRecipient(recipient, connection_->readReply(rcptPhase));
            }
        }

        if (accepted == 0) {
            if (dataSent) {
                closeUnwantedData(dataReply, dataPhase);
            }
            settleNoRecipient();
            quit();
            return;
        }
        if (!dataSent) {
            connection_->send("DATA\r\n", dataPhase);
            dataReply = connection_->readReply(dataPhase);
        }
        if (dataReply.code != 354) {
            applyToAccepted(dataReply);
            settleByReply(dataReply, "DATA");
            quit();
            return;
        }
        sendContent();
        const ServerReply final = connection_->readReply(
            "waiting for the reply to the end of data (the message may arrive twice)");
        applyToAccepted(final);
        if (final.kind() == 2) {
            settle(DeliveryOutcome::Delivered, final.text());
        } else {
            settleByReply(final, "end of DATA");
        }
        release(final);
    }

    /// A pipelined DATA that should have been refused but got 354: end it at once, empty.
    void closeUnwantedData(const ServerReply& dataReply, const std::string& phase) {
        if (dataReply.code == 354) {
            connection_->send(".\r\n", phase);
            connection_->readReply(phase);
        }
    }

    /// Records one RCPT reply; returns 1 when the recipient was accepted.
    std::size_t recordRecipient(RecipientResult& recipient, const ServerReply& reply) {
        recipient.code = reply.code;
        recipient.reply = reply.text();
        if (reply.kind() == 2) {
            return 1;
        }
        return 0;
    }

    /// Recipients accepted at RCPT get the reply to DATA or to the end of data.
    void applyToAccepted(const ServerReply& reply) {
        for (auto& recipient : result_.recipients) {
            if (recipient.code / 100 == 2) {
                recipient.code = reply.code;
                recipient.reply = reply.text();
            }
        }
    }

    /// No recipient accepted: Failed when every refusal was permanent, else Deferred.
    void settleNoRecipient() {
        bool allPermanent = !result_.recipients.empty();
        const RecipientResult* first = nullptr;
        for (const auto& recipient : result_.recipients) {
            allPermanent = allPermanent && recipient.code / 100 == 5;
            if (first == nullptr && recipient.code / 100 != 2) {
                first = &recipient;
            }
        }
        std::string reason = first != nullptr ? "host " + peer() + " said: " + first->reply +
                                                    " (in reply to RCPT TO command)"
                                              : "no recipients";
        settle(allPermanent ? DeliveryOutcome::Failed : DeliveryOutcome::Deferred,
               std::move(reason));
    }

    /// The content dot-stuffed, bare LF made CRLF, ending with CRLF, then ".", in chunks.
    void sendContent() {
        const std::string phase = "sending message body";
        const std::string_view content =
            request_.content != nullptr ? std::string_view(*request_.content) : std::string_view();
        std::string chunk;
        chunk.reserve(kBodyChunk + 1024);
        std::size_t pos = 0;
        while (pos < content.size()) {
            const std::size_t lf = content.find('\n', pos);
            const std::size_t end = lf == std::string_view::npos ? content.size() : lf;
            std::string_view line = content.substr(pos, end - pos);
            if (lf != std::string_view::npos && !line.empty() && line.back() == '\r') {
                line.remove_suffix(1);
            }
            if (!line.empty() && line.front() == '.') {
                chunk += '.';
            }
            chunk += line;
            chunk += "\r\n";
            pos = lf == std::string_view::npos ? content.size() : lf + 1;
            if (chunk.size() >= kBodyChunk) {
                connection_->send(chunk, phase);
                chunk.clear();
            }
        }
        chunk += ".\r\n";
        connection_->send(chunk, phase);
    }

    /// QUIT, its reply and close_notify, within a short timeout; failures do not matter now.
    void quit() noexcept {
        try {
            connection_->setTimeout(std::min(request_.commandTimeout, kQuitTimeout));
            connection_->send("QUIT\r\n", "sending QUIT");
            connection_->readReply("sending QUIT");
            connection_->shutdownTls();
        } catch (const std::exception&) {
        }
        drainOpensslErrors();
    }

    /// A cached connection for this request that answers RSET with 250; false when there is
    /// none (every one that fails the check is closed).
    bool resume() {
        const std::string phase = "checking a cached connection";
        while (auto entry = request_.cache->take(cacheKey(request_))) {
            try {
                entry->connection->setTimeout(std::min(request_.commandTimeout, kQuitTimeout));
                entry->connection->send("RSET\r\n", phase);
                if (entry->connection->readReply(phase).code != 250 ||
                    !entry->connection->setTimeout(request_.commandTimeout)) {
                    entry->connection->quitNoWait();
                    continue;
                }
            } catch (const std::exception&) {
                drainOpensslErrors();
                continue;  // closed by the server meanwhile: the entry closes the socket
            }
            connection_ = std::move(entry->connection);
            tls_ = std::move(entry->tls);
            ext_ = entry->ext;
            uses_ = entry->uses;
            result_.connected = true;
            result_.reused = true;
            result_.tlsFacts = entry->facts;
            result_.tlsUsed = entry->tlsUsed;
            result_.tlsVersion = entry->tlsVersion;
            result_.tlsCipher = entry->tlsCipher;
            result_.serverCert = entry->serverCert;
            return true;
        }
        return false;
    }

    /// After the reply to the end of data: the connection goes to the cache for the next
    /// message to this host, or is closed with QUIT.
    void release(const ServerReply& last) {
        if (request_.cache == nullptr || last.code == 421 ||
            uses_ + 1 >= request_.cache->limits().maxUses) {
            quit();
            return;
        }
        auto entry = std::make_unique<ConnectionCache::Entry>();
        entry->key = cacheKey(request_);
        entry->connection = std::move(connection_);
        entry->tls = tls_ ? tls_ : request_.tls;
        entry->ext = ext_;
        entry->facts = result_.tlsFacts;
        entry->tlsUsed = result_.tlsUsed;
        entry->tlsVersion = result_.tlsVersion;
        entry->tlsCipher = result_.tlsCipher;
        entry->serverCert = result_.serverCert;
        entry->uses = uses_ + 1;
        request_.cache->put(std::move(entry));
    }

    const DeliveryRequest& request_;
    DeliveryResult& result_;
    std::unique_ptr<Connection> connection_;
    std::shared_ptr<const ClientTlsContext> tls_;  ///< of a reused connection
    Extensions ext_;                               ///< what the server announced
    int uses_ = 0;                                 ///< earlier transactions on this connection
};

}  // namespace

ConnectionCache::ConnectionCache(Limits limits) : limits_(limits) {}

ConnectionCache::~ConnectionCache() {
    clear();
}

std::unique_ptr<ConnectionCache::Entry> ConnectionCache::take(const std::string& key) {
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mutex_);
    for (auto it = idle_.rbegin(); it != idle_.rend(); ++it) {
        if ((*it)->key == key && now - (*it)->idleSince < limits_.idleTime) {
            std::unique_ptr<Entry> entry = std::move(*it);
            idle_.erase(std::next(it).base());
            return entry;
        }
    }
    return nullptr;
}

void ConnectionCache::put(std::unique_ptr<Entry> entry) {
    std::unique_ptr<Entry> evicted;
    {
        std::lock_guard lock(mutex_);
        entry->idleSince = std::chrono::steady_clock::now();
        idle_.push_back(std::move(entry));
        if (idle_.size() > limits_.maxIdle) {
            evicted = std::move(idle_.front());
            idle_.pop_front();
        }
    }
    if (evicted) {
        evicted->connection->quitNoWait();
    }
}

void ConnectionCache::closeExpired() {
    std::vector<std::unique_ptr<Entry>> expired;
    {
        const auto now = std::chrono::steady_clock::now();
        std::lock_guard lock(mutex_);
        // put() appends: the front is the longest idle.
        while (!idle_.empty() && now - idle_.front()->idleSince >= limits_.idleTime) {
            expired.push_back(std::move(idle_.front()));
            idle_.pop_front();
        }
    }
    for (auto& entry : expired) {
        entry->connection->quitNoWait();
    }
}

void ConnectionCache::clear() {
    std::deque<std::unique_ptr<Entry>> all;
    {
        std::lock_guard lock(mutex_);
        all.swap(idle_);
    }
    for (auto& entry : all) {
        entry->connection->quitNoWait();
    }
}

std::size_t ConnectionCache::idle() const {
    std::lock_guard lock(mutex_);
    return idle_.size();
}

std::shared_ptr<const ClientTlsContext> ClientTlsContext::build(const certmgr::Store& store,
                                                                const std::string& minVersion) {
    std::shared_ptr<ClientTlsContext> context(new ClientTlsContext());
    context->ctx_.reset(SSL_CTX_new(TLS_client_method()));
    if (!context->ctx_) {
        throw setupError("allocating the client TLS context");
    }
    SSL_CTX* ctx = context->ctx_.get();
    if (SSL_CTX_set_min_proto_version(ctx, minProtocolVersion(minVersion)) != 1) {
        throw setupError("setting the minimum TLS version " + minVersion);
    }
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, continuePastNameMismatch);

    try {
        SSL_CTX_set_cert_store(ctx, store.trustStore().release());  // takes ownership
        for (auto& material : store.activeMaterial(certmgr::Role::Client)) {
            if (!material.leaf || !material.key) {
                continue;
            }
            certmgr::X509StackPtr chain(sk_X509_new_null());
            if (!chain) {
                throw setupError("allocating a certificate chain");
            }
            for (auto& cert : material.chain) {
                // The stack owns what it holds: give it its own reference.
                if (X509_up_ref(cert.get()) != 1) {
                    throw setupError("referencing chain certificate of " + material.id);
                }
                if (sk_X509_push(chain.get(), cert.get()) <= 0) {
                    X509_free(cert.get());
                    throw setupError("building the chain of certificate " + material.id);
                }
            }
            if (SSL_CTX_use_cert_and_key(ctx, material.leaf.get(), material.key.get(), chain.get(),
                                         1) != 1) {
                throw setupError("loading client certificate " + material.id);
            }
            context->clientCertificateId_ = material.id;
            break;  // one client certificate: the first active one
        }
    } catch (const TlsSetupError&) {
        throw;
    } catch (const std::exception& e) {
        drainOpensslErrors();
        throw TlsSetupError(std::string("reading the certificate store: ") + e.what());
    }
    return context;
}

DeliveryResult deliver(const DeliveryRequest& request) {
    DeliveryResult result;
    result.tlsFacts.host = request.host;
    result.tlsFacts.address = request.address;
    result.port = request.port;
    for (const auto& recipient : request.recipients) {
        result.recipients.push_back(RecipientResult{recipient, 0, {}});
    }
    const std::string peer = request.host + "[" + request.address + "]";
    try {
        Client(request, result).run();
    } catch (const ConnectionLost& e) {
        result.outcome = DeliveryOutcome::Deferred;
        result.reason = "4.4.2 lost connection with " + peer + " while " + e.what();
    } catch (const ProtocolError& e) {
        result.outcome = DeliveryOutcome::Deferred;
        result.reason =
            "4.5.0 protocol error with " + peer + " while " + e.phase() + ": " + e.what();
    } catch (const std::exception& e) {
        result.outcome = DeliveryOutcome::Deferred;
        result.reason = "4.3.0 internal error delivering to " + peer + ": " + e.what();
    } catch (...) {
        result.outcome = DeliveryOutcome::Deferred;
        result.reason = "4.3.0 internal error delivering to " + peer;
    }
    drainOpensslErrors();
    return result;
}

}  // namespace tlsgate::gateway
