// One SMTP session: the explicit state machine (Connected -> Ready -> Mail -> Rcpt -> Data ...),
// the command table, STARTTLS, limits, the spool hand-off and the session's events. Runs on one
// connection thread; run() never throws: errors end the session with 421 when possible.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tlsgate/common/event_bus.h"
#include "tlsgate/gateway/config.h"
#include "tlsgate/gateway/counters.h"
#include "tlsgate/gateway/receive_policy.h"
#include "tlsgate/gateway/smtp_protocol.h"
#include "tlsgate/gateway/spool.h"
#include "tlsgate/gateway/tls_server.h"

namespace Poco {
class Logger;
}

namespace tlsgate::gateway {

/// The bytes under a session: a connected socket, plain until startTls() succeeds. Blocking reads
/// and writes bounded by the timeout.
class Transport {
  public:
    virtual ~Transport() = default;
    enum class ReadStatus { Data, Eof, Timeout, Error };
    struct ReadResult {
        ReadStatus status = ReadStatus::Error;
        std::size_t bytes = 0;
        std::string error;
    };
    virtual ReadResult read(char* buffer, std::size_t size) = 0;
    /// Writes everything; false on error or timeout.
    virtual bool write(std::string_view data) = 0;
    virtual void setTimeout(std::chrono::seconds timeout) = 0;
    /// Runs the server side of a TLS handshake; afterwards reads and writes are encrypted.
    virtual HandshakeResult startTls(const ServerTlsContext& context) = 0;
};

/// A Transport over a connected socket descriptor (not owned: the listener closes it).
class SocketTransport final : public Transport {
  public:
    explicit SocketTransport(int fd) : fd_(fd) {}
    ReadResult read(char* buffer, std::size_t size) override;
    bool write(std::string_view data) override;
    void setTimeout(std::chrono::seconds timeout) override;
    HandshakeResult startTls(const ServerTlsContext& context) override;

  private:
    int fd_;
    std::chrono::seconds timeout_{-1};  ///< the socket timeout last set
    SslPtr ssl_;
};

struct PeerInfo {
    std::string address;  ///< numeric, without brackets
    std::uint16_t port = 0;
    std::string localAddress;
    std::uint16_t localPort = 0;
};

/// What all sessions share; owned by the server, outlives every session.
struct SessionServices {
    std::shared_ptr<const GatewayConfig> config;
    ServerTlsContextHolder* tls = nullptr;
    Spool* spool = nullptr;
    EventBus* bus = nullptr;
    Counters* counters = nullptr;  ///< null: not counted (unit tests)
    /// Called with the queue id after a message was committed (the queue manager takes it).
    std::function<void(const std::string& queueId)> onMessageQueued;
};

enum class SessionState { Connected, Ready, Mail, Rcpt, Data, Closing };
std::string_view toString(SessionState state);

class Session {
  public:
    Session(const SessionServices& services, Transport& transport, PeerInfo peer);
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    /// Greets, serves commands until QUIT, a limit, a timeout or a lost connection. Never throws.
    void run();
    const std::string& id() const { return id_; }

  private:
    struct CommandSpec;
    static const std::vector<CommandSpec>& commandTable();

    void serve();
    void enterState(SessionState next);
    /// Queues a reply; replies are flushed before the next blocking read (RFC 2920 pipelining).
    void reply(const smtp::Reply& r);
    void replyRaw(const std::string& wire, int code);
    bool flush();
    /// Reads the next line into `next`; false when the session must end (EOF, timeout, error).
    bool readLine(smtp::LineBuffer::Next& next, std::chrono::seconds timeout);
    void refuse(const Refusal& refusal);
    void resetTransaction();

    void onHelo(const smtp::Command& c);
    void onEhlo(const smtp::Command& c);
    void onMail(const smtp::Command& c);
    void onRcpt(const smtp::Command& c);
    void onData(const smtp::Command& c);
    void onRset(const smtp::Command& c);
    void onNoop(const smtp::Command& c);
    void onQuit(const smtp::Command& c);
    void onVrfy(const smtp::Command& c);
    void onHelp(const smtp::Command& c);
    void onStartTls(const smtp::Command& c);

    std::string receivedHeader(const std::string& queueId) const;
    TlsSessionEvent event(TlsSessionEventKind kind) const;
    void publish(TlsSessionEvent e) const;
    void logTlsEstablished() const;
    /// Adds one to a counter when counters are kept.
    void count(Counters::Counter Counters::*counter, std::uint64_t n = 1) const;

    const SessionServices& services_;
    std::shared_ptr<const GatewayConfig> config_;  ///< the snapshot this session started with
    const ReceiveSettings& settings_;
    Transport& transport_;
    PeerInfo peer_;
    std::string id_;
    Poco::Logger& log_;
    std::chrono::steady_clock::time_point started_;

    SessionState state_ = SessionState::Connected;
    smtp::LineBuffer input_;
    std::string output_;
    std::string clientName_;
    bool esmtp_ = false;
    bool tlsActive_ = false;
    HandshakeResult tls_;
    std::shared_ptr<const ServerTlsContext> tlsContext_;  ///< kept alive while TLS is up
    smtp::MailParameters mail_;
    std::vector<std::string> recipients_;
    int errors_ = 0;
    int commands_ = 0;
    std::uint64_t bytesIn_ = 0;
    std::uint64_t bytesOut_ = 0;
};

/// A fresh random session id (12 hex digits).
std::string newSessionId();

}  // namespace tlsgate::gateway
