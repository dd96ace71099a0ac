// The syslog sinks (UDP, TCP octet counting, TLS), on the destination's sender thread. Errors are
// SendResult::Failed / open() false with lastError(); OpenSSL errors are drained into that text.
#include "tlsgate/siem/sink_syslog.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <thread>

namespace tlsgate::siem {
namespace {

constexpr std::size_t kMaxDatagram = 65507;  // the largest UDP payload over IPv4

/// The OpenSSL error queue as one line, emptied so no stale error leaks into the next connection.
std::string drainOpenSslErrors() {
    std::string out;
    while (const unsigned long code = ERR_get_error()) {
        char buffer[256];
        ERR_error_string_n(code, buffer, sizeof buffer);
        if (!out.empty()) {
            out += "; ";
        }
        out += buffer;
    }
    return out.empty() ? "unknown TLS error" : out;
}

std::string errnoText(std::string_view what) {
    return std::string(what) + ": " + std::strerror(errno);
}

timeval toTimeval(std::chrono::milliseconds ms) {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
    return tv;
}

struct AddrInfoDeleter {
    void operator()(addrinfo* p) const { freeaddrinfo(p); }
};

/// Resolves and connects (with a timeout) to host:port; an invalid descriptor and `error` set on
/// failure.
FileDescriptor connectTo(const std::string& host, std::uint16_t port, int type,
                         std::chrono::milliseconds timeout, std::string& error) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = type;
    addrinfo* raw = nullptr;
    const std::string service = std::to_string(port);
    if (const int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &raw); rc != 0) {
        error = host + ": " + gai_strerror(rc);
        return {};
    }
    const std::unique_ptr<addrinfo, AddrInfoDeleter> addresses(raw);
    error = host + ":" + service + ": no address";
    for (const addrinfo* a = addresses.get(); a != nullptr; a = a->ai_next) {
        FileDescriptor fd(
            ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol));
        if (!fd) {
            error = errnoText("socket");
            continue;
        }
        if (::connect(fd.get(), a->ai_addr, a->ai_addrlen) != 0) {
            if (errno != EINPROGRESS) {
                error = errnoText(host + ":" + service + ": connect");
                continue;
            }
            pollfd p{fd.get(), POLLOUT, 0};
            const int ready = ::poll(&p, 1, static_cast<int>(timeout.count()));
            int soError = 0;
            socklen_t length = sizeof soError;
            if (ready <= 0) {
                error = host + ":" + service + ": connect timed out";
                continue;
            }
            ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &soError, &length);
            if (soError != 0) {
                error = host + ":" + service + ": connect: " + std::strerror(soError);
                continue;
            }
        }
        // Blocking from here on, with timeouts: a receiver that stops reading fails the send.
        const int flags = ::fcntl(fd.get(), F_GETFL);
        ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK);
        error.clear();
        return fd;
    }
    return {};
}

void setTimeouts(int fd, std::chrono::milliseconds send, std::chrono::milliseconds receive) {
    const timeval sendTv = toTimeval(send);
    const timeval receiveTv = toTimeval(receive);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &sendTv, sizeof sendTv);
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &receiveTv, sizeof receiveTv);
}

/// The receiver's certificate must carry `name` (a DNS name, or an IP address in its SAN); SNI
/// carries a DNS name. OpenSSL's macro for SNI casts old-style, hence SSL_ctrl.
bool expectPeerName(SSL* ssl, const std::string& name) {
    in6_addr v6{};
    in_addr v4{};
    if (::inet_pton(AF_INET, name.c_str(), &v4) == 1 ||
        ::inet_pton(AF_INET6, name.c_str(), &v6) == 1) {
        return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str()) == 1;
    }
    return SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                    const_cast<char*>(name.c_str())) == 1 &&
           SSL_set1_host(ssl, name.c_str()) == 1;
}

}  // namespace

void FileDescriptor::reset(int fd) {
    if (fd_ >= 0) {
        ::close(fd_);
    }
    fd_ = fd;
}

// ---- UDP

SyslogUdpSink::SyslogUdpSink(const DestinationSettings& destination) : destination_(destination) {}

bool SyslogUdpSink::open() {
    std::string error;
    socket_ = connectTo(destination_.host, effectivePort(destination_), SOCK_DGRAM,
                        destination_.connectTimeout, error);
    if (!socket_) {
        setError(error);
        return false;
    }
    setTimeouts(socket_.get(), destination_.sendTimeout, destination_.sendTimeout);
    return true;
}

SendResult SyslogUdpSink::send(const Record& record) {
    const BatchResult result = sendBatch(std::span(&record, 1));
    return result.sent == 1 ? SendResult::Sent : result.stop;
}

BatchResult SyslogUdpSink::sendBatch(std::span<const Record> records) {
    // Nothing acknowledges a datagram and a receiver's socket buffer holds only so many: a burst
    // of hundreds overflows it while the receiver waits for a CPU. So at most kPerCall datagrams
    // per system call, and a pause between calls (at most kPerCall per kPause: 32,000/s).
    constexpr std::size_t kPerCall = 32;
    constexpr std::chrono::milliseconds kPause{1};
    BatchResult result;
    std::array<mmsghdr, kPerCall> messages{};
    std::array<iovec, kPerCall> parts{};
    while (result.sent < records.size()) {
        if (result.sent > 0) {
            std::this_thread::sleep_for(kPause);
        }
        const std::size_t count = std::min(kPerCall, records.size() - result.sent);
        for (std::size_t i = 0; i < count; ++i) {
            const std::string& payload = records[result.sent + i].payload;
            parts[i].iov_base = const_cast<char*>(payload.data());  // sendmmsg only reads it
            parts[i].iov_len = std::min(payload.size(), kMaxDatagram);
            messages[i] = mmsghdr{};
            messages[i].msg_hdr.msg_iov = &parts[i];
            messages[i].msg_hdr.msg_iovlen = 1;
        }
        const int n =
            ::sendmmsg(socket_.get(), messages.data(), static_cast<unsigned>(count), MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            setError(errnoText("send"));
            socket_.reset();
            result.stop = SendResult::Failed;
            return result;
        }
        result.sent += static_cast<std::size_t>(n);
    }
    return result;
}

void SyslogUdpSink::close(Deadline /*deadline*/) {
    socket_.reset();
}

// ---- TCP and TLS

SyslogStreamSink::SyslogStreamSink(const DestinationSettings& destination)
    : destination_(destination) {}

std::string SyslogStreamSink::frame(std::string_view message) {
    std::string out;
    appendFrame(out, message);
    return out;
}

void SyslogStreamSink::appendFrame(std::string& out, std::string_view message) {
    out += std::to_string(message.size());
    out += ' ';
    out.append(message);
}

std::size_t SyslogStreamSink::frameSize(std::string_view message) {
    return std::to_string(message.size()).size() + 1 + message.size();
}

bool SyslogStreamSink::open() {
    disconnect();
    if (tls() && !context_) {
        SslCtxPtr context(SSL_CTX_new(TLS_client_method()));
        if (!context) {
            setError("TLS context: " + drainOpenSslErrors());
            return false;
        }
        SSL_CTX_set_min_proto_version(context.get(), TLS1_2_VERSION);
        SSL_CTX_set_verify(context.get(), SSL_VERIFY_PEER, nullptr);
        SSL_CTX_set_mode(context.get(), SSL_MODE_AUTO_RETRY);
        if (SSL_CTX_load_verify_locations(context.get(), destination_.caFile.c_str(), nullptr) !=
            1) {
            setError("ca_file " + destination_.caFile + ": " + drainOpenSslErrors());
            return false;
        }
        if (!destination_.clientCertFile.empty()) {
            if (SSL_CTX_use_certificate_chain_file(context.get(),
                                                   destination_.clientCertFile.c_str()) != 1 ||
                SSL_CTX_use_PrivateKey_file(context.get(), destination_.clientKeyFile.c_str(),
                                            SSL_FILETYPE_PEM) != 1) {
                setError("client certificate: " + drainOpenSslErrors());
                return false;
            }
        }
        context_ = std::move(context);
    }

    std::string error;
    socket_ = connectTo(destination_.host, effectivePort(destination_), SOCK_STREAM,
                        destination_.connectTimeout, error);
    if (!socket_) {
        setError(error);
        return false;
    }
    const int one = 1;
    ::setsockopt(socket_.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    // The handshake is bounded by the connect timeout, writes by the send timeout.
    setTimeouts(socket_.get(), destination_.connectTimeout, destination_.connectTimeout);

    if (tls()) {
        ERR_clear_error();
        SslPtr ssl(SSL_new(context_.get()));
        const std::string& name =
            destination_.serverName.empty() ? destination_.host : destination_.serverName;
        if (!ssl || SSL_set_fd(ssl.get(), socket_.get()) != 1 || !expectPeerName(ssl.get(), name)) {
            setError("TLS setup: " + drainOpenSslErrors());
            socket_.reset();
            return false;
        }
        if (SSL_connect(ssl.get()) != 1) {
            const long verify = SSL_get_verify_result(ssl.get());
            std::string why = drainOpenSslErrors();
            if (verify != X509_V_OK) {
                why = std::string("certificate verification failed: ") +
                      X509_verify_cert_error_string(verify);
            }
            setError(destination_.host + ": TLS handshake: " + why);
            socket_.reset();
            return false;
        }
        ssl_ = std::move(ssl);
    }
    setTimeouts(socket_.get(), destination_.sendTimeout, destination_.sendTimeout);
    open_ = true;
    return true;
}

bool SyslogStreamSink::writeAll(std::string_view data, std::size_t& done) {
    done = 0;
    while (done < data.size()) {
        if (ssl_) {
            std::size_t written = 0;
            ERR_clear_error();
            if (SSL_write_ex(ssl_.get(), data.data() + done, data.size() - done, &written) != 1) {
                const int code = SSL_get_error(ssl_.get(), 0);
                setError(code == SSL_ERROR_SYSCALL ? errnoText("TLS write")
                                                   : "TLS write: " + drainOpenSslErrors());
                return false;
            }
            done += written;
        } else {
            const ssize_t n =
                ::send(socket_.get(), data.data() + done, data.size() - done, MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                setError(errno == EAGAIN || errno == EWOULDBLOCK ? std::string("send timed out")
                                                                 : errnoText("send"));
                return false;
            }
            done += static_cast<std::size_t>(n);
        }
    }
    return true;
}

SendResult SyslogStreamSink::send(const Record& record) {
    const BatchResult result = sendBatch(std::span(&record, 1));
    return result.sent == 1 ? SendResult::Sent : result.stop;
}

BatchResult SyslogStreamSink::sendBatch(std::span<const Record> records) {
    BatchResult result;
    if (!open_) {
        result.stop = SendResult::Failed;
        return result;
    }
    // Syslog over TCP has no acknowledgements: the only sign of a receiver that went away is its
    // FIN or RST. Look for it before writing, so these records are kept rather than lost.
    pollfd p{socket_.get(), POLLRDHUP, 0};
    if (::poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0) {
        setError(destination_.host + ": the receiver closed the connection");
        disconnect();
        result.stop = SendResult::Failed;
        return result;
    }
    // Frames go out in writes of about 64 KiB; a record counts as sent once its whole frame was
    // written.
    constexpr std::size_t kWriteChunk = 64 << 10;
    std::string chunk;
    std::size_t next = 0;  // the first record not yet in a chunk
    while (next < records.size()) {
        chunk.clear();
        const std::size_t first = next;
        while (next < records.size() && (chunk.empty() || chunk.size() < kWriteChunk)) {
            appendFrame(chunk, records[next].payload);
            ++next;
        }
        std::size_t written = 0;
        if (!writeAll(chunk, written)) {
            std::size_t end = 0;  // the frames wholly written before the failure are out
            for (std::size_t i = first; i < next; ++i) {
                end += frameSize(records[i].payload);
                if (end > written) {
                    break;
                }
                ++result.sent;
            }
            disconnect();
            result.stop = SendResult::Failed;
            return result;
        }
        result.sent += next - first;
    }
    return result;
}

void SyslogStreamSink::disconnect() {
    open_ = false;
    ssl_.reset();  // no close_notify on a failed connection: it may block
    socket_.reset();
}

void SyslogStreamSink::close(Deadline /*deadline*/) {
    if (ssl_ && open_) {
        SSL_shutdown(ssl_.get());  // bounded by the socket's send timeout
    }
    disconnect();
}

}  // namespace tlsgate::siem
