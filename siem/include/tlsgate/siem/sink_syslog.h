// The syslog sinks: RFC 5424 messages over UDP (RFC 5426), TCP with RFC 6587 octet counting, and
// TLS (RFC 5425). Driven by one sender thread; failures are SendResult::Failed plus lastError().
#pragma once

#include <openssl/ssl.h>

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "tlsgate/siem/sink.h"

namespace tlsgate::siem {

template <auto Fn>
struct OsslDeleter {
    template <class T>
    void operator()(T* p) const {
        Fn(p);
    }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, OsslDeleter<SSL_CTX_free>>;
using SslPtr = std::unique_ptr<SSL, OsslDeleter<SSL_free>>;

/// A socket descriptor closed on destruction.
class FileDescriptor {
  public:
    FileDescriptor() = default;
    explicit FileDescriptor(int fd) : fd_(fd) {}
    ~FileDescriptor() { reset(); }
    FileDescriptor(FileDescriptor&& other) noexcept : fd_(other.release()) {}
    FileDescriptor& operator=(FileDescriptor&& other) noexcept {
        reset(other.release());
        return *this;
    }
    int get() const { return fd_; }
    int release() { return std::exchange(fd_, -1); }
    void reset(int fd = -1);
    explicit operator bool() const { return fd_ >= 0; }

  private:
    int fd_ = -1;
};

/// RFC 5426: one datagram per message, nothing acknowledged. A send after the receiver's port
/// refused an earlier datagram fails (so that record and the ones after it go to the disk
/// buffer), but datagrams sent into an outage are lost. Messages over 65507 bytes are truncated.
class SyslogUdpSink final : public Sink {
  public:
    explicit SyslogUdpSink(const DestinationSettings& destination);
    bool open() override;
    bool isOpen() const override { return socket_.get() >= 0; }
    SendResult send(const Record& record) override;
    /// Up to 32 datagrams per system call (sendmmsg), 1 ms apart: paced so that a receiver's
    /// socket buffer is not overrun by the burst.
    BatchResult sendBatch(std::span<const Record> records) override;
    void close(Deadline deadline) override;

  private:
    const DestinationSettings destination_;
    FileDescriptor socket_;
};

/// RFC 6587 octet counting ("LEN SP MSG") over TCP, or inside TLS (RFC 5425) with the receiver's
/// certificate verified against the configured CA and name. Before each write the sink checks
/// whether the receiver closed the connection, so records sent after a receiver stopped go to the
/// disk buffer instead of into a dead socket.
class SyslogStreamSink final : public Sink {
  public:
    explicit SyslogStreamSink(const DestinationSettings& destination);
    bool open() override;
    bool isOpen() const override { return open_.load(); }
    SendResult send(const Record& record) override;
    /// The frames of `records` in writes of up to 64 KiB (plus one frame).
    BatchResult sendBatch(std::span<const Record> records) override;
    void close(Deadline deadline) override;

    /// "LEN SP MSG": the RFC 6587 octet-counted frame of one message.
    static std::string frame(std::string_view message);

  private:
    static void appendFrame(std::string& out, std::string_view message);
    static std::size_t frameSize(std::string_view message);
    bool tls() const { return destination_.transport == Transport::SyslogTls; }
    /// Writes `data`; false on failure (lastError() set). `done`: the bytes known to be written.
    bool writeAll(std::string_view data, std::size_t& done);
    void disconnect();

    const DestinationSettings destination_;
    FileDescriptor socket_;
    SslCtxPtr context_;
    SslPtr ssl_;
    std::atomic<bool> open_{false};
};

}  // namespace tlsgate::siem
