// Test receivers on loopback for the sink tests: a TCP (optionally TLS) listener that records
// every byte per connection and can be stopped and restarted on its port, and a UDP listener.
// Each runs one thread of its own; failures throw std::runtime_error.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace tlsgate::siem::testing {

/// Splits an RFC 6587 octet-counted stream into messages; throws on a malformed frame (a
/// trailing partial frame is left out).
inline std::vector<std::string> parseOctetCounted(const std::string& stream) {
    std::vector<std::string> out;
    std::size_t at = 0;
    while (at < stream.size()) {
        const std::size_t space = stream.find(' ', at);
        if (space == std::string::npos) {
            break;
        }
        const std::string digits = stream.substr(at, space - at);
        if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos ||
            digits[0] == '0') {
            throw std::runtime_error("bad frame length '" + digits + "' at " + std::to_string(at));
        }
        const std::size_t length = std::stoul(digits);
        if (space + 1 + length > stream.size()) {
            break;
        }
        out.push_back(stream.substr(space + 1, length));
        at = space + 1 + length;
    }
    return out;
}

class TcpListener {
  public:
    /// `tls`: a server SSL_CTX (owned by the caller) to speak TLS with; null for plain TCP.
    explicit TcpListener(SSL_CTX* tls = nullptr) : tls_(tls) {}
    ~TcpListener() { stop(); }

    /// Listens on 127.0.0.1:port (0: any free port, kept for restarts).
    void start(std::uint16_t port = 0) {
        listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        const int one = 1;
        ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        address.sin_port = htons(port != 0 ? port : port_);
        if (::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
            ::listen(listener_, 16) != 0) {
            throw std::runtime_error("listener: cannot bind");
        }
        socklen_t length = sizeof address;
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
        port_ = ntohs(address.sin_port);
        running_ = true;
        thread_ = std::thread([this] { run(); });
    }

    /// Closes the listening socket and every connection (the receiver goes down).
    void stop() {
        running_ = false;
        if (thread_.joinable()) {
            thread_.join();
        }
        if (listener_ >= 0) {
            ::close(listener_);
            listener_ = -1;
        }
    }

    std::uint16_t port() const { return port_; }

    /// Bytes received on each connection so far, in connection order.
    std::vector<std::string> streams() const {
        std::lock_guard lock(mutex_);
        return streams_;
    }
    /// Every octet-counted message received, in order (connections one after the other).
    std::vector<std::string> messages() const {
        std::vector<std::string> out;
        for (const auto& stream : streams()) {
            for (auto& message : parseOctetCounted(stream)) {
                out.push_back(std::move(message));
            }
        }
        return out;
    }
    /// Polls until at least `count` messages arrived or `timeout` passed.
    bool waitFor(std::size_t count,
                 std::chrono::milliseconds timeout = std::chrono::seconds(20)) const {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (std::chrono::steady_clock::now() < deadline) {
            if (messages().size() >= count) {
                return true;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return messages().size() >= count;
    }

  private:
    struct Connection {
        int fd = -1;
        SSL* ssl = nullptr;
        std::size_t index = 0;
    };

    void run() {
        std::vector<Connection> connections;
        while (running_) {
            std::vector<pollfd> fds{{listener_, POLLIN, 0}};
            for (const auto& c : connections) {
                fds.push_back({c.fd, POLLIN, 0});
            }
            if (::poll(fds.data(), fds.size(), 20) <= 0) {
                continue;
            }
            if ((fds[0].revents & POLLIN) != 0) {
                Connection c;
                c.fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
                if (c.fd >= 0) {
                    if (tls_ != nullptr) {
                        c.ssl = SSL_new(tls_);
                        SSL_set_fd(c.ssl, c.fd);
                        if (SSL_accept(c.ssl) != 1) {
                            SSL_free(c.ssl);
                            ::close(c.fd);
                            continue;
                        }
                    }
                    std::lock_guard lock(mutex_);
                    c.index = streams_.size();
                    streams_.emplace_back();
                    connections.push_back(c);
                }
            }
            for (std::size_t i = 1; i < fds.size(); ++i) {
                if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
                    continue;
                }
                Connection& c = connections[i - 1];
                char buffer[65536];
                const int n = c.ssl != nullptr
                                  ? SSL_read(c.ssl, buffer, sizeof buffer)
                                  : static_cast<int>(::read(c.fd, buffer, sizeof buffer));
                if (n <= 0) {
                    closeConnection(c);
                    continue;
                }
                std::lock_guard lock(mutex_);
                streams_[c.index].append(buffer, static_cast<std::size_t>(n));
            }
            std::erase_if(connections, [](const Connection& c) { return c.fd < 0; });
        }
        for (auto& c : connections) {
            closeConnection(c);
        }
    }

    static void closeConnection(Connection& c) {
        if (c.ssl != nullptr) {
            SSL_free(c.ssl);
            c.ssl = nullptr;
        }
        if (c.fd >= 0) {
            ::close(c.fd);
            c.fd = -1;
        }
    }

    SSL_CTX* tls_;
    int listener_ = -1;
    std::uint16_t port_ = 0;
    std::atomic<bool> running_{false};
    std::thread thread_;
    mutable std::mutex mutex_;
    std::vector<std::string> streams_;
};

class UdpListener {
  public:
    UdpListener() {
        fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int size = 8 << 20;
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
        if (::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
            throw std::runtime_error("udp listener: cannot bind");
        }
        socklen_t length = sizeof address;
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
        port_ = ntohs(address.sin_port);
        thread_ = std::thread([this] {
            while (running_) {
                pollfd p{fd_, POLLIN, 0};
                if (::poll(&p, 1, 20) <= 0) {
                    continue;
                }
                char buffer[65536];
                const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
                if (n > 0) {
                    std::lock_guard lock(mutex_);
                    datagrams_.emplace_back(buffer, static_cast<std::size_t>(n));
                }
            }
        });
    }
    ~UdpListener() {
        running_ = false;
        thread_.join();
        ::close(fd_);
    }
    std::uint16_t port() const { return port_; }
    std::vector<std::string> datagrams() const {
        std::lock_guard lock(mutex_);
        return datagrams_;
    }
    bool waitFor(std::size_t count,
                 std::chrono::milliseconds timeout = std::chrono::seconds(20)) const {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (std::chrono::steady_clock::now() < deadline && datagrams().size() < count) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return datagrams().size() >= count;
    }

  private:
    int fd_ = -1;
    std::uint16_t port_ = 0;
    std::atomic<bool> running_{true};
    std::thread thread_;
    mutable std::mutex mutex_;
    std::vector<std::string> datagrams_;
};

}  // namespace tlsgate::siem::testing
