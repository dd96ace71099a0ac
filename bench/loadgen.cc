// tlsgate-loadgen: the benchmarks' SMTP load generator (one blocking connection per client
// thread), idle-connection holder and tiny counting SMTP sink. Loopback targets only.
// Failures on the mail path are counted, never fatal; a bad command line exits 64.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <pthread.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

constexpr int kExitUsage = 64;
constexpr std::size_t kMaxErrorsShown = 5;

template <auto Fn>
struct OsslDeleter {
    template <class T>
    void operator()(T* p) const {
        Fn(p);
    }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, OsslDeleter<SSL_CTX_free>>;
using SslPtr = std::unique_ptr<SSL, OsslDeleter<SSL_free>>;
using X509Ptr = std::unique_ptr<X509, OsslDeleter<X509_free>>;

/// Drains OpenSSL's error queue into one readable message (so nothing stale leaks on).
std::string opensslErrors() {
    std::string text;
    unsigned long code = 0;
    while ((code = ERR_get_error()) != 0) {
        char buffer[256];
        ERR_error_string_n(code, buffer, sizeof buffer);
        if (!text.empty()) {
            text += "; ";
        }
        text += buffer;
    }
    return text.empty() ? "no OpenSSL error" : text;
}

/// One failed connection or transaction: counted, shown (the first few), never fatal.
class SmtpFailure : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

class UsageError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

enum class TlsMode { None, Tls12, Tls13 };
enum class CertType { Any, Ecdsa, Rsa };

struct Options {
    std::string host = "127.0.0.1";
    std::uint16_t port = 25;
    int clients = 1;
    int messagesPerConnection = 1;
    std::size_t size = 10240;
    double duration = 0;     // seconds; 0: bounded by totalMessages
    long totalMessages = 0;  // 0: bounded by duration
    TlsMode tls = TlsMode::None;
    CertType certType = CertType::Any;
    std::string clientCert;
    std::string clientKey;
    int timeoutSeconds = 30;
    int idle = 0;     // --idle N: hold N sessions open
    double hold = 0;  // --hold S: how long idle sessions are held (0: until a signal)
    std::optional<std::uint16_t> sinkPort;
    std::string countFile;
    bool freePort = false;
};

// ------------------------------------------------------------------------------------------
// Command line

[[noreturn]] void usage(const std::string& why) {
    throw UsageError(why);
}

constexpr std::string_view kHelp =
    "usage:\n"
    "  tlsgate-loadgen [--target HOST:PORT] [--clients N] [--per-conn M] [--size BYTES]\n"
    "                  (--duration SECONDS | --messages TOTAL) [--tls none|1.2|1.3]\n"
    "                  [--cert-type any|ecdsa|rsa] [--client-cert FILE --client-key FILE]\n"
    "                  [--timeout SECONDS]\n"
    "  tlsgate-loadgen --idle N [--tls 1.2|1.3] [--target HOST:PORT] [--hold SECONDS]\n"
    "  tlsgate-loadgen --sink PORT [--count-file FILE]     (PORT 0: any free port)\n"
    "  tlsgate-loadgen --free-port                         (prints a free loopback port)\n"
    "HOST must be a loopback address (127.0.0.0/8, ::1, localhost). --per-conn 0 only\n"
    "connects, says EHLO, does STARTTLS and QUITs (handshake rate; latency is then connect to\n"
    "the EHLO reply inside TLS). With --per-conn 1 a message's latency runs from connect to the\n"
    "250 after its data, otherwise from MAIL to that 250.\n";

long parseNumber(const std::string& option, const std::string& value, long low, long high) {
    std::size_t used = 0;
    long n = 0;
    try {
        n = std::stol(value, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used != value.size() || value.empty() || n < low || n > high) {
        usage(option + " " + value + ": expected a whole number from " + std::to_string(low) +
              " to " + std::to_string(high));
    }
    return n;
}

double parseSeconds(const std::string& option, const std::string& value) {
    std::size_t used = 0;
    double d = 0;
    try {
        d = std::stod(value, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used != value.size() || value.empty() || !(d > 0) || d > 86400) {
        usage(option + " " + value + ": expected seconds, more than 0 and at most 86400");
    }
    return d;
}

/// Loopback only: the harness must never load someone else's server.
void checkLoopback(const std::string& host) {
    if (host == "localhost") {
        return;
    }
    in_addr v4{};
    in6_addr v6{};
    if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
        if ((ntohl(v4.s_addr) >> 24) == 127) {
            return;
        }
    } else if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
        if (IN6_IS_ADDR_LOOPBACK(&v6)) {
            return;
        }
    }
    usage("--target " + host + ": only loopback targets (127.0.0.0/8, ::1, localhost) are allowed");
}

Options parseOptions(int argc, char** argv) {
    Options o;
    std::vector<std::string> args(argv + 1, argv + argc);
    auto value = [&](std::size_t& i) -> const std::string& {
        if (i + 1 >= args.size()) {
            usage(args[i] + ": needs a value");
        }
        return args[++i];
    };
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "--help" || a == "-h") {
            std::cout << kHelp;
            std::exit(0);
        } else if (a == "--target") {
            const std::string& t = value(i);
            const auto colon = t.rfind(':');
            if (colon == std::string::npos) {
                usage("--target " + t + ": expected HOST:PORT");
            }
            o.host = t.substr(0, colon);
            if (o.host.size() > 2 && o.host.front() == '[' && o.host.back() == ']') {
                o.host = o.host.substr(1, o.host.size() - 2);
            }
            o.port = static_cast<std::uint16_t>(parseNumber(a, t.substr(colon + 1), 1, 65535));
        } else if (a == "--clients") {
            o.clients = static_cast<int>(parseNumber(a, value(i), 1, 5000));
        } else if (a == "--per-conn") {
            o.messagesPerConnection = static_cast<int>(parseNumber(a, value(i), 0, 1000000));
        } else if (a == "--size") {
            o.size = static_cast<std::size_t>(parseNumber(a, value(i), 100, 100000000));
        } else if (a == "--duration") {
            o.duration = parseSeconds(a, value(i));
        } else if (a == "--messages") {
            o.totalMessages = parseNumber(a, value(i), 1, 100000000);
        } else if (a == "--tls") {
            const std::string& v = value(i);
            if (v == "none") {
                o.tls = TlsMode::None;
            } else if (v == "1.2") {
                o.tls = TlsMode::Tls12;
            } else if (v == "1.3") {
                o.tls = TlsMode::Tls13;
            } else {
                usage("--tls " + v + ": expected none, 1.2 or 1.3");
            }
        } else if (a == "--cert-type") {
            const std::string& v = value(i);
            if (v == "any") {
                o.certType = CertType::Any;
            } else if (v == "ecdsa") {
                o.certType = CertType::Ecdsa;
            } else if (v == "rsa") {
                o.certType = CertType::Rsa;
            } else {
                usage("--cert-type " + v + ": expected any, ecdsa or rsa");
            }
        } else if (a == "--client-cert") {
            o.clientCert = value(i);
        } else if (a == "--client-key") {
            o.clientKey = value(i);
        } else if (a == "--timeout") {
            o.timeoutSeconds = static_cast<int>(parseNumber(a, value(i), 1, 3600));
        } else if (a == "--idle") {
            o.idle = static_cast<int>(parseNumber(a, value(i), 1, 100000));
        } else if (a == "--hold") {
            o.hold = parseSeconds(a, value(i));
        } else if (a == "--sink") {
            o.sinkPort = static_cast<std::uint16_t>(parseNumber(a, value(i), 0, 65535));
        } else if (a == "--count-file") {
            o.countFile = value(i);
        } else if (a == "--free-port") {
            o.freePort = true;
        } else {
            usage(a + ": unknown option (see --help)");
        }
    }
    checkLoopback(o.host);
    if (o.clientCert.empty() != o.clientKey.empty()) {
        usage("--client-cert and --client-key go together");
    }
    if (!o.sinkPort && !o.freePort && o.idle == 0 && (o.duration > 0) == (o.totalMessages > 0)) {
        usage("give exactly one of --duration and --messages (the run must be bounded)");
    }
    return o;
}

// ------------------------------------------------------------------------------------------
// Sockets

class Fd {
  public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    Fd& operator=(Fd&& other) noexcept {
        if (this != &other) {
            reset();
            fd_ = std::exchange(other.fd_, -1);
        }
        return *this;
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() { reset(); }
    int get() const { return fd_; }
    void reset() {
        if (fd_ >= 0) {
            ::close(fd_);
        }
        fd_ = -1;
    }

  private:
    int fd_ = -1;
};

std::string errnoText(const std::string& what, int error) {
    return what + ": " + std::strerror(error);
}

void setTimeouts(int fd, int seconds) {
    timeval tv{};
    tv.tv_sec = seconds;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/// The resolved loopback address (numeric, or localhost as 127.0.0.1).
struct Target {
    sockaddr_storage address{};
    socklen_t length = 0;
};

Target resolveTarget(const Options& o) {
    Target t;
    const std::string host = o.host == "localhost" ? "127.0.0.1" : o.host;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&t.address);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&t.address);
    if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(o.port);
        t.length = sizeof(sockaddr_in);
    } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(o.port);
        t.length = sizeof(sockaddr_in6);
    } else {
        usage("--target " + o.host + ": not a numeric address");
    }
    return t;
}

/// Connects with a bounded wait; the socket then has read/write timeouts and TCP_NODELAY.
Fd connectTo(const Target& t, int timeoutSeconds) {
    Fd fd(::socket(t.address.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (fd.get() < 0) {
        throw SmtpFailure(errnoText("socket", errno));
    }
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&t.address), t.length) != 0) {
        if (errno != EINPROGRESS) {
            throw SmtpFailure(errnoText("connect", errno));
        }
        pollfd p{fd.get(), POLLOUT, 0};
        const int ready = ::poll(&p, 1, timeoutSeconds * 1000);
        if (ready <= 0) {
            throw SmtpFailure(ready == 0 ? "connect: timed out" : errnoText("connect", errno));
        }
        int error = 0;
        socklen_t len = sizeof error;
        ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &len);
        if (error != 0) {
            throw SmtpFailure(errnoText("connect", error));
        }
    }
    const int flags = ::fcntl(fd.get(), F_GETFL);
    ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK);
    setTimeouts(fd.get(), timeoutSeconds);
    return fd;
}

/// One SMTP conversation's byte stream: plaintext on the socket, or TLS after STARTTLS.
class Stream {
  public:
    explicit Stream(Fd fd) : fd_(std::move(fd)) {}

    void startTls(SSL_CTX* ctx) {
        ssl_.reset(SSL_new(ctx));
        if (!ssl_ || SSL_set_fd(ssl_.get(), fd_.get()) != 1) {
            throw SmtpFailure("SSL_new: " + opensslErrors());
        }
        if (!buffer_.empty()) {
            throw SmtpFailure("server sent data after its 220 to STARTTLS");
        }
        const int rc = SSL_connect(ssl_.get());
        if (rc != 1) {
            const int error = SSL_get_error(ssl_.get(), rc);
            const int sysErrno = errno;
            std::string why = opensslErrors();
            if (error == SSL_ERROR_SYSCALL) {
                why = sysErrno == EAGAIN ? "timed out" : errnoText("syscall", sysErrno);
            }
            throw SmtpFailure("TLS handshake failed: " + why);
        }
    }

    SSL* ssl() const { return ssl_.get(); }

    void write(std::string_view data) {
        while (!data.empty()) {
            long n = 0;
            if (ssl_) {
                const int w =
                    SSL_write(ssl_.get(), data.data(),
                              static_cast<int>(std::min<std::size_t>(data.size(), 1 << 20)));
                if (w <= 0) {
                    throw SmtpFailure("TLS write failed: " + opensslErrors());
                }
                n = w;
            } else {
                n = ::send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL);
                if (n < 0) {
                    if (errno == EINTR) {
                        continue;
                    }
                    throw SmtpFailure(errno == EAGAIN ? std::string("write: timed out")
                                                      : errnoText("write", errno));
                }
            }
            data.remove_prefix(static_cast<std::size_t>(n));
        }
    }

    /// One line without its CRLF; throws on timeout or end of stream.
    std::string readLine() {
        for (;;) {
            const auto eol = buffer_.find("\r\n");
            if (eol != std::string::npos) {
                std::string line = buffer_.substr(0, eol);
                buffer_.erase(0, eol + 2);
                return line;
            }
            if (buffer_.size() > 65536) {
                throw SmtpFailure("line too long from server");
            }
            char chunk[16384];
            long n = 0;
            if (ssl_) {
                const int r = SSL_read(ssl_.get(), chunk, sizeof chunk);
                if (r <= 0) {
                    const int error = SSL_get_error(ssl_.get(), r);
                    throw SmtpFailure(error == SSL_ERROR_ZERO_RETURN
                                          ? std::string("connection closed by server")
                                          : "TLS read failed (timeout or reset): " +
                                                opensslErrors());
                }
                n = r;
            } else {
                n = ::recv(fd_.get(), chunk, sizeof chunk, 0);
                if (n < 0 && errno == EINTR) {
                    continue;
                }
                if (n < 0) {
                    throw SmtpFailure(errno == EAGAIN ? std::string("read: timed out")
                                                      : errnoText("read", errno));
                }
                if (n == 0) {
                    throw SmtpFailure("connection closed by server");
                }
            }
            buffer_.append(chunk, static_cast<std::size_t>(n));
        }
    }

    /// Reads a whole (multi-line) reply and checks its code.
    void expect(int code, std::string_view after) {
        for (;;) {
            const std::string line = readLine();
            if (line.size() < 3 || line.compare(0, 3, std::to_string(code)) != 0) {
                throw SmtpFailure("after " + std::string(after) + " expected " +
                                  std::to_string(code) + ", got \"" + line.substr(0, 120) + "\"");
            }
            if (line.size() == 3 || line[3] == ' ') {
                return;
            }
        }
    }

    void command(std::string_view line, int code) {
        std::string text(line);
        text += "\r\n";
        write(text);
        expect(code, line.substr(0, line.find(':')));
    }

  private:
    Fd fd_;
    SslPtr ssl_;
    std::string buffer_;
};

// ------------------------------------------------------------------------------------------
// TLS client context

SslCtxPtr makeClientContext(const Options& o) {
    SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
    if (!ctx) {
        throw std::runtime_error("SSL_CTX_new: " + opensslErrors());
    }
    const int version = o.tls == TlsMode::Tls12 ? TLS1_2_VERSION : TLS1_3_VERSION;
    SSL_CTX_set_min_proto_version(ctx.get(), version);
    SSL_CTX_set_max_proto_version(ctx.get(), version);
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
    // Every connection pays a full handshake: that is the cost being measured.
    SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx.get(), SSL_OP_NO_TICKET);
    if (o.certType != CertType::Any) {
        const bool rsa = o.certType == CertType::Rsa;
        const char* sigalgs = rsa ? "rsa_pss_rsae_sha256:rsa_pss_rsae_sha384:rsa_pkcs1_sha256"
                                  : "ecdsa_secp256r1_sha256";
        if (SSL_CTX_set1_sigalgs_list(ctx.get(), sigalgs) != 1) {
            throw std::runtime_error("signature algorithms: " + opensslErrors());
        }
        if (o.tls == TlsMode::Tls12) {
            const char* ciphers = rsa ? "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:"
                                        "ECDHE-RSA-CHACHA20-POLY1305"
                                      : "ECDHE-ECDSA-AES128-GCM-SHA256:"
                                        "ECDHE-ECDSA-AES256-GCM-SHA384:"
                                        "ECDHE-ECDSA-CHACHA20-POLY1305";
            if (SSL_CTX_set_cipher_list(ctx.get(), ciphers) != 1) {
                throw std::runtime_error("cipher list: " + opensslErrors());
            }
        }
    }
    if (!o.clientCert.empty()) {
        if (SSL_CTX_use_certificate_chain_file(ctx.get(), o.clientCert.c_str()) != 1 ||
            SSL_CTX_use_PrivateKey_file(ctx.get(), o.clientKey.c_str(), SSL_FILETYPE_PEM) != 1 ||
            SSL_CTX_check_private_key(ctx.get()) != 1) {
            throw std::runtime_error(o.clientCert + ", " + o.clientKey + ": " + opensslErrors());
        }
    }
    return ctx;
}

std::string describeSession(SSL* ssl) {
    std::string text = std::string("version=") + SSL_get_version(ssl) +
                       " cipher=" + SSL_CIPHER_get_name(SSL_get_current_cipher(ssl));
    X509Ptr peer(SSL_get1_peer_certificate(ssl));
    if (peer) {
        EVP_PKEY* key = X509_get0_pubkey(peer.get());
        if (key != nullptr) {
            text += std::string(" server_key=") + EVP_PKEY_get0_type_name(key) + "-" +
                    std::to_string(EVP_PKEY_get_bits(key));
        }
    }
    return text;
}

// ------------------------------------------------------------------------------------------
// Load

std::string makeMessage(std::size_t size) {
    std::string m =
        "From: loadgen <loadgen@example.test>\r\n"
        "To: sink <sink@example.net>\r\n"
        "Subject: tlsgate benchmark\r\n"
        "Message-ID: <bench@example.test>\r\n"
        "\r\n";
    const std::string line(76, 'x');
    while (m.size() + line.size() + 2 <= size) {
        m += line;
        m += "\r\n";
    }
    if (m.size() + 2 < size) {
        m.append(size - m.size() - 2, 'y');
        m += "\r\n";
    }
    m += ".\r\n";
    return m;
}

struct Totals {
    std::atomic<long> messages{0};
    std::atomic<long> handshakes{0};
    std::atomic<long> connections{0};
    std::atomic<long> errors{0};
    std::atomic<long> claimed{0};
    std::mutex mutex;
    std::vector<std::string> errorTexts;
    std::string tlsDescription;
};

class LoadRun {
  public:
    LoadRun(const Options& o, SSL_CTX* ctx)
        : options_(o), ctx_(ctx), target_(resolveTarget(o)), message_(makeMessage(o.size)) {}

    int run() {
        std::cerr << "loadgen: target=" << options_.host << ":" << options_.port
                  << " clients=" << options_.clients
                  << " per_conn=" << options_.messagesPerConnection << " size=" << options_.size
                  << " tls=" << tlsName() << "\n";
        std::vector<std::vector<double>> latencies(static_cast<std::size_t>(options_.clients));
        start_ = Clock::now();
        deadline_ = start_ + std::chrono::duration_cast<Clock::duration>(
                                 std::chrono::duration<double>(options_.duration));
        std::vector<std::thread> threads;
        for (int i = 0; i < options_.clients; ++i) {
            threads.emplace_back(
                [this, &latencies, i] { worker(latencies[static_cast<std::size_t>(i)]); });
            pthread_setname_np(threads.back().native_handle(), "loadgen");
        }
        for (auto& t : threads) {
            t.join();
        }
        const double seconds = std::chrono::duration<double>(Clock::now() - start_).count();
        std::vector<double> all;
        for (auto& v : latencies) {
            all.insert(all.end(), v.begin(), v.end());
        }
        std::sort(all.begin(), all.end());
        auto percentile = [&all](double p) {
            if (all.empty()) {
                return 0.0;
            }
            auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(all.size())));
            return all[std::clamp<std::size_t>(rank, 1, all.size()) - 1];
        };
        for (const auto& e : totals_.errorTexts) {
            std::cerr << "loadgen: error: " << e << "\n";
        }
        if (!totals_.tlsDescription.empty()) {
            std::cerr << "loadgen: tls " << totals_.tlsDescription << "\n";
        }
        const long messages = totals_.messages.load();
        const long errors = totals_.errors.load();
        char line[512];
        std::snprintf(line, sizeof line,
                      "result: messages=%ld errors=%ld connections=%ld handshakes=%ld "
                      "duration_s=%.3f msgs_per_s=%.1f handshakes_per_s=%.1f p50_ms=%.2f "
                      "p99_ms=%.2f p999_ms=%.2f\n",
                      messages, errors, totals_.connections.load(), totals_.handshakes.load(),
                      seconds, static_cast<double>(messages) / seconds,
                      static_cast<double>(totals_.handshakes.load()) / seconds, percentile(0.50),
                      percentile(0.99), percentile(0.999));
        std::cout << line << std::flush;
        const bool expectMessages = options_.messagesPerConnection > 0;
        const bool nothing = expectMessages ? messages == 0 : totals_.connections.load() == 0;
        return errors == 0 && !nothing ? 0 : 1;
    }

  private:
    const char* tlsName() const {
        switch (options_.tls) {
            case TlsMode::None:
                return "none";
            case TlsMode::Tls12:
                return "1.2";
            case TlsMode::Tls13:
                return "1.3";
        }
        return "?";
    }

    bool timeLeft() const { return options_.duration <= 0 || Clock::now() < deadline_; }

    /// Claims one message of the --messages budget (always true with --duration).
    bool claim() {
        if (options_.totalMessages <= 0) {
            return timeLeft();
        }
        return totals_.claimed.fetch_add(1) < options_.totalMessages;
    }

    void worker(std::vector<double>& latencies) {
        const bool handshakeOnly = options_.messagesPerConnection == 0;
        while (timeLeft()) {
            if (handshakeOnly && options_.totalMessages > 0 &&
                totals_.claimed.fetch_add(1) >= options_.totalMessages) {
                return;
            }
            if (!handshakeOnly && !claim()) {
                return;
            }
            try {
                connection(latencies);
            } catch (const std::exception& e) {
                totals_.errors.fetch_add(1);
                std::lock_guard lock(totals_.mutex);
                if (totals_.errorTexts.size() < kMaxErrorsShown) {
                    totals_.errorTexts.emplace_back(e.what());
                }
            }
        }
    }

    /// One connection; the caller has claimed its first message.
    void connection(std::vector<double>& latencies) {
        const auto began = Clock::now();
        Stream s(connectTo(target_, options_.timeoutSeconds));
        totals_.connections.fetch_add(1);
        s.expect(220, "connect");
        s.command("EHLO loadgen.example.test", 250);
        if (options_.tls != TlsMode::None) {
            s.command("STARTTLS", 220);
            s.startTls(ctx_);
            totals_.handshakes.fetch_add(1);
            if (totals_.handshakes.load() == 1) {
                std::lock_guard lock(totals_.mutex);
                totals_.tlsDescription = describeSession(s.ssl());
            }
            s.command("EHLO loadgen.example.test", 250);
        }
        if (options_.messagesPerConnection == 0) {
            // Handshake runs: latency from connect to the EHLO reply inside TLS.
            latencies.push_back(
                std::chrono::duration<double, std::milli>(Clock::now() - began).count());
        }
        for (int i = 0; i < options_.messagesPerConnection; ++i) {
            if (i > 0 && !claim()) {
                break;
            }
            const auto t0 = options_.messagesPerConnection == 1 ? began : Clock::now();
            s.command("MAIL FROM:<loadgen@example.test>", 250);
            s.command("RCPT TO:<sink@example.net>", 250);
            s.command("DATA", 354);
            s.write(message_);
            s.expect(250, "end of data");
            latencies.push_back(
                std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
            totals_.messages.fetch_add(1);
        }
        s.command("QUIT", 221);
    }

    const Options& options_;
    SSL_CTX* ctx_;
    Target target_;
    std::string message_;
    Totals totals_;
    Clock::time_point start_;
    Clock::time_point deadline_;
};

// ------------------------------------------------------------------------------------------
// Idle sessions (memory per connection)

/// Blocks the termination signals and waits for one of them (or `hold` seconds).
void waitForSignal(double hold) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    if (hold > 0) {
        timespec ts{};
        ts.tv_sec = static_cast<time_t>(hold);
        ts.tv_nsec = static_cast<long>((hold - static_cast<double>(ts.tv_sec)) * 1e9);
        sigtimedwait(&set, nullptr, &ts);
    } else {
        int signo = 0;
        sigwait(&set, &signo);
    }
}

int runIdle(const Options& o, SSL_CTX* ctx) {
    const Target target = resolveTarget(o);
    std::vector<std::unique_ptr<Stream>> open;
    open.reserve(static_cast<std::size_t>(o.idle));
    const auto began = Clock::now();
    for (int i = 0; i < o.idle; ++i) {
        try {
            auto s = std::make_unique<Stream>(connectTo(target, o.timeoutSeconds));
            s->expect(220, "connect");
            s->command("EHLO loadgen.example.test", 250);
            if (ctx != nullptr) {
                s->command("STARTTLS", 220);
                s->startTls(ctx);
                s->command("EHLO loadgen.example.test", 250);
            }
            open.push_back(std::move(s));
        } catch (const std::exception& e) {
            std::cerr << "loadgen: idle session " << i << ": " << e.what() << "\n";
            std::cout << "idle: open=" << open.size() << " errors=1\n" << std::flush;
            return 1;
        }
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - began).count();
    std::cout << "idle: open=" << open.size() << " errors=0 tls=" << (ctx != nullptr ? "yes" : "no")
              << " setup_s=" << seconds << "\n"
              << std::flush;
    waitForSignal(o.hold);
    return 0;
}

// ------------------------------------------------------------------------------------------
// Sink

/// Accepts SMTP on loopback and answers 250 to everything, counting messages. Connection threads
/// are detached and counted; the destructor waits (bounded) for them.
class Sink {
  public:
    explicit Sink(std::string countFile) : countFile_(std::move(countFile)) {}
    ~Sink() {
        const auto deadline = Clock::now() + std::chrono::seconds(5);
        while (active_.load() > 0 && Clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    }

    int run(std::uint16_t port) {
        Fd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        const int one = 1;
        ::setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(port);
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::bind(listener.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
            ::listen(listener.get(), 512) != 0) {
            std::cerr << "loadgen: sink: " << errnoText("bind/listen", errno) << "\n";
            return 1;
        }
        socklen_t len = sizeof address;
        ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&address), &len);
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        pthread_sigmask(SIG_BLOCK, &set, nullptr);
        Fd signals(::signalfd(-1, &set, SFD_CLOEXEC));
        std::cout << "sink: listening on 127.0.0.1:" << ntohs(address.sin_port) << "\n"
                  << std::flush;
        long written = -1;
        for (;;) {
            pollfd p[2] = {{listener.get(), POLLIN, 0}, {signals.get(), POLLIN, 0}};
            ::poll(p, 2, 100);
            if ((p[1].revents & POLLIN) != 0) {
                break;
            }
            if ((p[0].revents & POLLIN) != 0) {
                const int fd = ::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC);
                if (fd >= 0) {
                    setTimeouts(fd, 60);
                    active_.fetch_add(1);
                    std::thread([this, fd] {
                        serve(Fd(fd));
                        active_.fetch_sub(1);
                    }).detach();
                }
            }
            if (messages_.load() != written) {
                written = messages_.load();
                writeCount(written);
            }
        }
        writeCount(messages_.load());
        std::cout << "sink: messages=" << messages_.load() << "\n" << std::flush;
        return 0;
    }

  private:
    void writeCount(long n) const {
        if (countFile_.empty()) {
            return;
        }
        const std::string temporary = countFile_ + ".tmp";
        {
            std::ofstream out(temporary, std::ios::trunc);
            out << n << "\n";
        }
        std::rename(temporary.c_str(), countFile_.c_str());
    }

    void serve(Fd fd) {
        try {
            Stream s(std::move(fd));
            s.write("220 sink.example.test ESMTP tlsgate-loadgen sink\r\n");
            for (;;) {
                const std::string line = s.readLine();
                std::string verb = line.substr(0, line.find(' '));
                std::transform(verb.begin(), verb.end(), verb.begin(),
                               [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
                if (verb == "EHLO") {
                    s.write(
                        "250-sink.example.test\r\n250-PIPELINING\r\n250-SIZE 1000000000\r\n"
                        "250 8BITMIME\r\n");
                } else if (verb == "HELO" || verb == "RSET" || verb == "NOOP") {
                    s.write("250 2.0.0 Ok\r\n");
                } else if (verb == "MAIL") {
                    s.write("250 2.1.0 Ok\r\n");
                } else if (verb == "RCPT") {
                    s.write("250 2.1.5 Ok\r\n");
                } else if (verb == "DATA") {
                    s.write("354 End data with <CR><LF>.<CR><LF>\r\n");
                    while (s.readLine() != ".") {
                    }
                    messages_.fetch_add(1);
                    s.write("250 2.0.0 Ok: queued\r\n");
                } else if (verb == "QUIT") {
                    s.write("221 2.0.0 Bye\r\n");
                    return;
                } else {
                    s.write("502 5.5.1 Error: command not implemented\r\n");
                }
            }
        } catch (const std::exception&) {
            // The peer went away: nothing to count.
        }
    }

    std::string countFile_;
    std::atomic<long> messages_{0};
    std::atomic<int> active_{0};
};

int printFreePort() {
    Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof address;
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &len) != 0) {
        std::cerr << "loadgen: " << errnoText("bind", errno) << "\n";
        return 1;
    }
    std::cout << ntohs(address.sin_port) << "\n";
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::signal(SIGPIPE, SIG_IGN);
    try {
        const Options o = parseOptions(argc, argv);
        if (o.freePort) {
            return printFreePort();
        }
        if (o.sinkPort) {
            Sink sink(o.countFile);
            return sink.run(*o.sinkPort);
        }
        SslCtxPtr ctx;
        if (o.tls != TlsMode::None) {
            ctx = makeClientContext(o);
        }
        if (o.idle > 0) {
            // Block the termination signals before anything else so sigwait sees them.
            sigset_t set;
            sigemptyset(&set);
            sigaddset(&set, SIGTERM);
            sigaddset(&set, SIGINT);
            pthread_sigmask(SIG_BLOCK, &set, nullptr);
            return runIdle(o, ctx.get());
        }
        LoadRun run(o, ctx.get());
        return run.run();
    } catch (const UsageError& e) {
        std::cerr << "tlsgate-loadgen: " << e.what() << "\n";
        return kExitUsage;
    } catch (const std::exception& e) {
        std::cerr << "tlsgate-loadgen: " << e.what() << "\n";
        return 1;
    }
}
